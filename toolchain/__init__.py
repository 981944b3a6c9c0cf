"""Offline Pulumi toolchain: run a program under mocks (engine), judge it with a policy pack
over the analyzer protocol (gate), and the hk-mail CLIs built on them (plan, zone export).
Imports the mail library (components/hkmail) one way only; the library knows nothing of it."""
