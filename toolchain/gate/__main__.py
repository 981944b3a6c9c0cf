import sys

from toolchain.gate.cli import main

sys.exit(main())
