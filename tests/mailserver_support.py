"""The rendered mail server, run for real, shared by every test module: Debian's Postfix,
Dovecot, OpenDKIM, OpenDMARC and nginx on loopback, configured by exactly the files the user-data
writes (one rendering, used for both).

Only the layout root (a temporary directory) and the listening ports differ from production.
The boot steps run too: the user-data's own runcmd creates the vmail user and runs
hkmail-fetch-secrets, which fetches the DKIM key, the mailbox hashes and the relay password from
a local stand-in of the Tencent metadata service and SSM.

tests/conftest.py starts one server set per test session (the ``mail_server`` fixture); it is
slow to start, so every module shares it.

Adding settings of your own (an archive journal, Sieve rules, ...): register an extension at
import time of your test module (or of a support module it imports). Every registered
extension is entered, in registration order, before the server is rendered, and exited after
its daemons stop:

    from tests.mailserver_support import Setup, extend

    @extend("archive")
    @contextlib.contextmanager
    def _archive(setup: Setup) -> Iterator[None]:
        store = FakeStore().start()                 # a world the server talks to
        setup.config = dataclasses.replace(setup.config, archive=...)
        setup.cloud_secrets["hkmail-archive"] = "..."    # served by the fake secret store
        setup.extras["store"] = store               # your tests read mail_server.extras["store"]
        try:
            yield
        finally:
            store.stop()

A ``Setup`` also takes extra DNS lines (``zone``), runcmd environment (``env``), steps to run
once the files are installed and before the boot (``before_boot``) and starters for services
your runcmd restarts (``services``). Extensions see each other's changes: replace, don't rebuild,
``setup.config``. Only the modules collected in a run register theirs, so a test that relies on
an extension must live in (or import) the module that registers it.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import email.utils
import imaplib
import ipaddress
import json
import os
import secrets as secrets_module
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, BinaryIO

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
from hkmail.mailserver.journal import JOURNAL_SOCKET
from hkmail.mailserver.logship_files import DROP_IN as LOGSHIP_DROP_IN
from hkmail.mailserver.render import (
    FROM_MILTER_SOCKET,
    OPENDKIM_SOCKET,
    OPENDMARC_SOCKET,
    PUBLIC_SUFFIX_LIST,
    QUEUE_DIR,
    RATELIMIT_SOCKET,
)
from tests.support import (
    FakeCloud,
    KnotServer,
    free_tcp_ports,
    host_accounts,
    require_root,
    require_tool,
    serve,
    unavailable,
    wait_for_tcp,
)

DOMAIN = "hkmail.test"
HOST = "mail.hkmail.test"
SELECTOR = "hk1"
# carol is the rate-limit tests' own login: the other tests send as alice and bob.
PASSWORDS = {"alice": "alice-Pa55-word", "bob": "bob-Pa55-word", "carol": "carol-Pa55-word"}
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
    acme_root: str  # PEM of the local ACME server's root, the only trust anchor of the clients
    resolver: str  # the loopback address of the test DNS (port 53), as the daemons see it
    partner_dkim_pem: str
    ns: list[str]  # command prefix: the daemons' mount namespace (test resolv.conf)
    env: dict[str, str]  # what the runcmd steps ran with (ACME trust, reload command)
    extras: dict[str, Any] = field(default_factory=dict)  # what extensions left (Setup.extras)

    def p(self, path: str) -> Path:
        return Path(self.rendered.layout.p(path))

    def log(self) -> str:
        out = []
        for name in ("hkmail/postfix.log", "hkmail/dovecot.log", "nginx-error.log", "daemon.log"):
            f = self.p(f"/var/log/{name}")
            if f.exists():
                out.append(f"--- {name}\n{f.read_text()[-4000:]}")
        return "\n".join(out)

    def submit(self, sender: str, to: str, subject: str, *, implicit_tls: bool = False) -> str:
        msg = EmailMessage()
        msg["From"] = f"{sender}@{DOMAIN}"
        msg["To"] = to
        msg["Subject"] = subject
        msg["Date"] = email.utils.formatdate()
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
        # One login for the whole wait: each ARGON2ID check costs ~0.3 s of a loaded CPU (the
        # daemons' CPU); NOOP makes Dovecot show what was delivered since the last command.
        with imaplib.IMAP4_SSL("127.0.0.1", self.ports.imaps, ssl_context=self.tls) as imap:
            imap.login(f"{user}@{DOMAIN}", PASSWORDS[user])
            imap.select("INBOX", readonly=True)
            while True:
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
                imap.noop()

    def postfix_reload_command(self) -> str:
        return _reload_command(self.root, self.rendered.layout)


# A service a runcmd step restarts that this module does not know how to start: given the
# daemons' namespace prefix, the rendering and the boot log, start it (as its systemd unit would)
# and return the process to stop at the end, or None for a daemon that forks and stops itself.
ServiceStarter = Callable[[list[str], Rendered, Path], "subprocess.Popen[bytes] | None"]


@dataclass
class Setup:
    """What an extension may change before the server is rendered and booted."""

    root: Path  # the layout root; put your own files beside the server's
    layout: Layout
    ports: Ports
    config: MailServerConfig
    zone: list[str] = field(default_factory=list)  # extra lines of the test DNS's root zone
    cloud_secrets: dict[str, str] = field(default_factory=dict)  # fake secret store: name -> value
    env: dict[str, str] = field(default_factory=dict)  # added to the runcmd steps' environment
    # Run once the files are installed, before the first runcmd step.
    before_boot: list[Callable[[], None]] = field(default_factory=list)
    services: dict[str, ServiceStarter] = field(default_factory=dict)  # by systemd unit name
    extras: dict[str, Any] = field(default_factory=dict)  # handed to tests as MailServer.extras


Extension = Callable[[Setup], contextlib.AbstractContextManager[object]]
_EXTENSIONS: dict[str, Extension] = {}
_STARTED = False


def extend(name: str) -> Callable[[Extension], Extension]:
    """Register ``name``'s settings for the shared server (see the module's docstring)."""

    def register(fn: Extension) -> Extension:
        if _STARTED:
            raise RuntimeError(f"extension {name!r} registered after the mail server started")
        if name in _EXTENSIONS and _EXTENSIONS[name].__qualname__ != fn.__qualname__:
            raise RuntimeError(f"two mail-server extensions are named {name!r}")
        _EXTENSIONS[name] = fn
        return fn

    return register


def run(cmd: list[str] | str, **kw: Any) -> subprocess.CompletedProcess[str]:
    shell = isinstance(cmd, str)
    return subprocess.run(
        cmd,
        shell=shell,
        capture_output=True,
        text=True,
        timeout=kw.pop("timeout", 120),
        check=False,
        **kw,
    )


def _start(cmd: list[str], log: Path) -> None:
    """Start a daemon that forks: its output goes to a file, as the forked child keeps it open."""
    with log.open("ab") as out:
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=60, check=False)
    assert proc.returncode == 0, f"{cmd} exited {proc.returncode}: {log.read_text()}"


def _wait_path(path: Path, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.05)


def _namespace(resolv_conf: Path) -> list[str]:
    """Run a command in a private mount namespace whose /etc/resolv.conf names the test DNS, so
    the daemons resolve the test's domains and nothing else on the machine notices."""
    return [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        'mount --bind "$0" /etc/resolv.conf && exec "$@"',
        str(resolv_conf),
    ]


