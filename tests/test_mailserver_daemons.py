"""The rendered mail server, run for real: Debian's Postfix, Dovecot, OpenDKIM and nginx on
loopback, configured by exactly the files the user-data writes (one rendering, used for both).

Only the layout root (a temporary directory) and the listening ports differ from production.
The boot steps run too: the user-data's own runcmd creates the vmail user and runs
hkmail-fetch-secrets, which fetches the DKIM key, the mailbox hashes and the relay password from
a local stand-in of the Tencent metadata service and SSM.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import imaplib
import ipaddress
import json
import os
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from hkmail.mailserver import (
    Layout,
    MailServerConfig,
    Ports,
    Relay,
    Rendered,
    SecretRefs,
    render,
    user_data,
)
from hkmail.mailserver.render import QUEUE_DIR
from tests.support import free_tcp_ports, require_root, require_tool, wait_for_tcp
from tests.test_mailserver_fetch import FakeCloud, serve

pytestmark = pytest.mark.integration

DOMAIN = "hkmail.test"
HOST = "mail.hkmail.test"
SELECTOR = "hk1"
PASSWORDS = {"alice": "alice-Pa55-word", "bob": "bob-Pa55-word"}
RELAY_PASSWORD = "relay-Pa55-word"
POLICY = "version: STSv1\r\nmode: enforce\r\nmx: mail.hkmail.test\r\nmax_age: 604800\r\n"


def _self_signed(
    cert: Path, key: Path, names: tuple[str, ...] = (HOST, f"mta-sts.{DOMAIN}")
) -> None:
    pk = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = dt.datetime.now(dt.UTC)
    san = x509.SubjectAlternativeName(
        [
            *(x509.DNSName(n) for n in names),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]
    )
    c = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(pk.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(pk, hashes.SHA256())
    )
    cert.parent.mkdir(parents=True, exist_ok=True)
    cert.write_bytes(c.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        pk.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    key.chmod(0o600)


def _dkim_key() -> tuple[str, bytes]:
    pk = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = pk.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    der = pk.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem, b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


RELAY_HOST = "relay.hkmail.test"


@dataclass
class FakeRelay:
    """An SMTP relay like Tencent SES's: implicit TLS from the first byte, AUTH PLAIN/LOGIN
    required, records what Postfix sends it. Enough SMTP for Postfix's client, nothing more."""

    port: int
    context: ssl.SSLContext
    username: str
    password: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def start(self) -> FakeRelay:
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", self.port))
        self._sock.listen(5)
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, raw: socket.socket) -> None:
        try:
            raw.settimeout(10)
            conn = self.context.wrap_socket(raw, server_side=True)  # TLS before any SMTP
        except (OSError, ssl.SSLError) as exc:
            self.errors.append(f"TLS handshake: {exc}")
            raw.close()
            return
        f = conn.makefile("rwb")

        def say(line: str) -> None:
            f.write(line.encode() + b"\r\n")
            f.flush()

        msg: dict[str, Any] = {"rcpt": []}
        authed = False
        say("220 relay.hkmail.test ESMTP fake")
        try:
            while line := f.readline():
                cmd = line.decode().rstrip("\r\n")
                verb = cmd.split(" ", 1)[0].upper()
                if verb == "EHLO":
                    say("250-relay.hkmail.test")
                    say("250 AUTH PLAIN LOGIN")
                elif verb == "AUTH":
                    parts = cmd.split()
                    if parts[1].upper() == "PLAIN":
                        blob = parts[2] if len(parts) > 2 else None
                        if blob is None:
                            say("334 ")
                            blob = f.readline().decode().strip()
                        _, user, pw = base64.b64decode(blob).decode().split("\0")
                    else:  # LOGIN
                        say("334 VXNlcm5hbWU6")
                        user = base64.b64decode(f.readline().strip()).decode()
                        say("334 UGFzc3dvcmQ6")
                        pw = base64.b64decode(f.readline().strip()).decode()
                    authed = (user, pw) == (self.username, self.password)
                    say("235 2.7.0 ok" if authed else "535 5.7.8 bad credentials")
                elif verb == "MAIL":
                    if not authed:
                        say("530 5.7.0 authentication required")
                        continue
                    msg["from"] = cmd
                    say("250 2.1.0 ok")
                elif verb == "RCPT":
                    msg["rcpt"].append(cmd)
                    say("250 2.1.5 ok")
                elif verb == "DATA":
                    say("354 go ahead")
                    body = b""
                    while (chunk := f.readline()) not in (b".\r\n", b""):
                        body += chunk[1:] if chunk.startswith(b"..") else chunk
                    msg["data"] = body
                    msg["user"] = self.username if authed else None
                    self.messages.append(msg)
                    msg = {"rcpt": []}
                    say("250 2.0.0 queued")
                elif verb == "QUIT":
                    say("221 2.0.0 bye")
                    break
                elif verb in ("RSET", "NOOP"):
                    say("250 2.0.0 ok")
                else:
                    say("502 5.5.2 not implemented")
        except (OSError, ValueError) as exc:
            self.errors.append(f"session: {exc}")
        finally:
            conn.close()


