"""Fixture: a program that reports a bad config value itself."""

import sys

import pulumi

mode = pulumi.Config().require("mode")
if mode == "run":
    raise pulumi.RunError("region: 'ap-guangzhou' is not valid; allowed: ap-hongkong")
print("error: domains[0].name: 'bad..name' is not valid; allowed: a DNS name", file=sys.stderr)
sys.exit(1)