def _reload_command(root: Path, layout: Layout) -> str:
    """What `systemctl reload-or-restart nginx postfix dovecot` does to the tests' daemons."""
    pf = layout.p("/etc/postfix")
    dc = layout.p("/etc/dovecot/dovecot.conf")
    return (
        f"nginx -c {root}/nginx-test.conf -s reload"
        f" && if postfix -c {pf} status 2>/dev/null; then postfix -c {pf} reload; fi"
        f" && if [ -e {layout.p('/run/dovecot/master.pid')} ]; then doveadm -c {dc} reload; fi"
    )


def _zone(dkim_txt: bytes, partner_txt: bytes, extra: list[str]) -> str:
    def txt(value: bytes) -> str:
        return " ".join(f'"{value[i : i + 250].decode()}"' for i in range(0, len(value), 250))

    # One root zone: every name the tests use, and an authoritative NXDOMAIN for everything else.
    return f"""\
$ORIGIN .
$TTL 60
. SOA ns. hostmaster. 1 3600 600 86400 60
. NS ns.
ns. A 127.0.0.1
{DOMAIN}. MX 10 {HOST}.
{DOMAIN}. TXT "v=spf1 mx -all"
_dmarc.{DOMAIN}. TXT "v=DMARC1; p=reject; adkim=s; aspf=s"
{SELECTOR}._domainkey.{DOMAIN}. TXT {txt(dkim_txt)}
{HOST}. A 127.0.0.1
mta-sts.{DOMAIN}. A 127.0.0.1
{RELAY_HOST}. A 127.0.0.1
{PARTNER}. TXT "v=spf1 ip4:{PARTNER_IP} -all"
_dmarc.{PARTNER}. TXT "v=DMARC1; p=reject"
p1._domainkey.{PARTNER}. TXT {txt(partner_txt)}
{QUARANTINE}. TXT "v=spf1 ip4:192.0.2.1 -all"
_dmarc.{QUARANTINE}. TXT "v=DMARC1; p=quarantine"
_dmarc.{BANK}. TXT "v=DMARC1; p=reject"
""" + "".join(f"{line}\n" for line in extra)