@dataclass
class MailServer:
    root: Path
    rendered: Rendered
    ports: Ports
    config: MailServerConfig
    dkim_txt: bytes
    dkim_pem: str
    tls: ssl.SSLContext
    user_data: str
    relay: FakeRelay

    def p(self, path: str) -> Path:
        return Path(self.rendered.layout.p(path))

    def log(self) -> str:
        out = []
        for name in ("postfix.log", "dovecot.log", "nginx-error.log"):
            f = self.p(f"/var/log/{name}")
            if f.exists():
                out.append(f"--- {name}\n{f.read_text()[-4000:]}")
        return "\n".join(out)

    def submit(self, sender: str, to: str, subject: str, *, implicit_tls: bool = False) -> str:
        msg = EmailMessage()
        msg["From"] = f"{sender}@{DOMAIN}"
        msg["To"] = to
        msg["Subject"] = subject
        msg["Message-ID"] = f"<{uuid.uuid4()}@{DOMAIN}>"
        msg.set_content("Hong Kong resident mail.\n")
        if implicit_tls:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                "127.0.0.1", self.ports.submissions, context=self.tls, timeout=10
            )
        else:
            client = smtplib.SMTP("127.0.0.1", self.ports.submission, timeout=10)
            client.starttls(context=self.tls)
        with client:
            client.login(f"{sender}@{DOMAIN}", PASSWORDS[sender])
            client.send_message(msg)
        return str(msg["Message-ID"])

    def fetch(self, user: str, message_id: str, timeout: float = 20.0) -> bytes:
        """The raw message from the user's INBOX over IMAPS, once Postfix has delivered it."""
        deadline = time.monotonic() + timeout
        while True:
            with imaplib.IMAP4_SSL("127.0.0.1", self.ports.imaps, ssl_context=self.tls) as imap:
                imap.login(f"{user}@{DOMAIN}", PASSWORDS[user])
                imap.select("INBOX", readonly=True)
                _, data = imap.search(None, "HEADER", "Message-ID", message_id)
                nums = data[0].split()
                if nums:
                    _, parts = imap.fetch(nums[0], "(RFC822)")
                    first = parts[0]
                    assert isinstance(first, tuple)
                    return bytes(first[1])
            if time.monotonic() > deadline:
                raise AssertionError(f"{message_id} not in {user}'s INBOX\n{self.log()}")
            time.sleep(0.2)


def _run(cmd: list[str] | str, **kw: Any) -> subprocess.CompletedProcess[str]:
    shell = isinstance(cmd, str)
    return subprocess.run(
        cmd, shell=shell, capture_output=True, text=True, timeout=60, check=False, **kw
    )


def _start(cmd: list[str], log: Path) -> None:
    """Start a daemon that forks: its output goes to a file, as the forked child keeps it open."""
    with log.open("ab") as out:
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=60, check=False)
    assert proc.returncode == 0, f"{cmd} exited {proc.returncode}: {log.read_text()}"


