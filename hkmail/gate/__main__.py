import sys

from hkmail.gate.cli import main

sys.exit(main())