# Not under .test: OpenDKIM resolves through libunbound, which answers every .test name NXDOMAIN
# itself (RFC 6761 special-use names are among its default local zones).
PARTNER = "partner.example"
PARTNER_IP = "127.0.0.77"  # a real outside server would have its own address; loopback has many
QUARANTINE = "quarantine.test"
# A bank's p=reject domain under a public suffix of the real list (com.hk).
BANK = "securebank.com.hk"
ATTACKER_IP = "127.0.0.66"


@contextlib.contextmanager
def running_server() -> Iterator[MailServer]:
    """Render, install, boot and start the server with every registered extension; stop it all
    on exit. tests/conftest.py's ``mail_server`` fixture is the one caller."""
    global _STARTED
    _STARTED = True
    require_root("postfix and dovecot start as root and drop privileges")
    for binary, package in [
        ("postfix", "postfix"),
        ("dovecot", "dovecot-imapd"),
        ("doveadm", "dovecot-core"),
        ("opendkim", "opendkim"),
        ("opendmarc", "opendmarc"),
        ("policyd-spf", "postfix-policyd-spf-python"),
        ("nginx", "nginx"),
        ("openssl", "openssl"),
        ("certbot", "certbot"),
        ("pebble", "pebble"),
        ("knotd", "knot"),
        ("swaks", "swaks"),
        ("unshare", "util-linux"),
    ]:
        require_tool(binary, package)
    require_tool("/usr/lib/dovecot/lmtp", "dovecot-lmtpd")  # which() accepts a full path
    if run(["/usr/bin/python3", "-c", "import Milter"]).returncode != 0:
        unavailable("python3-milter not installed: apt-get install python3-milter")

    # Not under /tmp: OpenDKIM's RequireSafeKeys refuses a key below a world-writable directory
    # (as it should on a server); /run is root's and 0755 like /etc.
    root = Path(tempfile.mkdtemp(prefix="hkmail-mx-", dir="/run"))
    root.chmod(0o755)  # login/auth processes run as dovenull/dovecot and traverse it
    started: list[str] = []
    procs: list[subprocess.Popen[bytes]] = []
    ports = Ports(*free_tcp_ports(7))
    relay_port, acme_port, acme_mgmt, acme_tls = free_tcp_ports(4)
    # A loopback address of its own for the DNS server (port 53 is what resolv.conf can name).
    resolver = f"127.53.{secrets_module.randbelow(250) + 1}.{secrets_module.randbelow(250) + 1}"
    dkim_pem, dkim_txt = _dkim_key()
    partner_pem, partner_txt = _dkim_key()
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
        users=tuple(PASSWORDS),
        mta_sts_policy=POLICY,
        secrets=secrets,
        # Not smtp.qcloudmail.com: the test's own relay, so a declaration is required.
        relay=Relay(host=RELAY_HOST, port=relay_port, cross_border_declaration="test"),
        acme_directory=f"https://127.0.0.1:{acme_port}/dir",
        # The tests log in from 127.0.0.1 many times a minute; the limit test uses its own address.
        auth_rate_limit=25,
        # Likewise connections: many tests connect from 127.0.0.1 and ATTACKER_IP within a minute.
        connection_rate_limit=120,
        # Small enough for a test to reach; the session's other tests stay far below them.
        recipients_per_hour=30,
        messages_per_hour=40,
        # What a stack publishing rua=mailto:dmarc@ and tls-reports@ gives the server.
        report_mailboxes=("dmarc", "tls-reports"),
    )
    layout = Layout(root=str(root), listen="127.0.0.1")
    setup = Setup(root, layout, ports, config)
    dns: KnotServer | None = None
    extensions = contextlib.ExitStack()
    try:
        for extension in _EXTENSIONS.values():
            extensions.enter_context(extension(setup))
        config = setup.config
        rendered = render(config, layout, ports)
        ud = user_data(config, rendered)
        # 0. The world around the server: DNS for the test domains (a root zone, so every other
        # name is an authoritative NXDOMAIN), a relay like SES, and an ACME server (Pebble).
        dns_dir = root / "dns"
        dns_dir.mkdir()
        dns = KnotServer(
            dns_dir, {".": _zone(dkim_txt, partner_txt, setup.zone)}, port=53, address=resolver
        )
        dns.start()
        resolv_conf = root / "resolv.conf"
        resolv_conf.write_text(f"nameserver {resolver}\n")
        ns = _namespace(resolv_conf)

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
        for d in ("/var/log", QUEUE_DIR, "/var/lib/postfix", "/var/lib/dovecot"):
            Path(layout.p(d)).mkdir(parents=True, exist_ok=True)
        for d, owner in (("/run/opendkim", "opendkim"), ("/run/opendmarc", "opendmarc")):
            Path(layout.p(d)).mkdir(parents=True, exist_ok=True)
            shutil.chown(layout.p(d), owner, owner)
        shutil.chown(layout.p("/var/lib/postfix"), "postfix", "postfix")
        # Debian's public suffix list (the publicsuffix package), plus the reserved TLD of our
        # test domain, which the real list cannot name (hk is in it, for production domains).
        psl = Path(layout.p(PUBLIC_SUFFIX_LIST))
        psl.parent.mkdir(parents=True, exist_ok=True)
        real_psl = Path(PUBLIC_SUFFIX_LIST)
        if not real_psl.exists():
            unavailable("the public suffix list is missing: apt-get install publicsuffix")
        psl.write_text(real_psl.read_text() + f"\n// hk-mail tests\n{DOMAIN.rsplit('.', 1)[1]}\n")
        for step in setup.before_boot:
            step()
        # The relay's certificate is verified against this bundle (smtp_tls_CAfile).
        relay_cert, relay_key = root / "relay.crt", root / "relay.key"
        _self_signed(relay_cert, relay_key, (RELAY_HOST,))
        bundle = Path(layout.p("/etc/ssl/certs/ca-certificates.crt"))
        bundle.parent.mkdir(parents=True, exist_ok=True)
        bundle.write_bytes(relay_cert.read_bytes())
        relay_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        relay_tls.load_cert_chain(relay_cert, relay_key)
        relay = FakeRelay(relay_port, relay_tls, f"alice@{DOMAIN}", RELAY_PASSWORD).start()
        started.append("relay")

        acme_cert, acme_key = root / "acme.crt", root / "acme.key"
        _self_signed(acme_cert, acme_key, ("pebble.test",))
        pebble_conf = root / "pebble.json"
        pebble_conf.write_text(
            json.dumps(
                {
                    "pebble": {
                        "listenAddress": f"127.0.0.1:{acme_port}",
                        "managementListenAddress": f"127.0.0.1:{acme_mgmt}",
                        "certificate": str(acme_cert),
                        "privateKey": str(acme_key),
                        "httpPort": ports.http,  # HTTP-01 goes to the server's nginx
                        "tlsPort": acme_tls,
                        "ocspResponderURL": "",
                        "externalAccountBindingRequired": False,
                    }
                }
            )
        )
        pebble_env = {**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}
        pebble_log = (root / "pebble.log").open("wb")
        procs.append(
            subprocess.Popen(
                ["pebble", "-config", str(pebble_conf), "-dnsserver", f"{resolver}:53"],
                env=pebble_env,
                stdout=pebble_log,
                stderr=subprocess.STDOUT,
            )
        )
        wait_for_tcp(acme_port, timeout=15.0)
        wait_for_tcp(acme_mgmt, timeout=15.0)

        # 2. Boot: the user-data's runcmd, in order, in the daemons' namespace. systemctl steps
        # become what they do to the tests' daemons.
        hashes = {}
        for user, password in PASSWORDS.items():
            out = run(["doveadm", "pw", "-s", "ARGON2ID", "-p", password])
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
                **setup.cloud_secrets,
            },
        )
        starts = root / "var/log/daemon.log"
        nginx_conf = root / "nginx-test.conf"
        # nginx's main context is the package's; the sites (server blocks) are the rendered ones.
        nginx_conf.write_text(
            f"pid {root}/run/nginx.pid;\nerror_log {root}/var/log/nginx-error.log;\n"
            "events {}\nhttp {\n  access_log off;\n"
            f"  include {layout.p('/etc/nginx/conf.d')}/*.conf;\n}}\n"
        )
        # host_accounts: the runcmd adds system users to the machine's own /etc.
        with serve(fake) as base, host_accounts():
            env = {
                **os.environ,
                "HKMAIL_METADATA_URL": base,
                "HKMAIL_API_URL": base,
                "REQUESTS_CA_BUNDLE": str(acme_cert),  # certbot trusts the ACME server's TLS
                "HKMAIL_CERT_RELOAD": _reload_command(root, layout),
                **setup.env,
            }
            for step in doc["runcmd"]:
                words = step if isinstance(step, list) else step.split()
                if words[:2] == ["systemctl", "restart"] and words[2:] != ["nftables"]:
                    # (nftables: the metadata rule is tested in its own network namespace)
                    _start_early(words[2:], ns, root, setup, rendered, starts, procs, started)
                    continue
                if words[0] in ("systemctl", "rm"):
                    continue  # enabling units; nginx's default site is not in the test's nginx
                if isinstance(step, str) and step.startswith(
                    layout.p("/usr/local/sbin/hkmail-cert")
                ):
                    # Before the first certificate no TLS service is up at all: nothing for a
                    # client to click through. Port 80 answers (the ACME challenges need it).
                    for port in (
                        ports.smtp,
                        ports.submission,
                        ports.submissions,
                        ports.imaps,
                        ports.https,
                    ):
                        with pytest.raises(OSError):
                            socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    wait_for_tcp(ports.http, timeout=5.0)
                out = run(
                    [*ns, "sh", "-c", step] if isinstance(step, str) else [*ns, *step], env=env
                )
                assert out.returncode == 0, f"runcmd {step!r} failed: {out.stdout}{out.stderr}"
        assert fake.errors == []
        assert "hkmail: no certificate yet" not in out.stderr, (
            out.stderr + (root / "pebble.log").read_text()
        )
        cert = Path(layout.p(config.tls_cert))
        assert cert.exists(), "the boot did not obtain a certificate"

        # 3. What hkmail-cert-deploy's systemctl does: Postfix and Dovecot start now.
        # Postfix first: it creates the queue's private/ where Dovecot puts its sockets.
        _start([*ns, "postfix", "-c", layout.p("/etc/postfix"), "start"], starts)
        started.append("postfix")
        _start([*ns, "dovecot", "-c", layout.p("/etc/dovecot/dovecot.conf")], starts)
        started.append("dovecot")
        for port in (ports.smtp, ports.submission, ports.submissions, ports.imaps, ports.https):
            wait_for_tcp(port, timeout=15.0)

        with urllib.request.urlopen(
            f"https://127.0.0.1:{acme_mgmt}/roots/0",
            context=ssl.create_default_context(cafile=str(acme_cert)),
            timeout=10,
        ) as resp:
            acme_root = resp.read().decode()
        tls = ssl.create_default_context(cadata=acme_root)
        tls.check_hostname = False  # we connect to 127.0.0.1; the chain itself is verified
        yield MailServer(
            root,
            rendered,
            ports,
            config,
            dkim_txt,
            dkim_pem,
            tls,
            ud,
            relay,
            acme_root,
            resolver,
            partner_pem,
            ns,
            env,
            setup.extras,
        )
    finally:
        _stop(root, layout, started, procs)
        if dns is not None:
            dns.stop()
        if "relay" in started:
            relay.stop()
        extensions.close()
        if not os.environ.get("HKMAIL_KEEP_TEST_ROOT"):  # set it to read the logs afterwards
            shutil.rmtree(root, ignore_errors=True)


