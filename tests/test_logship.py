"""hkmail-logship: its requests judged by the log stores' own SDKs, and the shipper against a
fake store on loopback that checks every signature and decodes every batch.

Independent judges: aliyun-log-python-sdk decodes the SLS body with its own protobuf classes and
signs the same request with its own ``AuthV1``; tencentcloud-sdk-python signs the CLS request
with its own client (``call_octet_stream``'s path), and the CLS body is decoded with protobuf
classes built from the cls.proto of Tencent's UploadLog documentation.
"""

from __future__ import annotations

import email.utils
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hkmail.errors import SpecErrors
from hkmail.mailserver import logship, logship_files
from hkmail.mailserver.model import MailServerConfig, SecretRefs
from tests.logship_support import (
    FakeCLS,
    FakeSLS,
    decode_cls,
    fields_of,
    sdk_cls_headers,
    sdk_sls_authorization,
)
from tests.support import METADATA_PROBE, host_accounts, require_root, require_tool

CREDS = ("STS.key-id", "role-secret-7", "sts-token-abc")
TOPIC = "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
ENTRIES: list[logship.Entry] = [
    (
        1_765_000_000,
        [
            ("source", "authpolicy"),
            ("host", "mail.example.hk"),
            ("severity", "alarm"),
            ("message", "hkmail-authpolicy: BLOCK remote=192.0.2.7 failures=20 window=600s"),
        ],
    ),
    (1_765_000_001, [("source", "journal-upload"), ("message", "中文 line ✓")]),
]


# -- SLS ----------------------------------------------------------------------------------------


def test_sls_body_is_a_log_group_aliyun_sdk_decodes() -> None:
    from aliyun.log.log_logs_raw_pb2 import LogGroupRaw

    group = LogGroupRaw()
    group.ParseFromString(logship.sls_log_group(ENTRIES, "hkmail", "mail.example.hk"))
    assert group.Topic == "hkmail" and group.Source == "mail.example.hk"
    assert [(log.Time, fields_of(log)) for log in group.Logs] == ENTRIES


def test_sls_signature_matches_aliyun_sdk() -> None:
    body = logship.sls_log_group(ENTRIES, "hkmail", "h")
    resource = "/logstores/server/shards/lb"
    date = email.utils.formatdate(usegmt=True)
    h = logship.sls_headers(CREDS, "p-mail", "cn-hongkong.log.aliyuncs.com", resource, body, date)
    assert h["x-acs-security-token"] == CREDS[2]
    assert h["Authorization"].startswith("LOG STS.key-id:")
    assert h["Authorization"] == sdk_sls_authorization(h, resource, body, CREDS)
    # The signature covers the body: another body, another signature.
    other = logship.sls_headers(
        CREDS, "p-mail", "cn-hongkong.log.aliyuncs.com", resource, body + b"x", date
    )
    assert other["Authorization"] != h["Authorization"]


# -- CLS ----------------------------------------------------------------------------------------


def test_cls_body_is_the_documented_log_group_list() -> None:
    body = logship.cls_log_group_list(ENTRIES, "hkmail", "mail.example.hk")
    assert decode_cls(body) == [(t * 1000, f) for t, f in ENTRIES]  # milliseconds


def test_cls_signature_matches_tencent_sdk() -> None:
    body = logship.cls_log_group_list(ENTRIES, "hkmail", "h")
    ts = int(time.time())
    host = logship_files.LOG_API_HOST["tencentcloud"]
    ours = logship.cls_headers(CREDS, host, "ap-hongkong", TOPIC, body, ts)
    theirs = sdk_cls_headers(body, TOPIC, ts, CREDS)
    for name in (
        "Authorization",
        "Content-Type",
        "Host",
        "X-TC-Action",
        "X-TC-Version",
        "X-TC-Timestamp",
        "X-TC-Region",
        "X-TC-Token",
        "X-CLS-TopicId",
    ):
        assert ours[name] == theirs[name], name


