"""The README's examples are what a new user copies first: each is run as written."""

from __future__ import annotations

import copy
import datetime as dt
import re
from typing import Any

import pytest
import yaml

from hkmail.spec import read_stack
from tests.conftest import stack_config
from tests.support import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def _yaml_block_with(key: str) -> dict[str, Any]:
    for block in re.findall(r"```yaml\n(.*?)```", README, re.S):
        doc = yaml.safe_load(block)
        if isinstance(doc, dict) and key in doc:
            return dict(doc[key])
    raise AssertionError(f"no ```yaml block with {key} in README.md")


@pytest.mark.parametrize(
    ("stack", "provider"),
    [("tencent-exmail", "dnspod"), ("alibaba-mail", "alidns")],
)
def test_migration_example_plans_on_the_default_free_plan(stack: str, provider: str) -> None:
    migration = _yaml_block_with("hkmail:migration")
    cfg = copy.deepcopy(stack_config(stack))
    assert cfg.get("hkmail:dnsProvider", provider) == provider
    cfg.pop("hkmail:dnsPlan", None)  # the default plan: free, floor 600
    domain = cfg["hkmail:domains"][0]
    migration["domain"] = domain["name"]
    cfg["hkmail:migration"] = migration
    if migration["old"].get("suite") == domain.get("mail", {}).get("suite"):
        migration["old"] = {"suite": "tencent-exmail", **{
            k: v for k, v in migration["old"].items() if k not in ("suite", "imap")
        }}  # fmt: skip
    spec = read_stack(cfg, now=dt.datetime(2026, 11, 27, tzinfo=dt.UTC))
    assert spec.migration is not None and spec.migration.low_ttl == 600
