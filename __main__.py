"""hk-mail: Hong Kong mail domains on Pulumi. The program lives in program.py (README.md)."""

from program import run

run()