# -- the shipper against a fake store -----------------------------------------------------------


@pytest.fixture(scope="module")
def sls() -> Iterator[FakeSLS]:
    store = FakeSLS(CREDS)
    yield store
    store.stop()


def _shipper(tmp: Path, url: str) -> logship.Shipper:
    settings = {
        "cloud": "alicloud",
        "role_name": "r",
        "fetch_script": "/nonexistent",
        "cursor": str(tmp / "cursor.json"),
        "store": {
            "kind": "sls",
            "host": "cn-hongkong.log.aliyuncs.com",
            "project": "p-mail",
            "logstore": "server",
            "hostname": "mail.example.hk",
        },
        "sources": [
            {"name": "authpolicy", "path": str(tmp / "authpolicy.log"), "alarm": "BLOCK "},
            {"name": "journal-upload", "path": str(tmp / "journal.log"), "alarm": r"\bALARM\b"},
        ],
    }
    os.environ["HKMAIL_LOGSTORE_URL"] = url
    try:
        store = logship.Store(settings["store"], lambda: CREDS)  # type: ignore[arg-type]
    finally:
        del os.environ["HKMAIL_LOGSTORE_URL"]
    return logship.Shipper(settings, store)


def test_outage_restart_and_rotation_lose_and_duplicate_nothing(
    tmp_path: Path, sls: FakeSLS
) -> None:
    sls.batches.clear()
    auth, jlog = tmp_path / "authpolicy.log", tmp_path / "journal.log"
    auth.write_text("hkmail-authpolicy: BLOCK remote=192.0.2.7 failures=20 window=600s\n")
    jlog.write_text("2026-12-07T10:00:00+00:00 hkmail-journal-upload: ALARM bucket not writable")
    shipper = _shipper(tmp_path, sls.url)
    assert shipper.run_pass()
    assert not sls.refused, sls.refused
    # The journal line has no newline yet: it is still being written, so it waits.
    assert sls.messages() == ["hkmail-authpolicy: BLOCK remote=192.0.2.7 failures=20 window=600s"]
    (batch,) = sls.batches
    assert dict(batch[0][1])["severity"] == "alarm" and dict(batch[0][1])["source"] == "authpolicy"
    assert tuple(k for k, _ in batch[0][1]) == logship_files.LOG_FIELDS  # what the stores index

    # The store goes down: the lines stay behind the cursor, nothing is lost.
    sls.down = True
    with jlog.open("a") as f:
        f.write("; 3 message(s) kept in the spool\n")
    with auth.open("a") as f:
        f.write("an ordinary line\n")
    before = json.loads((tmp_path / "cursor.json").read_text())
    assert not shipper.run_pass()
    assert json.loads((tmp_path / "cursor.json").read_text()) == before
    sls.down = False

    # A restart (a new process reading the cursor) sends them once.
    shipper = _shipper(tmp_path, sls.url)
    assert shipper.run_pass()
    msgs = sls.messages()
    assert msgs[1:] == [
        "an ordinary line",
        "2026-12-07T10:00:00+00:00 hkmail-journal-upload: ALARM bucket not writable"
        "; 3 message(s) kept in the spool",
    ], msgs
    severities = [dict(f)["severity"] for b in sls.batches for _, f in b]
    assert severities == ["alarm", "info", "alarm"]
    assert shipper.run_pass() and len(sls.messages()) == 3  # nothing new, nothing resent

    # Rotation: the rest of the old file first, then the new one from its start.
    with auth.open("a") as f:
        f.write("before rotation\n")
    auth.rename(tmp_path / "authpolicy.log.1")
    auth.write_text("after rotation\n")
    shipper = _shipper(tmp_path, sls.url)
    assert shipper.run_pass()
    assert sls.messages()[3:] == ["before rotation", "after rotation"]
    # Truncated in place: read again from the start.
    auth.write_text("")
    assert shipper.run_pass()
    auth.write_text("new\n")
    assert shipper.run_pass()
    assert sls.messages()[5:] == ["new"]
    assert not sls.refused