def _unit(rendered: Rendered, name: str) -> dict[str, str]:
    text = rendered.by_path(f"/etc/systemd/system/{name}").content
    return dict(
        line.split("=", 1) for line in text.splitlines() if "=" in line and line[0] not in "#["
    )


# hk-mail's own daemons, by systemd unit name: the socket that shows each is ready.
# (a port: the service listens on TCP instead).
_OWN_SERVICES: dict[str, str | None] = {
    "hkmail-from-milter": FROM_MILTER_SOCKET,
    "hkmail-ratelimit": RATELIMIT_SOCKET,
    "hkmail-authpolicy": None,
    "hkmail-journal-milter": JOURNAL_SOCKET,
}


def _start_early(
    services: list[str],
    ns: list[str],
    root: Path,
    setup: Setup,
    rendered: Rendered,
    log: Path,
    procs: list[subprocess.Popen[bytes]],
    started: list[str],
) -> None:
    layout = setup.layout
    for service in services:
        if service == "opendkim":
            _start([*ns, "opendkim", "-x", layout.p("/etc/opendkim.conf")], log)
            _wait_path(Path(layout.p(OPENDKIM_SOCKET)))
        elif service == "opendmarc":
            _start([*ns, "opendmarc", "-c", layout.p("/etc/opendmarc.conf")], log)
            _wait_path(Path(layout.p(OPENDMARC_SOCKET)))
        elif service in _OWN_SERVICES:
            # As its systemd unit runs it: the unit's user, umask and command line.
            unit = _unit(rendered, f"{service}.service")
            umask = unit["UMask"]
            cmd = [
                "setpriv",
                f"--reuid={unit['User']}",
                f"--regid={unit['Group']}",
                f"--groups={unit['SupplementaryGroups']}"
                if "SupplementaryGroups" in unit
                else "--clear-groups",
            ]
            out = log.open("ab")
            shipped = _shipped_log(rendered, service)
            proc = subprocess.Popen(
                [
                    *ns,
                    "sh",
                    "-c",
                    f'umask {umask} && exec "$@"',
                    "sh",
                    *cmd,
                    *unit["ExecStart"].split(),
                ],
                stdout=out if shipped is None else subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            if shipped is not None:
                _tee(proc, out, shipped)
            procs.append(proc)
            ready = _OWN_SERVICES[service]
            if ready is None:
                wait_for_tcp(rendered.ports.auth_policy, timeout=15.0)
            else:
                _wait_path(Path(layout.p(ready)))
        elif service == "nginx":
            _start([*ns, "nginx", "-c", str(root / "nginx-test.conf")], log)
            wait_for_tcp(rendered.ports.http, timeout=15.0)
        elif service in setup.services:
            other = setup.services[service](ns, rendered, log)
            if other is not None:
                procs.append(other)
        else:
            raise AssertionError(f"runcmd restarts an unknown service {service}")
        started.append(service)


def _shipped_log(rendered: Rendered, service: str) -> Path | None:
    """The file hkmail-logship's drop-in sends ``service``'s output to, if it has one."""
    try:
        drop_in = rendered.by_path(f"/etc/systemd/system/{service}.service.d/{LOGSHIP_DROP_IN}")
    except KeyError:
        return None
    unit = dict(line.split("=", 1) for line in drop_in.content.splitlines() if "=" in line)
    return Path(unit["StandardError"].removeprefix("append:"))


def _tee(proc: subprocess.Popen[bytes], log: BinaryIO, shipped: Path) -> None:
    """What the drop-in does (the unit's output into the shipped file), and a copy in the tests'
    daemon log, which other tests read."""

    def copy() -> None:
        assert proc.stdout is not None
        with shipped.open("ab") as f:
            for line in proc.stdout:
                for out in (f, log):
                    out.write(line)
                    out.flush()

    threading.Thread(target=copy, daemon=True).start()


def _stop(
    root: Path, layout: Layout, started: list[str], procs: list[subprocess.Popen[bytes]]
) -> None:
    """Signal every daemon first, then wait for them together: one after another, their own
    shutdowns (Dovecot's ~3 s, each Python milter's libmilter loop up to 5 s) added up to ~16 s."""
    postfix = _pid(Path(layout.p(QUEUE_DIR + "/pid/master.pid"))) if "postfix" in started else None
    dovecot = _pid(Path(layout.p("/run/dovecot/master.pid"))) if "dovecot" in started else None
    if "nginx" in started:
        run(["nginx", "-c", str(root / "nginx-test.conf"), "-s", "stop"])
    if postfix is not None:
        run(["postfix", "-c", layout.p("/etc/postfix"), "stop"])
    if dovecot is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(dovecot, signal.SIGTERM)  # what `doveadm stop` sends (and then waits for)
    masters = [pid for pid in (postfix, dovecot) if pid is not None]
    milters = [
        pid
        for name in ("opendkim", "opendmarc")
        if name in started and (pid := _pid(Path(layout.p(f"/run/{name}/{name}.pid"))))
    ]
    for pid in milters:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    for proc in procs:
        proc.terminate()
    # OpenDKIM and OpenDMARC wait for idle milter connections: 0.5 s, then they are killed.
    for pid in milters:
        if not _wait_pid(pid, 0.5):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    for pid in [*masters, *milters]:
        if not _wait_pid(pid, max(0.0, deadline - time.monotonic())):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)  # a daemon that outlives its stop holds its ports
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _pid(pidfile: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int(pidfile.read_text().split()[0])
    return None


def _wait_pid(pid: int, timeout: float = 10.0) -> bool:
    """True once ``pid`` has exited: gone, or a zombie (the daemons detach, and a container's
    PID 1 may never reap them)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return True
        if stat.rsplit(")", 1)[-1].split()[0] == "Z":
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


# ------------------------------------------------------------------------------------------------
# Helpers for the tests that attack and use the server
# ------------------------------------------------------------------------------------------------


def dkim_verify(raw: bytes, txt: bytes) -> bool:
    import dkim  # type: ignore[import-untyped]  # dkimpy ships no type hints

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        assert name == f"{SELECTOR}._domainkey.{DOMAIN}.".encode()
        return txt

    return bool(dkim.verify(raw, dnsfunc=dnsfunc))


TOOLS = Path(__file__).parent / "mailserver_tools"


def swaks(server: MailServer, port: int, *args: str) -> subprocess.CompletedProcess[str]:
    """swaks against a loopback port; stdout is the whole transcript."""
    return run(["swaks", "--server", "127.0.0.1", "--port", str(port), "--timeout", "20", *args])


def refused(out: subprocess.CompletedProcess[str], stage: str) -> str:
    """The server's refusal at ``stage`` (swaks' exit codes: 23 MAIL, 24 RCPT, 26 end of DATA)."""
    code = {"MAIL": 23, "RCPT": 24, "DATA": 26}[stage]
    assert out.returncode == code, (
        f"expected a refusal at {stage}: rc {out.returncode}\n{out.stdout}"
    )
    # "<** " in clear, "<~* " inside TLS
    refusals = [ln for ln in out.stdout.splitlines() if ln[:5] in ("<** 5", "<~* 5")]
    assert refusals, out.stdout
    return refusals[-1]


def queue(server: MailServer) -> list[dict[str, Any]]:
    out = run(["postqueue", "-c", str(server.p("/etc/postfix")), "-j"])
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
