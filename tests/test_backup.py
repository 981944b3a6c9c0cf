"""The nightly backup: the rendered hkmail-backup runs the real restic against moto's S3 server on
loopback (the archive bucket, versioned with a COMPLIANCE lock as the journal's), with the role's
temporary key from a fake metadata service and the repository password that the rendered boot
fetch (hkmail-fetch-secrets) wrote from the fake secret store. A Maildir is backed up twice
(incremental), deleted, restored and compared byte for byte with its mtimes; the bucket holds only
ciphertext."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import shutil
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hkmail.mailserver import backup
from hkmail.mailserver.backup import BACKUP_CONF, BACKUP_RUN
from hkmail.mailserver.journal import JOURNAL_SPOOL
from hkmail.mailserver.model import MailServerConfig, SecretRefs
from hkmail.mailserver.render import FETCH_SCRIPT, SECRETS_CONF, Layout, render
from hkmail.mailserver.s3 import S3
from tests.archive_support import LoopbackStore
from tests.support import (
    HASHES,
    RELAY_PASSWORD,
    FakeCloud,
    free_tcp_ports,
    require_root,
    require_tool,
    serve,
)
from toolchain import archive

pytestmark = pytest.mark.integration

BUCKET = "hkmail-backup-test"
PASSWORD = "restic-repo-Pa55-word-7f3a"
BACKUP_SECRET = "hkmail-backup"
MARKER = b"PLAINTEXT-MARKER-3b9d"
# The fake secret store: every secret the rendered boot fetch reads.
DKIM_PEM = "-----BEGIN PRIVATE KEY-----\nMIIBVAIBADANBgkqhkiG9w0B\n-----END PRIVATE KEY-----\n"
BOOT_SECRETS = {
    "hkmail-dkim": DKIM_PEM,
    "hkmail-mailboxes": json.dumps({"alice": HASHES["alice"]}),
    "hkmail-relay": json.dumps({"username": "noreply@example.com", "password": RELAY_PASSWORD}),
    BACKUP_SECRET: PASSWORD,
}


def _config() -> MailServerConfig:
    return MailServerConfig(
        domain="example.com",
        hostname="mail.example.com",
        dkim_selector="hk1",
        admin_cidr="203.0.113.0/24",
        users=("alice",),
        mta_sts_policy="version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmax_age: 1\r\n",
        secrets=SecretRefs(
            cloud="tencentcloud",
            role_name="hkmail-mail",
            dkim_private_key="hkmail-dkim",
            mailbox_hashes="hkmail-mailboxes",
            relay_credentials="hkmail-relay",
            backup_password=BACKUP_SECRET,
        ),
        archive_bucket=BUCKET,
    )


@dataclass
class Env:
    root: Path
    lay: Layout
    store: LoopbackStore
    metadata: str

    def run(self, *extra: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "HKMAIL_S3_URL": self.store.url, "HKMAIL_METADATA_URL": self.metadata}
        cmd = ["/usr/bin/python3", self.lay.p(backup.BACKUP_RUN), self.lay.p(backup.BACKUP_CONF)]
        return subprocess.run(
            [*cmd, *extra], env=env, capture_output=True, text=True, timeout=300, check=False
        )


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    require_tool("restic", "restic")
    root = tmp_path_factory.mktemp("backup")
    lay = Layout(root=str(root))
    require_root("the boot fetch chowns the secrets it writes")
    root = tmp_path_factory.mktemp("backup")
    lay = Layout(root=str(root))
    # The backup's files and the boot fetch with its settings, as the user-data installs them.
    wanted = {lay.p(x) for x in (BACKUP_RUN, BACKUP_CONF, SECRETS_CONF, FETCH_SCRIPT)}
    for f in render(_config(), lay).files:
        if f.path in wanted:
            Path(f.path).parent.mkdir(parents=True, exist_ok=True)
            Path(f.path).write_text(f.content)
            Path(f.path).chmod(f.mode)
    store = LoopbackStore(free_tcp_ports(1)[0]).start()
    try:
        store.create_archive_bucket(BUCKET)
        with serve(FakeCloud("tencentcloud", "hkmail-mail", BOOT_SECRETS)) as base:
            # Boot: the rendered hkmail-fetch-secrets writes the password from the store.
            fetched = subprocess.run(
                ["/usr/bin/python3", lay.p(FETCH_SCRIPT), lay.p(SECRETS_CONF)],
                env={**os.environ, "HKMAIL_METADATA_URL": base, "HKMAIL_API_URL": base},
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert fetched.returncode == 0, fetched.stdout + fetched.stderr
            assert PASSWORD not in fetched.stdout + fetched.stderr
            yield Env(root, lay, store, base)
    finally:
        store.stop()


def _maildir(vmail: Path) -> None:
    box = vmail / "example.com" / "alice" / "Maildir"
    for i, folder in enumerate(("", ".Sent", ".項目.2026")):
        for sub in ("cur", "new", "tmp"):
            (box / folder / sub).mkdir(parents=True, exist_ok=True)
        for n in range(20):
            msg = box / folder / "cur" / f"17000000{i}{n:02}.M{n}P1.mail:2,S"
            msg.write_bytes(b"Subject: " + MARKER + b"\r\n\r\n" + os.urandom(2000 + 97 * n))
            os.utime(msg, (1_700_000_000 + n, 1_700_000_000 + n))
    spool = Path(str(vmail) + JOURNAL_SPOOL.removeprefix("/var/vmail")) / "new"
    spool.mkdir(parents=True, exist_ok=True)
    (spool / "spooled.eml").write_bytes(b"already journaled")


def _tree(top: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(top)): (p.read_bytes(), int(p.stat().st_mtime))
        for p in sorted(top.rglob("*"))
        if p.is_file()
    }


def test_the_boot_fetch_writes_the_repository_password_root_only(env: Env) -> None:
    password = Path(env.lay.p(backup.BACKUP_PASSWORD))
    assert password.read_text() == PASSWORD + "\n"
    st = password.stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o600, 0, 0)
    settings = json.loads(Path(env.lay.p(BACKUP_CONF)).read_text())
    assert settings["password_file"] == str(password)


def test_a_maildir_is_backed_up_incrementally_deleted_and_restored(env: Env) -> None:
    vmail = Path(env.lay.p("/var/vmail"))
    _maildir(vmail)
    first = env.run()
    assert first.returncode == 0, first.stdout + first.stderr
    box = vmail / "example.com" / "alice" / "Maildir"
    extra = box / "new" / "1700000999.M1P1.mail"
    extra.write_bytes(b"Subject: late\r\n\r\nlate\r\n")
    second = env.run()
    assert second.returncode == 0, second.stdout + second.stderr
    for out in (first, second):
        assert PASSWORD not in out.stdout + out.stderr
        assert "temporary-secret" not in out.stdout + out.stderr
    # Incremental: the second night reads only the new message; the retention (one a day) keeps
    # the newest of the day's two snapshots.
    assert re.search(r"Files:\s+1 new,\s+0 changed,\s+60 unmodified", second.stdout), second.stdout
    keys = env.store.keys(BUCKET, backup.BACKUP_PREFIX)
    assert len([k for k in keys if k.startswith("backup/snapshots/")]) == 1
    # What scripts/archive health --backup-bucket reports (for the evidence report): the
    # snapshot count and the newest snapshot's time, from the bucket, with no password.
    store = S3(
        endpoint=env.store.url,
        region="ap-hongkong",
        bucket=BUCKET,
        credentials=lambda: ("AKIDadmin", "admin-secret", None),
        path_style=True,
    )
    seen = archive.backup_health(store)
    assert (seen["bucket"], seen["snapshots"]) == (BUCKET, 1), seen
    newest = dt.datetime.fromisoformat(seen["newestSnapshotAt"])
    assert abs((dt.datetime.now(dt.UTC) - newest).total_seconds()) < 600, seen
    assert all(k.startswith("backup/") for k in keys)
    s3 = env.store.client()
    for k in keys:  # encrypted: no message text in any object
        assert MARKER not in s3.get_object(Bucket=BUCKET, Key=k)["Body"].read()
    want = _tree(vmail / "example.com")
    shutil.rmtree(vmail / "example.com")
    target = env.root / "restored"
    done = env.run("--restore", str(target))
    assert done.returncode == 0, done.stdout + done.stderr
    restored = target / str(vmail).lstrip("/")
    assert _tree(restored / "example.com") == want
    # The journal spool is not backed up twice: it is in the bucket under journal/ already.
    assert not any(".hkmail-journal" in p.name for p in restored.rglob("*"))


def test_the_backup_files_are_rendered_only_with_an_archive_bucket() -> None:
    with_bucket = {f.path for f in render(_config()).files}
    assert {"/etc/systemd/system/hkmail-backup.timer", backup.BACKUP_RUN} <= with_bucket
    conf = next(f for f in render(_config()).files if f.path == backup.BACKUP_CONF)
    settings = json.loads(conf.content)
    assert settings["prefix"] == "backup/" and settings["keep"] == dict(backup.BACKUP_KEEP)
    assert PASSWORD not in conf.content
    without = {f.path for f in render(dataclasses.replace(_config(), archive_bucket=None)).files}
    assert not any("backup" in p for p in without)


def test_without_the_repository_password_nothing_is_backed_up_and_the_file_is_named(
    env: Env,
) -> None:
    password = Path(env.lay.p(backup.BACKUP_PASSWORD))
    before = env.store.keys(BUCKET, backup.BACKUP_PREFIX)
    password.rename(password.with_suffix(".away"))
    try:
        out = env.run()
    finally:
        password.with_suffix(".away").rename(password)
    assert out.returncode == 2
    assert f"ALARM no repository password in {password} (password_file)" in out.stderr
    assert "Traceback" not in out.stderr
    assert env.store.keys(BUCKET, backup.BACKUP_PREFIX) == before