@pytest.fixture(scope="module")
def server() -> Iterator[MailServer]:
    require_root("postfix and dovecot start as root and drop privileges")
    for binary, package in [
        ("postfix", "postfix"),
        ("dovecot", "dovecot-imapd"),
        ("doveadm", "dovecot-core"),
        ("opendkim", "opendkim"),
        ("nginx", "nginx"),
        ("openssl", "openssl"),
    ]:
        require_tool(binary, package)
    require_tool("/usr/lib/dovecot/lmtp", "dovecot-lmtpd")  # which() accepts a full path

    # Not under /tmp: OpenDKIM's RequireSafeKeys refuses a key below a world-writable directory
    # (as it should on a server); /run is root's and 0755 like /etc.
    root = Path(tempfile.mkdtemp(prefix="hkmail-mx-", dir="/run"))
    root.chmod(0o755)  # login/auth processes run as dovenull/dovecot and traverse it
    started: list[str] = []
    hosts_before: str | None = None
    ports = Ports(*free_tcp_ports(6))
    relay_port = free_tcp_ports(1)[0]
    dkim_pem, dkim_txt = _dkim_key()
    secrets = SecretRefs(
        cloud="tencentcloud",
        role_name="hkmail-mail",
        dkim_private_key="hkmail-dkim",
        mailbox_hashes="hkmail-mailboxes",
        relay_credentials="hkmail-relay",
    )
    config = MailServerConfig(
        domain=DOMAIN,
        hostname=HOST,
        dkim_selector=SELECTOR,
        admin_cidr="203.0.113.0/24",
        users=("alice", "bob"),
        mta_sts_policy=POLICY,
        secrets=secrets,
        # Not smtp.qcloudmail.com: the test's own relay, so a declaration is required.
        relay=Relay(host=RELAY_HOST, port=relay_port, cross_border_declaration="test"),
    )
    layout = Layout(root=str(root), listen="127.0.0.1")
    rendered = render(config, layout, ports)
    ud = user_data(config, rendered)
    try:
        # 1. Install the files exactly as the user-data would (the user-data *is* built from them).
        doc = yaml.safe_load(ud)
        for f in doc["write_files"]:
            path = Path(f["path"])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(f["content"].encode())  # byte-exact, as cloud-init writes it
            path.chmod(int(f["permissions"], 8))
            user, group = f["owner"].split(":")
            shutil.chown(path, user, group)
        # What the Debian packages create on a real instance.
        for d in ("/var/log", QUEUE_DIR, "/var/lib/postfix", "/var/lib/dovecot", "/run/opendkim"):
            Path(layout.p(d)).mkdir(parents=True, exist_ok=True)
        shutil.chown(layout.p("/run/opendkim"), "opendkim", "opendkim")
        shutil.chown(layout.p("/var/lib/postfix"), "postfix", "postfix")
        cert, key = Path(layout.p(config.tls_cert)), Path(layout.p(config.tls_key))
        _self_signed(cert, key)
        # The relay's certificate is verified against this bundle (smtp_tls_CAfile).
        relay_cert, relay_key = root / "relay.crt", root / "relay.key"
        _self_signed(relay_cert, relay_key, (RELAY_HOST,))
        bundle = Path(layout.p("/etc/ssl/certs/ca-certificates.crt"))
        bundle.parent.mkdir(parents=True, exist_ok=True)
        bundle.write_bytes(cert.read_bytes() + relay_cert.read_bytes())
        relay_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        relay_tls.load_cert_chain(relay_cert, relay_key)
        relay = FakeRelay(relay_port, relay_tls, f"alice@{DOMAIN}", RELAY_PASSWORD).start()
        started.append("relay")
        # Postfix resolves the relay by name (smtp_host_lookup = dns, native): a hosts entry,
        # removed again at the end. CI runs as root on a throwaway machine.
        hosts_before = _add_hosts_entry(RELAY_HOST)

        # 2. Boot: the user-data's runcmd, except what only makes sense on a real instance.
        hashes = {}
        for user, password in PASSWORDS.items():
            out = _run(["doveadm", "pw", "-s", "SHA512-CRYPT", "-p", password])
            assert out.returncode == 0, out.stderr
            hashes[user] = out.stdout.strip()
        fake = FakeCloud(
            "tencentcloud",
            "hkmail-mail",
            {
                "hkmail-dkim": dkim_pem,
                "hkmail-mailboxes": json.dumps(hashes),
                "hkmail-relay": json.dumps(
                    {"username": f"alice@{DOMAIN}", "password": RELAY_PASSWORD}
                ),
            },
        )
        with serve(fake) as base:
            env = {**os.environ, "HKMAIL_METADATA_URL": base, "HKMAIL_API_URL": base}
            for step in doc["runcmd"]:
                words = step if isinstance(step, list) else step.split()
                if words[0] in ("systemctl", "rm") or "openssl" in words:
                    continue  # services are started below; the test brings its own cert
                out = _run(step, env=env)
                assert out.returncode == 0, f"runcmd {step!r} failed: {out.stdout}{out.stderr}"
        assert fake.errors == []

        # 3. Start the daemons with the rendered configs.
        starts = root / "var/log/daemon-start.log"
        _start(["opendkim", "-x", layout.p("/etc/opendkim.conf")], starts)
        started.append("opendkim")
        wait_for_tcp(ports.milter, timeout=15.0)
        # Postfix first: it creates the queue's private/ where Dovecot puts its sockets.
        _start(["postfix", "-c", layout.p("/etc/postfix"), "start"], starts)
        started.append("postfix")
        _start(["dovecot", "-c", layout.p("/etc/dovecot/dovecot.conf")], starts)
        started.append("dovecot")
        wait_for_tcp(ports.imaps, timeout=15.0)
        nginx_conf = root / "nginx-test.conf"
        # nginx's main context is the package's; the site (server block) is the rendered one.
        nginx_conf.write_text(
            f"pid {root}/run/nginx.pid;\nerror_log {root}/var/log/nginx-error.log;\n"
            "events {}\nhttp {\n  access_log off;\n"
            f"  include {layout.p('/etc/nginx/conf.d')}/*.conf;\n}}\n"
        )
        _start(["nginx", "-c", str(nginx_conf)], starts)
        started.append("nginx")
        for port in (ports.smtp, ports.submission, ports.submissions, ports.https):
            wait_for_tcp(port, timeout=15.0)

        tls = ssl.create_default_context(cafile=str(cert))
        tls.check_hostname = False  # we connect to 127.0.0.1; the chain itself is verified
        yield MailServer(root, rendered, ports, config, dkim_txt, dkim_pem, tls, ud, relay)
    finally:
        _stop(root, layout, started)
        if hosts_before is not None:
            Path("/etc/hosts").write_text(hosts_before)
        if "relay" in started:
            relay.stop()
        if not os.environ.get("HKMAIL_KEEP_TEST_ROOT"):  # set it to read the logs afterwards
            shutil.rmtree(root, ignore_errors=True)


