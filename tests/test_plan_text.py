"""The human plan, as a person reads it in a 100-column terminal: scripts/plan on every example
stack, grouped by domain, full record values wrapped, and an "Action needed" list at the end."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.support import REPO
from tests.test_plan_cli import plan

STACKS = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in (REPO / "stacks").glob("*.yaml"))


def _text(stack: str) -> str:
    out = plan("--stack", stack)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize("stack", STACKS)
def test_fits_100_columns_grouped_by_domain_with_full_values(stack: str) -> None:
    text = _text(stack)
    assert max(len(line) for line in text.splitlines()) <= 100
    config = yaml.safe_load((REPO / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
    for domain in config["hkmail:domains"]:
        assert f"\nDomain {domain['name']}\n" in text
        for key in domain.get("dkim", []):
            # the whole key, wrapped over several lines but never cut
            assert key["publicKey"] in re.sub(r"\n\s+", "", text)
    assert "…" not in text


def test_action_needed_mta_sts_policy_to_host() -> None:
    text = _text("tencent-ses")
    actions = text.split("\nAction needed\n", 1)[1]
    joined = re.sub(r"\n\s+(?=\S)", " ", actions)
    assert "1. Host the MTA-STS policy of lantauretail.hk at https://mta-sts.lantauretail.hk" in (
        joined
    )
    assert "      mx: mx2.lantauretail.hk" in actions


def test_action_needed_records_to_publish_by_hand() -> None:
    actions = _text("alibaba-directmail").split("\nAction needed\n", 1)[1]
    assert (
        "Publish by hand (kowloonbazaar.hk): DirectMail (ap-southeast-1) shows the ownership"
        in (re.sub(r"\n\s+", " ", actions))
    )
    assert "Keep on file (cross-border transfer): CROSS-BORDER:" in re.sub(r"\n\s+", " ", actions)


def test_action_needed_ptr_to_request() -> None:
    actions = _text("private-tencent").split("\nAction needed\n", 1)[1]
    assert "Request the PTR record from the cloud provider" in actions
    assert "PTR mail.centralclinic.hk." in actions
    # the server serves its own MTA-STS policy: nothing to host by hand
    assert "MTA-STS" not in actions
