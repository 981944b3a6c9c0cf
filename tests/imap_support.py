"""Real Dovecot IMAP servers on loopback and a generated mail corpus, for the mailbox-copy tests
and benchmark.

The corpus is written as Maildir++ (what Dovecot serves): thousands of messages across nested,
non-ASCII folders (names in modified UTF-7 on disk, as Dovecot stores them), attachments of
several MB, duplicates, messages without a Message-ID, flags, keywords and internal dates (the
files' mtimes). It is built once per session and copied into each old server.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import os
import random
import shutil
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from email.utils import format_datetime
from pathlib import Path

from imapclient import imap_utf7  # type: ignore[import-untyped]

from tests.support import free_tcp_ports, make_test_ca, require_root, require_tool, wait_for_tcp

# Old-system folders as Tencent Exmail / Alibaba Mail show them, nested with ".".
FOLDER_SIZES: Mapping[str, int] = {
    "INBOX": 700,
    "已发送": 350,
    "草稿箱": 25,
    "垃圾邮件": 60,
    "已删除": 80,
    "项目": 40,
    "项目.2024": 300,
    "项目.2024.客户 A&B": 180,
    "Archive.2019": 200,
}
USERS = {"alice": 1.0, "bob": 0.3}  # share of FOLDER_SIZES each user gets
KEYWORD = "$Important"
BIG_ATTACHMENTS = (3_000_000, 4_000_000, 5_000_000)  # bytes of attachment data


@dataclass(frozen=True)
class CorpusMessage:
    user: str
    folder: str
    message_id: str | None
    flags: str  # maildir info letters
    internaldate: float
    size: int


@dataclass
class Corpus:
    root: Path  # root/<user>/ is a Maildir++
    messages: list[CorpusMessage] = field(default_factory=list)

    def count(self, user: str, folder: str | None = None) -> int:
        return sum(
            1 for m in self.messages if m.user == user and (folder is None or m.folder == folder)
        )

    @property
    def total_bytes(self) -> int:
        return sum(m.size for m in self.messages)


def _maildir(user_root: Path, folder: str) -> Path:
    if folder == "INBOX":
        return user_root
    encoded = imap_utf7.encode(folder).decode()
    return user_root / f".{encoded}"


def _message(
    rng: random.Random, n: int, user: str, folder: str, when: dt.datetime, mid: str | None
) -> bytes:
    subject_words = ["季度报告", "Invoice", "會議紀錄", "Shipping", "合同", "Re: 报价", "Update"]
    subject = f"{rng.choice(subject_words)} #{n}"
    headers = [
        f"From: {'陈大文' if n % 3 else 'Peter Wong'} <sender{n % 17}@partner.example>",
        f"To: {user}@harbourtrading.com.hk",
        f"Subject: =?utf-8?b?{base64.b64encode(subject.encode()).decode()}?=",
        f"Date: {format_datetime(when)}",
    ]
    if mid:
        headers.append(f"Message-ID: {mid}")
    headers += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"]
    body = "\n".join(
        f"第{i}行 line {i} of message {n} in {folder}: " + "x" * rng.randint(10, 70)
        for i in range(rng.randint(5, 40))
    )
    return ("\n".join(headers) + "\n\n" + body + "\n").encode()


def _attachment_message(
    rng: random.Random, n: int, user: str, size: int, when: dt.datetime
) -> bytes:
    data = base64.encodebytes(rng.randbytes(size)).decode()
    return (
        f"From: Scanner <scanner@harbourtrading.com.hk>\nTo: {user}@harbourtrading.com.hk\n"
        f"Subject: scan {n}\nDate: {format_datetime(when)}\n"
        f"Message-ID: <scan-{n}-{user}@harbourtrading.com.hk>\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="b1"\n\n--b1\nContent-Type: text/plain\n\n'
        "See attachment.\n--b1\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n"
        f'Content-Disposition: attachment; filename="scan{n}.pdf"\n\n{data}--b1--\n'
    ).encode()


def build_corpus(root: Path, seed: int = 11, users: Mapping[str, float] = USERS) -> Corpus:
    rng = random.Random(seed)
    corpus = Corpus(root)
    counter = 0
    base = dt.datetime(2019, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))

    def write(
        user: str, folder: str, data: bytes, flags: str, when: dt.datetime, mid: str | None
    ) -> None:
        nonlocal counter
        counter += 1
        d = _maildir(root / user, folder)
        for sub in ("cur", "new", "tmp"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        if folder != "INBOX" and not (d / "maildirfolder").exists():
            (d / "maildirfolder").touch()
            (d / "dovecot-keywords").write_text(f"0 {KEYWORD}\n")
        if folder == "INBOX" and not (d / "dovecot-keywords").exists():
            (d / "dovecot-keywords").write_text(f"0 {KEYWORD}\n")
        path = d / "cur" / f"{int(when.timestamp())}.M{counter}P1.corpus:2,{flags}"
        path.write_bytes(data)
        ts = when.timestamp()
        os.utime(path, (ts, ts))
        crlf_size = len(data) + data.count(b"\n")
        corpus.messages.append(CorpusMessage(user, folder, mid, flags, ts, crlf_size))

    for user, share in users.items():
        for folder, size in FOLDER_SIZES.items():
            for i in range(max(3, int(size * share))):
                n = counter + 1
                when = base + dt.timedelta(minutes=rng.randint(0, 6 * 365 * 24 * 60))
                mid = None if i % 53 == 7 else f"<m{n}.{user}@partner.example>"
                flags = "".join(
                    sorted(
                        (["S"] if rng.random() < 0.7 else [])
                        + (["F"] if rng.random() < 0.1 else [])
                        + (["R"] if rng.random() < 0.2 else [])
                        + (["a"] if rng.random() < 0.05 else [])
                        + (["D"] if folder == "草稿箱" else [])
                    )
                )
                data = _message(rng, n, user, folder, when, mid)
                write(user, folder, data, flags, when, mid)
                if i % 97 == 3:  # an exact duplicate in the same folder
                    write(user, folder, data, flags, when, mid)
                if folder == "INBOX" and i % 70 == 5:  # the same message filed twice
                    write(user, "Archive.2019", data, flags, when, mid)
        # two identical messages without a Message-ID: counted, and copied, twice
        when = base + dt.timedelta(days=100)
        data = _message(rng, 0, user, "INBOX", when, None)
        write(user, "INBOX", data, "S", when, None)
        write(user, "INBOX", data, "S", when, None)
    big = next(iter(users))  # the first user gets the MB-sized attachments
    for i, size in enumerate(BIG_ATTACHMENTS):
        when = base + dt.timedelta(days=1000 + i)
        folder = "INBOX" if i % 2 == 0 else "项目.2024"
        write(
            big,
            folder,
            _attachment_message(rng, i, big, size, when),
            "S",
            when,
            f"<scan-{i}-{big}@harbourtrading.com.hk>",
        )
    return corpus


# ---------------------------------------------------------------------------------------------
# Dovecot
# ---------------------------------------------------------------------------------------------


SPECIAL_MAILBOXES = """
  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Junk {
    special_use = \\Junk
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = subscribe
  }