def _add_hosts_entry(name: str) -> str:
    hosts = Path("/etc/hosts")
    before = hosts.read_text()
    hosts.write_text(before.rstrip("\n") + f"\n127.0.0.1 {name}  # hk-mail test, removed after\n")
    return before


def _stop(root: Path, layout: Layout, started: list[str]) -> None:
    if "nginx" in started:
        _run(["nginx", "-c", str(root / "nginx-test.conf"), "-s", "stop"])
    if "postfix" in started:
        _run(["postfix", "-c", layout.p("/etc/postfix"), "stop"])
        _wait_gone(Path(layout.p(QUEUE_DIR + "/pid/master.pid")))
    if "dovecot" in started:
        _run(["doveadm", "-c", layout.p("/etc/dovecot/dovecot.conf"), "stop"])
        _wait_gone(Path(layout.p("/run/dovecot/master.pid")))
    if "opendkim" in started:
        pidfile = Path(layout.p("/run/opendkim/opendkim.pid"))
        if pidfile.exists():
            pid = int(pidfile.read_text().split()[0])
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            if not _wait_pid(pid, 3.0):  # it waits for idle milter connections; don't
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                _wait_pid(pid)


def _wait_gone(pidfile: Path, timeout: float = 10.0) -> None:
    if pidfile.exists():
        with contextlib.suppress(ValueError):
            _wait_pid(int(pidfile.read_text().split()[0]), timeout)


