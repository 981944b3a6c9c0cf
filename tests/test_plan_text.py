"""The human plan, as a person reads it in a 100-column terminal: scripts/plan on every example
stack, grouped by domain, full record values wrapped, and an "Action needed" list at the end."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

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


def _project_with(tmp_path: Path, stack: str, edit: Callable[[str], str]) -> Path:
    """A project around this repo's program with one stack: the example ``stack``, edited."""
    project = tmp_path / "project"
    (project / "stacks").mkdir(parents=True)
    doc = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    doc["main"] = str(REPO)
    doc["runtime"]["options"]["virtualenv"] = str(REPO / ".venv")
    (project / "Pulumi.yaml").write_text(yaml.safe_dump(doc))
    text = (REPO / "stacks" / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8")
    edited = edit(text)
    assert edited != text
    (project / "stacks" / f"Pulumi.{stack}.yaml").write_text(edited, encoding="utf-8")
    return project


def test_action_needed_sorts_warnings_from_records_and_lists_mta_sts_once(
    tmp_path: Path,
) -> None:
    # no mtaSts.policyHost: the records layer notes it; the hosting item says it, once
    project = _project_with(
        tmp_path,
        "alibaba-mail",
        lambda t: re.sub(r"\n        policyHost:\n(          .*\n)+", "\n", t),
    )
    out = plan("--project", str(project), "--stack", "alibaba-mail")
    assert out.returncode == 0, out.stderr
    actions = re.sub(r"\n\s+(?=\S)", " ", out.stdout.split("\nAction needed\n", 1)[1])
    assert actions.count("MTA-STS") == 1, actions
    assert "set mtaSts.policyHost to publish the mta-sts host record" in actions
    # the suite-site warning is something to check, not a record to publish
    assert "Check (pedderlaw.com.hk): the alibaba-mail MX preset is the Alibaba Mail China" in (
        actions
    )
    assert "Publish by hand" not in actions
    numbered = re.findall(r"^  (\d+)\. (\w+)", out.stdout.split("\nAction needed\n", 1)[1], re.M)
    assert [n for n, _ in numbered] == ["1", "2"] and numbered[0][1] == "Host"


def test_user_data_is_summarised_and_shown_in_full_with_verbose() -> None:
    import hashlib
    import json

    text = _text("private-tencent")
    assert len(text.splitlines()) < 400, len(text.splitlines())
    doc = json.loads(plan("--stack", "private-tencent", "--format", "json").stdout)
    [user_data] = [r["inputs"]["userDataRaw"] for r in doc["resources"]
                   if "userDataRaw" in r["inputs"]]  # fmt: skip
    joined = re.sub(r"\n\s+(?=\S)", " ", text)
    digest = hashlib.sha256(user_data.encode()).hexdigest()
    assert f"sha256:{digest} (in full: --verbose or --format json)" in joined.replace(
        "sha256: ", "sha256:"
    )
    ud = yaml.safe_load(user_data)  # the counts are the document's own
    files, packages = len(ud["write_files"]), len(ud["packages"])
    assert f"files written ({files}): /etc/postfix/main.cf, /etc/postfix/master.cf," in joined
    assert f"packages ({packages}): postfix, libsasl2-modules," in joined
    # the units the runcmd enables, whichever the server has today; Postfix and Dovecot wait
    # for the first certificate (README, Private deployment)
    enabled = re.search(r"services enabled: (.*?) services disabled: (.*?) commands", joined)
    assert enabled is not None, joined
    assert {"nftables", "opendkim", "opendmarc", "nginx"} <= set(enabled.group(1).split(", "))
    assert enabled.group(2) == "postfix, dovecot"
    assert "smtpd_recipient_restrictions" not in text  # the file itself is not printed
    full = plan("--stack", "private-tencent", "--verbose")
    assert full.returncode == 0 and "smtpd_recipient_restrictions" in full.stdout
    assert len(full.stdout.splitlines()) > 1000