"""


@dataclass
class Dovecot:
    """One Dovecot IMAP server (implicit TLS) on a loopback port, run as root like the package."""

    root: Path
    port: int
    users: Mapping[str, str]  # user -> password
    cert: Path
    key: Path
    separator: str = "/"
    special_use: bool = True  # our server: Sent/Drafts/Junk/Trash with RFC 6154 flags
    max_userip_connections: int = 50
    capabilities: str | None = None  # imap_capability: what the server announces after login

    @property
    def mail(self) -> Path:
        return self.root / "mail"

    def start(self) -> Dovecot:
        require_tool("dovecot", "dovecot-imapd")
        for d in ("run", "state", "mail", "home"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        passwd = self.root / "passwd"
        passwd.write_text("".join(f"{u}:{{PLAIN}}{p}\n" for u, p in self.users.items()))
        passwd.chmod(0o640)
        shutil.chown(passwd, "root", "dovecot")
        shutil.chown(self.mail, "mail", "mail")
        conf = self.root / "dovecot.conf"
        conf.write_text(
            f"""
protocols = imap
listen = 127.0.0.1
base_dir = {self.root}/run
state_dir = {self.root}/state
log_path = {self.root}/dovecot.log
ssl = required
ssl_cert = <{self.cert}
ssl_key = <{self.key}
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = 1
mail_uid = mail
mail_gid = mail
mail_location = maildir:{self.mail}/%u
# throw-away test stores: no fsync per message (the copy tests and the benchmark time the IMAP
# traffic, not this machine's disk)
mail_fsync = never
default_internal_user = dovecot
default_login_user = dovenull
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {passwd}
}}
userdb {{
  driver = static
  args = home={self.root}/home/%u
}}
namespace inbox {{
  inbox = yes
  separator = {self.separator}
{SPECIAL_MAILBOXES if self.special_use else ""}
}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {self.port}
  }}
}}
protocol imap {{
  mail_max_userip_connections = {self.max_userip_connections}
{f"  imap_capability = {self.capabilities}" if self.capabilities else ""}
}}
"""
        )
        # dovecot forks: its output goes to a file the daemon may keep open, not to a pipe
        with (self.root / "start.log").open("ab") as log:
            out = subprocess.run(
                ["dovecot", "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT, timeout=60
            )
        assert out.returncode == 0, (self.root / "start.log").read_text() + self.log()
        wait_for_tcp(self.port, timeout=15)
        return self

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        pidfile = self.root / "run" / "master.pid"
        pid = int(pidfile.read_text().split()[0]) if pidfile.exists() else None
        subprocess.run(
            ["doveadm", "-c", str(self.root / "dovecot.conf"), "stop"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        deadline = time.monotonic() + 15
        while pid is not None and time.monotonic() < deadline:
            try:
                os.kill(pid, 0)  # this server's own master process, started by start()
            except ProcessLookupError:
                break
            time.sleep(0.05)

    def load(self, corpus: Corpus, user_map: Mapping[str, str] | None = None) -> None:
        """Put a corpus into the mail store (before or while serving: Dovecot rescans Maildirs)."""
        for user in {m.user for m in corpus.messages}:
            target = self.mail / (user_map or {}).get(user, user)
            shutil.copytree(
                corpus.root / user, target, dirs_exist_ok=True, copy_function=shutil.copy2
            )
        subprocess.run(["chown", "-R", "mail:mail", str(self.mail)], check=True, timeout=60)

    def client(self, user: str, cafile: Path) -> object:
        from imapclient import IMAPClient

        c = IMAPClient(
            "127.0.0.1",
            port=self.port,
            ssl=True,
            ssl_context=ssl.create_default_context(cafile=str(cafile)),
            timeout=60,
        )
        c.login(user, self.users[user])
        return c


@contextlib.contextmanager
def dovecot_pair(
    users_old: Mapping[str, str],
    users_new: Mapping[str, str],
    new_max_userip_connections: int = 50,
    new_capabilities: str | None = None,
) -> Iterator[tuple[Dovecot, Dovecot, Path]]:
    """The old system (Exmail-like: Chinese folders, "." separator, no special-use flags) and
    the new one (our Dovecot: Sent/Drafts/Junk/Trash with special-use flags, "/" separator;
    optionally a per-user session limit, or announcing other capabilities)."""
    require_root("dovecot starts as root and drops privileges")
    require_tool("doveadm", "dovecot-core")
    # Under /run, like the daemon tests: login and auth processes must traverse the directory.
    root = Path(tempfile.mkdtemp(prefix="hkmail-imap-", dir="/run"))
    root.chmod(0o755)
    ca, cert, key = make_test_ca(root, dns_names=["localhost"], ip_addresses=["127.0.0.1"])
    key.chmod(0o600)
    p_old, p_new = free_tcp_ports(2)
    old = Dovecot(root / "old", p_old, users_old, cert, key, separator=".", special_use=False)
    new = Dovecot(
        root / "new",
        p_new,
        users_new,
        cert,
        key,
        separator="/",
        special_use=True,
        max_userip_connections=new_max_userip_connections,
        capabilities=new_capabilities,
    )
    started: list[Dovecot] = []
    try:
        for server in (old, new):
            started.append(server)  # stopped even when its start fails half-way
            server.start()
        yield old, new, ca
    finally:
        for server in started:
            server.stop()
        if not os.environ.get("HKMAIL_KEEP_TEST_ROOT"):
            shutil.rmtree(root, ignore_errors=True)