def _wait_pid(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


# ------------------------------------------------------------------------------------------------
# What the tests prove
# ------------------------------------------------------------------------------------------------


def _dkim_verify(raw: bytes, txt: bytes) -> bool:
    import dkim  # type: ignore[import-untyped]  # dkimpy ships no type hints

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        assert name == f"{SELECTOR}._domainkey.{DOMAIN}.".encode()
        return txt

    return bool(dkim.verify(raw, dnsfunc=dnsfunc))


def test_the_tested_files_are_the_user_data_files(server: MailServer) -> None:
    doc = yaml.safe_load(server.user_data)
    written = {f["path"]: f["content"] for f in doc["write_files"]}
    assert written == {f.path: f.content for f in server.rendered.files}
    on_disk = {path: Path(path).read_bytes().decode() for path in written}
    assert on_disk == written


def test_submission_587_is_dkim_signed_and_readable_over_imaps(server: MailServer) -> None:
    mid = server.submit("alice", f"bob@{DOMAIN}", "587 STARTTLS")
    raw = server.fetch("bob", mid)
    assert b"DKIM-Signature:" in raw
    assert f"d={DOMAIN}".encode() in raw and f"s={SELECTOR}".encode() in raw
    assert _dkim_verify(raw, server.dkim_txt), raw.decode(errors="replace")


def test_submissions_465_implicit_tls_is_dkim_signed(server: MailServer) -> None:
    mid = server.submit("bob", f"alice@{DOMAIN}", "465 implicit TLS", implicit_tls=True)
    raw = server.fetch("alice", mid)
    assert _dkim_verify(raw, server.dkim_txt)


def test_a_tampered_message_fails_dkim(server: MailServer) -> None:
    # The verification above is meaningful: the same check rejects a changed body.
    mid = server.submit("alice", f"bob@{DOMAIN}", "tamper")
    raw = server.fetch("bob", mid)
    assert not _dkim_verify(raw.replace(b"Hong Kong", b"Elsewhere"), server.dkim_txt)


def test_no_open_relay_on_port_25(server: MailServer) -> None:
    with smtplib.SMTP("127.0.0.1", server.ports.smtp, timeout=10) as c:
        c.ehlo("attacker.example.org")
        code, _ = c.mail("spammer@example.org")
        assert code == 250
        code, reply = c.rcpt("victim@example.net")
    assert 500 <= code < 600, reply
    assert b"Relay access denied" in reply


def test_port_25_does_not_offer_auth_even_over_tls(server: MailServer) -> None:
    with smtplib.SMTP("127.0.0.1", server.ports.smtp, timeout=10) as c:
        c.starttls(context=server.tls)
        c.ehlo("client.example.org")
        assert "auth" not in c.esmtp_features


def test_inbound_mail_on_25_is_delivered_and_not_signed(server: MailServer) -> None:
    msg = EmailMessage()
    msg["From"] = "someone@example.org"
    msg["To"] = f"alice@{DOMAIN}"
    msg["Subject"] = "inbound"
    msg["Message-ID"] = mid = f"<{uuid.uuid4()}@example.org>"
    msg.set_content("hello from outside\n")
    with smtplib.SMTP("127.0.0.1", server.ports.smtp, timeout=10) as c:
        c.send_message(msg)
    raw = server.fetch("alice", mid)
    # We sign only what our users submit, never what arrives from outside.
    assert b"DKIM-Signature:" not in raw


def test_unknown_local_mailbox_is_rejected(server: MailServer) -> None:
    with smtplib.SMTP("127.0.0.1", server.ports.smtp, timeout=10) as c:
        c.ehlo("client.example.org")
        c.mail("someone@example.org")
        code, _ = c.rcpt(f"nobody@{DOMAIN}")
    assert 500 <= code < 600


def test_submission_without_auth_cannot_send(server: MailServer) -> None:
    with smtplib.SMTP("127.0.0.1", server.ports.submission, timeout=10) as c:
        c.starttls(context=server.tls)
        c.ehlo("client.example.org")
        c.mail(f"alice@{DOMAIN}")
        code, _ = c.rcpt("victim@example.net")
    assert 500 <= code < 600


def test_submission_refuses_auth_before_tls(server: MailServer) -> None:
    with smtplib.SMTP("127.0.0.1", server.ports.submission, timeout=10) as c:
        c.ehlo("client.example.org")
        assert "auth" not in c.esmtp_features
        code, _ = c.mail(f"alice@{DOMAIN}")
    assert 500 <= code < 600  # smtpd_tls_security_level=encrypt: STARTTLS first


def test_wrong_password_is_refused(server: MailServer) -> None:
    with smtplib.SMTP("127.0.0.1", server.ports.submission, timeout=10) as c:
        c.starttls(context=server.tls)
        c.ehlo("client.example.org")
        c.user, c.password = f"alice@{DOMAIN}", "wrong-password"
        with pytest.raises(smtplib.SMTPAuthenticationError) as err:
            c.auth("PLAIN", c.auth_plain)  # one attempt: Dovecot delays each failure by 2 s
    assert err.value.smtp_code == 535


def test_a_user_cannot_send_as_another(server: MailServer) -> None:
    with smtplib.SMTP("127.0.0.1", server.ports.submission, timeout=10) as c:
        c.starttls(context=server.tls)
        c.login(f"alice@{DOMAIN}", PASSWORDS["alice"])
        c.mail(f"bob@{DOMAIN}")
        code, reply = c.rcpt(f"bob@{DOMAIN}")
    assert 500 <= code < 600, reply


def test_imap_without_tls_is_not_offered(server: MailServer) -> None:
    # Only the implicit-TLS listener exists; a plain IMAP greeting on it must fail.
    with pytest.raises((imaplib.IMAP4.abort, imaplib.IMAP4.error, OSError)):
        imaplib.IMAP4("127.0.0.1", server.ports.imaps, timeout=1)


def test_mta_sts_policy_is_served_over_https(server: MailServer) -> None:
    req = urllib.request.Request(
        f"https://127.0.0.1:{server.ports.https}/.well-known/mta-sts.txt",
        headers={"Host": f"mta-sts.{DOMAIN}"},
    )
    with urllib.request.urlopen(req, context=server.tls, timeout=10) as resp:
        assert resp.status == 200
        assert resp.headers.get_content_type() == "text/plain"
        assert resp.read().decode() == POLICY


def test_secrets_on_disk_have_safe_owners(server: MailServer) -> None:
    key = server.p(f"/etc/opendkim/keys/{SELECTOR}.private")
    st = key.stat()
    assert (st.st_mode & 0o777, key.owner()) == (0o600, "opendkim")
    relay = server.p("/etc/postfix/relay_password")
    assert (relay.stat().st_mode & 0o777, relay.owner()) == (0o600, "root")
    assert RELAY_PASSWORD in relay.read_text()
    # ... and none of them is in the user-data.
    assert RELAY_PASSWORD not in server.user_data
    key_lines = [ln for ln in server.dkim_pem.splitlines() if "-----" not in ln]
    assert key.read_text() == server.dkim_pem
    assert not any(ln in server.user_data for ln in key_lines)
    assert not any(pw in server.user_data for pw in PASSWORDS.values())


def test_relay_password_is_found_for_the_relayhost(server: MailServer) -> None:
    # Postfix looks the SASL password up by the relayhost string itself; ask Postfix's own postmap
    # with the rendered main.cf, so a format mismatch between main.cf and the boot script shows.
    conf = server.p("/etc/postfix")
    relayhost = _run(["postconf", "-c", str(conf), "-h", "relayhost"]).stdout.strip()
    maps = _run(["postconf", "-c", str(conf), "-h", "smtp_sasl_password_maps"]).stdout.strip()
    got = _run(["postmap", "-c", str(conf), "-q", relayhost, maps])
    assert got.returncode == 0, got.stderr
    assert got.stdout.strip() == f"alice@{DOMAIN}:{RELAY_PASSWORD}"
    assert relayhost == f"[relay.hkmail.test]:{server.config.relay.port}"


def test_outbound_mail_leaves_through_the_relay_over_implicit_tls_signed(
    server: MailServer,
) -> None:
    mid = server.submit("alice", "partner@example.net", "to the outside world")
    deadline = time.monotonic() + 20
    while not any(mid.encode() in m.get("data", b"") for m in server.relay.messages):
        assert time.monotonic() < deadline, f"not relayed: {server.relay.errors}\n{server.log()}"
        time.sleep(0.2)
    msg = next(m for m in server.relay.messages if mid.encode() in m["data"])
    # Authenticated with the credentials fetched from the secret store at boot.
    assert msg["user"] == f"alice@{DOMAIN}"
    assert msg["rcpt"] == ["RCPT TO:<partner@example.net>"]
    assert _dkim_verify(msg["data"], server.dkim_txt)
    assert server.relay.errors == []
