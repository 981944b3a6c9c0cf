"""hk-mail: Hong Kong mail domains on Pulumi. The program lives in hkmail.program (README.md)."""

from hkmail.program import run

run()
