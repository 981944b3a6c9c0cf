"""Alibaba Mail's Hong Kong (China) site: the preset carries what the vendor publishes (SMTP host
smtp.hk.aliyun.com) and nothing it does not (MX, SPF include, IMAP host: the stack gives them from
the console), in every place a suite is named: mail.suite, migration old.suite, scripts/migrate
copy. Where it keeps the mail is not published, so the pack treats it like the other hosted
suites."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "policies"))

from hkmail_policy import mail_systems

from hkmail.errors import SpecErrors
from hkmail.presets import ALIBABA_MAIL_HK_SMTP, SUITES
from hkmail.spec import read_stack
from tests.support import migration_config
from toolchain.imapconn import CopyError, parse_server

NOW = dt.datetime(2026, 12, 7, 4, tzinfo=dt.UTC)


def test_the_facts_row_says_what_is_published_with_sources_and_what_is_not() -> None:
    row = mail_systems.BY_ID["alibaba-mail-hk"]
    assert row.jurisdiction == "not-published"  # fail closed, like the other hosted suites
    assert ALIBABA_MAIL_HK_SMTP in row.fact and "updated 11 Dec 2025" in row.fact
    assert "example-of-python3-6-and-later-using-smtp" in row.fact
    assert "mail.hk.aliyun.com" in row.fact and "alimail-hk.aliyuncs.com" in row.fact
    assert "MX hosts, SPF include and IMAP/POP hosts are not published" in row.fact
    assert row.mx == () and row.spf == ()  # nothing unpublished is claimed as the site's
    preset = SUITES["alibaba-mail-hk"]
    assert preset.mx == () and preset.spf_includes == () and preset.stack_mx


def test_migration_old_suite_alibaba_mail_hk_needs_the_mx_from_the_console() -> None:
    old = {"suite": "alibaba-mail-hk", "mxTtl": 3600, "spf": {"ip4": ["192.0.2.25"]}}
    with pytest.raises(SpecErrors) as info:
        read_stack(migration_config("prepare", old=old), NOW)
    [says] = [str(e) for e in info.value.errors]
    assert "hkmail:migration.old.mx" in says and "alibaba-mail-hk publishes no MX hosts" in says
    given = {**old, "mx": [{"host": "mx1.console-given.example", "priority": 5}],
             "imap": "imap.console-given.example"}  # fmt: skip
    spec = read_stack(migration_config("prepare", old=given), NOW)
    assert spec.migration is not None
    assert spec.migration.old.suite == "alibaba-mail-hk"
    assert spec.migration.old.imap_host == "imap.console-given.example"


def test_migrate_copy_preset_alibaba_mail_hk_needs_the_console_imap_host() -> None:
    with pytest.raises(CopyError) as info:
        parse_server("alibaba-mail-hk")
    assert "alibaba-mail-hk:<host>" in str(info.value)
    assert "the vendor publishes none for its Hong Kong site" in str(info.value)
    server = parse_server("alibaba-mail-hk:imap.console-given.example")
    assert (server.host, server.port, server.security) == ("imap.console-given.example", 993, "ssl")