def _logrotate(*args: str) -> str:
    out = subprocess.run(
        ["logrotate", *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0 and "error" not in out.stderr.lower(), out.stdout + out.stderr
    return out.stdout + out.stderr


def test_rendered_logrotate_rotates_and_the_shipper_loses_and_duplicates_nothing(
    tmp_path: Path, sls: FakeSLS
) -> None:
    """Debian's logrotate runs the rendered file (-d, then forced rotations) in a temp root; the
    shipper finishes each copytruncate copy, then the truncated file, even when that file has
    grown past the cursor again before the shipper's next pass."""
    require_tool("logrotate", "logrotate")

    def p(path: str) -> str:
        return str(tmp_path) + path

    logs = Path(p(logship_files.ALARM_LOG_DIR))
    logs.mkdir(parents=True)
    conf, state = tmp_path / "hkmail-alarm", str(tmp_path / "logrotate.state")
    conf.write_text(logship_files.logrotate(p))
    dry = _logrotate("-d", "-s", state, str(conf))
    assert "(14 rotations)" in dry and "does not exist -- skipping" in dry, dry  # missingok
    auth = logs / "authpolicy.log"
    auth.write_text("")
    auth.chmod(0o640)
    dry = _logrotate("-d", "-f", "-s", state, str(conf))
    assert "empty log files are not rotated" in dry and "log files >= 52428800" in dry, dry
    lines = [f"hkmail-authpolicy: BLOCK remote=192.0.2.{i} failures=20" for i in range(40)]

    def write(part: list[str]) -> None:
        with auth.open("a") as f:
            f.writelines(line + "\n" for line in part)

    sls.batches.clear()
    shipper = _shipper(logs, sls.url)
    write(lines[:3])
    assert shipper.run_pass()
    write(lines[3:5])  # not shipped yet when the rotation comes
    _logrotate("-f", "-s", state, str(conf))
    assert auth.stat().st_size == 0 and (logs / "authpolicy.log.1").read_text().count("\n") == 5
    assert (logs / "authpolicy.log.1").stat().st_mode & 0o777 == 0o640
    write(lines[5:6])
    assert shipper.run_pass()
    assert sls.messages() == lines[:6], sls.messages()

    # Rotated again; the truncated file then grows past the cursor before the next pass.
    write(lines[6:8])
    _logrotate("-f", "-s", state, str(conf))
    assert (logs / "authpolicy.log.2.gz").exists() and (logs / "authpolicy.log.1").exists()
    write(lines[8:])
    assert (
        auth.stat().st_size > json.loads((logs / "cursor.json").read_text())["authpolicy"]["offset"]
    )
    shipper = _shipper(logs, sls.url)  # a restart in between, too
    assert shipper.run_pass()
    assert sls.messages() == lines, sls.messages()
    assert not sls.refused, sls.refused


def test_cls_shipper_looks_the_topic_up_by_name_once(tmp_path: Path) -> None:
    """The topic id exists only after apply: the shipper asks DescribeTopics (judged by Tencent's
    SDK in the fake CLS) for the logset's and topic's names, then uploads with that id; a name
    that finds no topic fails the pass, and the lines wait."""
    store = FakeCLS(CREDS, TOPIC, names=("hk-mail-audit", "hk-mail-server"))
    try:
        log = tmp_path / "authpolicy.log"
        log.write_text("hkmail-authpolicy: BLOCK remote=192.0.2.9 failures=20\n")

        def shipper(topic: str) -> logship.Shipper:
            settings: dict[str, Any] = {
                "cloud": "tencentcloud",
                "cursor": str(tmp_path / "cursor.json"),
                "store": {
                    "kind": "cls",
                    "host": logship_files.LOG_API_HOST["tencentcloud"],
                    "region": "ap-hongkong",
                    "logset": "hk-mail-audit",
                    "topic": topic,
                    "hostname": "mail.example.hk",
                },
                "sources": [{"name": "authpolicy", "path": str(log), "alarm": "BLOCK "}],
            }
            os.environ["HKMAIL_LOGSTORE_URL"] = store.url
            try:
                return logship.Shipper(settings, logship.Store(settings["store"], lambda: CREDS))
            finally:
                del os.environ["HKMAIL_LOGSTORE_URL"]

        wrong = shipper("hk-mail-serv")  # a prefix: found by CLS's default fuzzy match only
        assert not wrong.run_pass() and store.lookups == 1 and not store.batches
        right = shipper("hk-mail-server")
        assert right.run_pass(), store.refused
        with log.open("a") as f:
            f.write("an ordinary line\n")
        assert right.run_pass()
        assert store.lookups == 2, store.lookups  # once per process
        assert [e["message"] for e in store.entries()] == [
            "hkmail-authpolicy: BLOCK remote=192.0.2.9 failures=20",
            "an ordinary line",
        ]
        assert not store.refused, store.refused
    finally:
        store.stop()


def test_shipper_never_raises_when_the_role_key_is_unreachable(tmp_path: Path) -> None:
    """No metadata service: the pass fails (retried later), lines stay, nothing is raised."""
    (tmp_path / "authpolicy.log").write_text("hkmail-authpolicy: BLOCK remote=x\n")
    shipper = _shipper(tmp_path, "http://127.0.0.1:9")  # nothing listens on port 9

    def no_key() -> logship.Credentials:
        raise OSError("metadata service unreachable")

    shipper.store.creds = no_key
    assert not shipper.run_pass()
    assert not (tmp_path / "cursor.json").exists()


# -- rendering ---------------------------------------------------------------------------------


def _config(cloud: str, server_log: str | None) -> MailServerConfig:
    return MailServerConfig(
        domain="example.hk",
        hostname="mail.example.hk",
        dkim_selector="hk2026",
        admin_cidr="203.0.113.0/28",
        users=("ops",),
        mta_sts_policy="version: STSv1\nmode: testing\nmx: mail.example.hk\nmax_age: 86400\n",
        secrets=SecretRefs(
            cloud=cloud,  # type: ignore[arg-type]
            role_name="hk-mail-role",
            dkim_private_key="dkim",
            mailbox_hashes="hashes",
            relay_credentials="relay",
        ),
        server_log=server_log,
    )


def test_bad_server_log_names_the_field_and_the_allowed_values() -> None:
    with pytest.raises(SpecErrors) as err:
        _config("tencentcloud", TOPIC)  # an id: the shipper is given names
    assert "serverLog" in str(err.value) and "<CLS logset name>/<topic name>" in str(err.value)
    with pytest.raises(SpecErrors) as err:
        _config("alicloud", TOPIC)
    assert "serverLog" in str(err.value) and "<SLS project>/<logstore>" in str(err.value)


@pytest.mark.parametrize(
    ("cloud", "server_log"),
    [("alicloud", "p-mail/server"), ("tencentcloud", "hk-mail-audit/hk-mail-server")],
)
def test_rendered_shipper(cloud: str, server_log: str) -> None:
    from hkmail.mailserver.cloudinit import user_data
    from hkmail.mailserver.render import render

    c = _config(cloud, server_log)
    rendered = render(c)
    conf = json.loads(rendered.by_path(logship_files.LOGSHIP_CONF).content)
    assert conf["store"]["kind"] == {"alicloud": "sls", "tencentcloud": "cls"}[cloud]
    assert [s["name"] for s in conf["sources"]] == [
        "authpolicy",
        "ratelimit",
        "journal-upload",
        "backup",
        "notify",
    ]
    unit = rendered.by_path("/etc/systemd/system/hkmail-logship.service").content
    assert "User=hkmail-logship" in unit and "ReadWritePaths=/var/vmail/.hkmail-logship" in unit
    drop_in = rendered.by_path(
        "/etc/systemd/system/hkmail-authpolicy.service.d/hkmail-logship.conf"
    ).content
    assert "StandardError=append:/var/log/hkmail-alarm/authpolicy.log" in drop_in
    nft = rendered.by_path("/etc/nftables.conf").content
    assert f"meta skuid != {{ 0, {logship_files.LOGSHIP_UID} }}" in nft
    ud = user_data(c)
    assert "hkmail-logship" in ud and "useradd --system --uid 5001" in ud
    # Without a store nothing ships and the metadata service stays root's alone.
    plain = render(_config(cloud, None))
    assert not any("logship" in f.path for f in plain.files)
    assert "meta skuid != 0 " in plain.by_path("/etc/nftables.conf").content


def test_a_taken_uid_5001_is_a_clear_boot_error(tmp_path: Path) -> None:
    """The rendered useradd line run by sh with Debian's useradd against a copy of /etc mounted
    over /etc in a mount namespace: uid 5001 free -> hkmail-logship gets it; taken by another
    user -> one error line naming the uid, its owner and the consequence."""
    require_root("a mount namespace over /etc")
    require_tool("unshare", "util-linux")
    require_tool("useradd", "passwd")
    line = logship_files.runcmd(_config("alicloud", "p-mail/server"), lambda p: p)[0]
    assert isinstance(line, str)

    def boot(etc: Path) -> subprocess.CompletedProcess[str]:
        script = f"mount --bind {etc} /etc && {{ {line}; }}; id -u hkmail-logship"
        return subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def etc_copy(name: str, owner_of_5001: str | None) -> Path:
        etc = tmp_path / name
        with host_accounts():  # not while the shared mail server's boot adds its users
            subprocess.run(["cp", "-a", "/etc", str(etc)], check=True, timeout=120)
        for db in ("passwd", "group", "shadow", "gshadow"):
            path = etc / db
            if path.exists():
                kept = [
                    x
                    for x in path.read_text().splitlines()
                    if not x.startswith("hkmail-logship:") and ":5001:" not in x
                ]
                path.write_text("\n".join(kept) + "\n")
        if owner_of_5001:
            with (etc / "passwd").open("a") as f:
                f.write(f"{owner_of_5001}:x:5001:5001::/nonexistent:/usr/sbin/nologin\n")
        return etc

    free = boot(etc_copy("etc-free", None))
    assert free.stdout.split()[-1:] == ["5001"], free.stdout + free.stderr
    assert "ERROR" not in free.stderr, free.stderr
    taken = boot(etc_copy("etc-taken", "imagebuilder"))
    assert (
        "hk-mail: ERROR: hkmail-logship needs uid 5001" in taken.stderr
        and "uid 5001 is imagebuilder" in taken.stderr
        and "will not ship" in taken.stderr
    ), taken.stdout + taken.stderr


def test_the_shipper_reaches_the_metadata_service_and_other_users_still_do_not(
    tmp_path: Path,
) -> None:
    """The rendered nftables.conf with a log store, loaded by Debian's nft in a network namespace
    of its own: root and hkmail-logship's uid reach the metadata address, nobody else."""
    require_root("nft and network namespaces")
    require_tool("nft", "nftables")
    require_tool("unshare", "util-linux")
    from hkmail.mailserver.render import render

    conf = tmp_path / "nftables.conf"
    conf.write_text(
        render(_config("alicloud", "p-mail/server")).by_path("/etc/nftables.conf").content
    )
    conf.chmod(0o644)
    tmp_path.chmod(0o755)
    out = subprocess.run(
        ["unshare", "--net", "sh", "-c", METADATA_PROBE],
        env={"ADDR": "100.100.100.200", "CONF": str(conf), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert logship_files.LOGSHIP_UID == 5001  # the probe's uid
    assert "root: role keys" in out.stdout, out.stdout
    assert "uid 5001: role keys" in out.stdout, out.stdout
    assert "nobody: ConnectionRefusedError" in out.stdout, out.stdout
    assert "www-data: ConnectionRefusedError" in out.stdout, out.stdout
