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
from hkmail.mailserver.render import (
    FROM_MILTER_SOCKET,
    OPENDKIM_SOCKET,
    OPENDMARC_SOCKET,
    QUEUE_DIR,
)
from tests.support import (
    FakeCloud,
    KnotServer,
    free_tcp_ports,
    require_root,
    require_tool,
    serve,
    unavailable,
    wait_for_tcp,
)

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
    acme_root: str  # PEM of the local ACME server's root, the only trust anchor of the clients
    resolver: str  # the loopback address of the test DNS (port 53), as the daemons see it
    partner_dkim_pem: str
    ns: list[str]  # command prefix: the daemons' mount namespace (test resolv.conf)
    env: dict[str, str]  # what the runcmd steps ran with (ACME trust, reload command)

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

    def postfix_reload_command(self) -> str:
        return _reload_command(self.root, self.rendered.layout)


def _run(cmd: list[str] | str, **kw: Any) -> subprocess.CompletedProcess[str]:
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


def _zone(dkim_txt: bytes, partner_txt: bytes) -> str:
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
"""


# Not under .test: OpenDKIM resolves through libunbound, which answers every .test name NXDOMAIN
# itself (RFC 6761 special-use names are among its default local zones).
PARTNER = "partner.example"
PARTNER_IP = "127.0.0.77"  # a real outside server would have its own address; loopback has many
QUARANTINE = "quarantine.test"
ATTACKER_IP = "127.0.0.66"


@pytest.fixture(scope="module")
def server() -> Iterator[MailServer]:
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
    if _run(["/usr/bin/python3", "-c", "import Milter"]).returncode != 0:
        unavailable("python3-milter not installed: apt-get install python3-milter")

    # Not under /tmp: OpenDKIM's RequireSafeKeys refuses a key below a world-writable directory
    # (as it should on a server); /run is root's and 0755 like /etc.
    root = Path(tempfile.mkdtemp(prefix="hkmail-mx-", dir="/run"))
    root.chmod(0o755)  # login/auth processes run as dovenull/dovecot and traverse it
    started: list[str] = []
    procs: list[subprocess.Popen[bytes]] = []
    ports = Ports(*free_tcp_ports(6))
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
        users=("alice", "bob"),
        mta_sts_policy=POLICY,
        secrets=secrets,
        # Not smtp.qcloudmail.com: the test's own relay, so a declaration is required.
        relay=Relay(host=RELAY_HOST, port=relay_port, cross_border_declaration="test"),
        acme_directory=f"https://127.0.0.1:{acme_port}/dir",
        # The tests log in from 127.0.0.1 many times a minute; the limit test uses its own address.
        auth_rate_limit=25,
    )
    layout = Layout(root=str(root), listen="127.0.0.1")
    rendered = render(config, layout, ports)
    ud = user_data(config, rendered)
    dns: KnotServer | None = None
    try:
        # 0. The world around the server: DNS for the test domains (a root zone, so every other
        # name is an authoritative NXDOMAIN), a relay like SES, and an ACME server (Pebble).
        dns_dir = root / "dns"
        dns_dir.mkdir()
        dns = KnotServer(dns_dir, {".": _zone(dkim_txt, partner_txt)}, port=53, address=resolver)
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
            out = _run(["doveadm", "pw", "-s", "ARGON2ID", "-p", password])
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
        starts = root / "var/log/daemon.log"
        nginx_conf = root / "nginx-test.conf"
        # nginx's main context is the package's; the sites (server blocks) are the rendered ones.
        nginx_conf.write_text(
            f"pid {root}/run/nginx.pid;\nerror_log {root}/var/log/nginx-error.log;\n"
            "events {}\nhttp {\n  access_log off;\n"
            f"  include {layout.p('/etc/nginx/conf.d')}/*.conf;\n}}\n"
        )
        with serve(fake) as base:
            env = {
                **os.environ,
                "HKMAIL_METADATA_URL": base,
                "HKMAIL_API_URL": base,
                "REQUESTS_CA_BUNDLE": str(acme_cert),  # certbot trusts the ACME server's TLS
                "HKMAIL_CERT_RELOAD": _reload_command(root, layout),
            }
            for step in doc["runcmd"]:
                words = step if isinstance(step, list) else step.split()
                if words[:2] == ["systemctl", "restart"] and words[2:] != ["nftables"]:
                    # (nftables: the metadata rule is tested in its own network namespace)
                    _start_early(words[2:], ns, root, layout, rendered, starts, procs, started)
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
                out = _run(
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
        )
    finally:
        _stop(root, layout, started)
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        if dns is not None:
            dns.stop()
        if "relay" in started:
            relay.stop()
        if not os.environ.get("HKMAIL_KEEP_TEST_ROOT"):  # set it to read the logs afterwards
            shutil.rmtree(root, ignore_errors=True)


def _unit(rendered: Rendered, name: str) -> dict[str, str]:
    text = rendered.by_path(f"/etc/systemd/system/{name}").content
    return dict(
        line.split("=", 1) for line in text.splitlines() if "=" in line and line[0] not in "#["
    )


def _start_early(
    services: list[str],
    ns: list[str],
    root: Path,
    layout: Layout,
    rendered: Rendered,
    log: Path,
    procs: list[subprocess.Popen[bytes]],
    started: list[str],
) -> None:
    for service in services:
        if service == "opendkim":
            _start([*ns, "opendkim", "-x", layout.p("/etc/opendkim.conf")], log)
            _wait_path(Path(layout.p(OPENDKIM_SOCKET)))
        elif service == "opendmarc":
            _start([*ns, "opendmarc", "-c", layout.p("/etc/opendmarc.conf")], log)
            _wait_path(Path(layout.p(OPENDMARC_SOCKET)))
        elif service == "hkmail-from-milter":
            # As its systemd unit runs it: the unit's user, umask and command line.
            unit = _unit(rendered, "hkmail-from-milter.service")
            umask = unit["UMask"]
            cmd = [
                "setpriv",
                f"--reuid={unit['User']}",
                f"--regid={unit['Group']}",
                "--clear-groups",
            ]
            out = log.open("ab")
            procs.append(
                subprocess.Popen(
                    [
                        *ns,
                        "sh",
                        "-c",
                        f'umask {umask} && exec "$@"',
                        "sh",
                        *cmd,
                        *unit["ExecStart"].split(),
                    ],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
            _wait_path(Path(layout.p(FROM_MILTER_SOCKET)))
        elif service == "nginx":
            _start([*ns, "nginx", "-c", str(root / "nginx-test.conf")], log)
            wait_for_tcp(rendered.ports.http, timeout=15.0)
        else:
            raise AssertionError(f"runcmd restarts an unknown service {service}")
        started.append(service)


def _stop(root: Path, layout: Layout, started: list[str]) -> None:
    if "nginx" in started:
        _run(["nginx", "-c", str(root / "nginx-test.conf"), "-s", "stop"])
    if "postfix" in started:
        _run(["postfix", "-c", layout.p("/etc/postfix"), "stop"])
        _wait_gone(Path(layout.p(QUEUE_DIR + "/pid/master.pid")))
    if "dovecot" in started:
        _run(["doveadm", "-c", layout.p("/etc/dovecot/dovecot.conf"), "stop"])
        _wait_gone(Path(layout.p("/run/dovecot/master.pid")))
    for name in ("opendkim", "opendmarc"):
        if name not in started:
            continue
        pidfile = Path(layout.p(f"/run/{name}/{name}.pid"))
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


# ------------------------------------------------------------------------------------------------
# Attacks, each judged by an independent tool, each next to the legitimate flow that still works
# ------------------------------------------------------------------------------------------------

TOOLS = Path(__file__).parent / "mailserver_tools"


def _swaks(server: MailServer, port: int, *args: str) -> subprocess.CompletedProcess[str]:
    """swaks against a loopback port; stdout is the whole transcript."""
    return _run(["swaks", "--server", "127.0.0.1", "--port", str(port), "--timeout", "20", *args])


def _refused(out: subprocess.CompletedProcess[str], stage: str) -> str:
    """The server's refusal at ``stage`` (swaks' exit codes: 23 MAIL, 24 RCPT, 26 end of DATA)."""
    code = {"MAIL": 23, "RCPT": 24, "DATA": 26}[stage]
    assert out.returncode == code, (
        f"expected a refusal at {stage}: rc {out.returncode}\n{out.stdout}"
    )
    # "<** " in clear, "<~* " inside TLS
    refusals = [ln for ln in out.stdout.splitlines() if ln[:5] in ("<** 5", "<~* 5")]
    assert refusals, out.stdout
    return refusals[-1]


def _queue(server: MailServer) -> list[dict[str, Any]]:
    out = _run(["postqueue", "-c", str(server.p("/etc/postfix")), "-j"])
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def test_backscatter_unknown_recipient_is_refused_at_rcpt(server: MailServer) -> None:
    # A forged sender and an unknown mailbox: refused in the SMTP dialogue, so nothing is ever
    # bounced to the forged address.
    out = _swaks(
        server, server.ports.smtp, "--local-interface", ATTACKER_IP,
        "--from", "victim@example.net", "--to", f"nobody@{DOMAIN}",
    )  # fmt: skip
    assert "550 5.1.1" in _refused(out, "RCPT")
    assert not any("victim@example.net" in str(m["rcpt"]) for m in server.relay.messages)
    assert not any("victim@example.net" in json.dumps(q) for q in _queue(server))
    # ... while a real mailbox is accepted from the same client.
    ok = _swaks(server, server.ports.smtp, "--from", "victim@example.net",
                "--to", f"alice@{DOMAIN}", "--quit-after", "RCPT")  # fmt: skip
    assert ok.returncode == 0, ok.stdout


@pytest.mark.parametrize("user", ["opendkim", "root", "postfix", "nobody"])
def test_system_mailboxes_are_refused_at_rcpt(server: MailServer, user: str) -> None:
    # user@[server-address]: the "local" address class. Nothing is delivered to /var/mail.
    out = _swaks(
        server, server.ports.smtp, "--local-interface", ATTACKER_IP,
        "--from", "victim@example.net", "--to", f"{user}@[127.0.0.1]",
    )  # fmt: skip
    assert "550 5.1.1" in _refused(out, "RCPT")


@pytest.mark.parametrize(
    "header_from",
    [
        f"bob@{DOMAIN}",
        f"postmaster@{DOMAIN}",
        f'"alice@{DOMAIN}" <ceo@{DOMAIN}>',
        f"alice@{DOMAIN}, bob@{DOMAIN}",
        f"ceo@{PARTNER}",
    ],
)
def test_submission_refuses_a_header_from_the_login_does_not_own(
    server: MailServer, header_from: str
) -> None:
    out = _swaks(
        server, server.ports.submission, "--tls", "--auth", "PLAIN",
        "--auth-user", f"alice@{DOMAIN}", "--auth-password", PASSWORDS["alice"],
        "--from", f"alice@{DOMAIN}", "--to", f"bob@{DOMAIN}",
        "--header", f"From: {header_from}",
    )  # fmt: skip
    assert "550 5.7.1 header From refused" in _refused(out, "DATA")


def test_submission_accepts_the_logins_own_header_from(server: MailServer) -> None:
    mid = f"<{uuid.uuid4()}@{DOMAIN}>"
    out = _swaks(
        server, server.ports.submissions, "--tlsc", "--auth", "PLAIN",
        "--auth-user", f"alice@{DOMAIN}", "--auth-password", PASSWORDS["alice"],
        "--from", f"alice@{DOMAIN}", "--to", f"bob@{DOMAIN}",
        "--header", f'From: "Alice Chan" <alice@{DOMAIN}>', "--header", f"Message-Id: {mid}",
    )  # fmt: skip
    assert out.returncode == 0, out.stdout
    assert _dkim_verify(server.fetch("bob", mid), server.dkim_txt)


def test_submission_refuses_a_null_sender(server: MailServer) -> None:
    with smtplib.SMTP("127.0.0.1", server.ports.submission, timeout=10) as c:
        c.starttls(context=server.tls)
        c.login(f"alice@{DOMAIN}", PASSWORDS["alice"])
        c.mail("")
        code, reply = c.rcpt(f"bob@{DOMAIN}")
    assert 500 <= code < 600 and b"null sender" in reply, reply


def test_our_own_domain_as_envelope_sender_is_refused_on_port_25(server: MailServer) -> None:
    out = _swaks(
        server, server.ports.smtp, "--local-interface", ATTACKER_IP,
        "--from", f"ceo@{DOMAIN}", "--to", f"alice@{DOMAIN}",
    )  # fmt: skip
    assert "only through authenticated submission" in _refused(out, "RCPT")


def test_our_own_domain_in_the_header_from_is_refused_by_dmarc(server: MailServer) -> None:
    # The envelope is someone else's; the From is ours: DMARC (our p=reject) refuses it.
    out = _swaks(
        server, server.ports.smtp, "--local-interface", ATTACKER_IP,
        "--from", "bounce@elsewhere.test", "--to", f"alice@{DOMAIN}",
        "--header", f"From: ceo@{DOMAIN}",
    )  # fmt: skip
    refusal = _refused(out, "DATA")
    assert "550 5.7.1" in refusal and DOMAIN in refusal


def test_spf_hard_fail_is_refused_at_rcpt(server: MailServer) -> None:
    out = _swaks(
        server, server.ports.smtp, "--local-interface", ATTACKER_IP,
        "--from", f"someone@{PARTNER}", "--to", f"alice@{DOMAIN}",
    )  # fmt: skip
    assert "SPF" in _refused(out, "RCPT")


def test_a_quarantine_policy_holds_the_message(server: MailServer) -> None:
    mid = f"<{uuid.uuid4()}@{QUARANTINE}>"
    out = _swaks(
        server, server.ports.smtp, "--local-interface", ATTACKER_IP,
        "--from", "bounce@elsewhere.test", "--to", f"alice@{DOMAIN}",
        "--header", f"From: news@{QUARANTINE}", "--header", f"Message-Id: {mid}",
    )  # fmt: skip
    assert out.returncode == 0, out.stdout  # accepted, then held: never in the mailbox
    deadline = time.monotonic() + 10
    while not [q for q in _queue(server) if q.get("queue_name") == "hold"]:
        assert time.monotonic() < deadline, f"not held: {_queue(server)}\n{server.log()}"
        time.sleep(0.2)


def test_signed_partner_mail_passes_spf_dkim_and_dmarc(server: MailServer) -> None:
    import dkim

    mid = f"<{uuid.uuid4()}@{PARTNER}>"
    msg = (
        f"From: Partner <news@{PARTNER}>\r\nTo: alice@{DOMAIN}\r\nSubject: signed\r\n"
        f"Date: {email.utils.formatdate()}\r\nMessage-ID: {mid}\r\n\r\nhello from a partner\r\n"
    ).encode()
    signed = [b"from", b"to", b"subject", b"date", b"message-id"]
    sig = dkim.sign(
        msg, b"p1", PARTNER.encode(), server.partner_dkim_pem.encode(), include_headers=signed
    )
    with smtplib.SMTP("127.0.0.1", server.ports.smtp, timeout=10,
                      source_address=(PARTNER_IP, 0)) as c:  # fmt: skip
        c.sendmail(f"news@{PARTNER}", [f"alice@{DOMAIN}"], sig + msg)
    raw = server.fetch("alice", mid)
    results = b" ".join(
        line
        for line in raw.split(b"\r\n\r\n")[0].replace(b"\r\n\t", b" ").split(b"\r\n")
        if line.lower().startswith(b"authentication-results: " + HOST.encode())
    )
    assert b"dkim=pass" in results and b"header.d=" + PARTNER.encode() in results, raw
    assert b"spf=pass smtp.mailfrom=" + PARTNER.encode() in results, raw
    assert f"dmarc=pass (p=reject dis=none) header.from={PARTNER}".encode() in results, results


def test_an_outsiders_authentication_results_are_not_trusted(server: MailServer) -> None:
    # A forged "dmarc=pass" in our name does not get our own domain's From through.
    out = _swaks(
        server, server.ports.smtp, "--local-interface", ATTACKER_IP,
        "--from", "bounce@elsewhere.test", "--to", f"alice@{DOMAIN}",
        "--header", f"From: ceo@{DOMAIN}",
        "--add-header",
        f"Authentication-Results: {HOST}; dkim=pass header.d={DOMAIN}; spf=pass "
        f"smtp.mailfrom={DOMAIN}; dmarc=pass header.from={DOMAIN}",
    )  # fmt: skip
    assert "550 5.7.1" in _refused(out, "DATA")


def test_a_forged_signing_request_from_another_user_cannot_reach_opendkim(
    server: MailServer,
) -> None:
    script = server.root / "milter_sign_request.py"
    shutil.copy(TOOLS / "milter_sign_request.py", script)
    script.chmod(0o644)
    sock = str(server.p(OPENDKIM_SOCKET))
    for user, group in (("nobody", "nogroup"), ("vmail", "vmail"), ("www-data", "www-data")):
        forged = _run(["setpriv", f"--reuid={user}", f"--regid={group}", "--init-groups",
                       "/usr/bin/python3", str(script), sock, DOMAIN])  # fmt: skip
        assert forged.returncode == 2, forged.stdout + forged.stderr
        assert "PermissionError" in forged.stdout
    # The same request from Postfix's own user gets a signature: the probe itself is sound.
    as_postfix = _run(["setpriv", "--reuid=postfix", "--regid=postfix", "--clear-groups",
                       "/usr/bin/python3", str(script), sock, DOMAIN])  # fmt: skip
    assert as_postfix.returncode == 0, as_postfix.stdout + as_postfix.stderr
    assert f"d={DOMAIN}" in as_postfix.stdout


def test_auth_is_rate_limited_per_client(server: MailServer) -> None:
    # Its own source address, so the limit does not touch the other tests' logins.
    replies = []
    limit = server.config.auth_rate_limit
    for _ in range(limit + 1):
        with smtplib.SMTP("127.0.0.1", server.ports.submission, timeout=10,
                          source_address=("127.0.0.9", 0)) as c:  # fmt: skip
            c.starttls(context=server.tls)
            c.ehlo("client.example.org")
            blob = base64.b64encode(f"\0alice@{DOMAIN}\0{PASSWORDS['alice']}".encode()).decode()
            code, reply = c.docmd("AUTH", "PLAIN " + blob)
            replies.append((code, reply))
    assert all(code == 235 for code, _ in replies[:limit]), replies
    assert replies[-1][0] in (421, 450, 454) and b"too many AUTH" in replies[-1][1], replies


def test_mail_logs_are_not_world_readable(server: MailServer) -> None:
    log = server.p("/var/log/hkmail/postfix.log")
    assert log.stat().st_size > 0
    st = log.parent.stat()
    assert (st.st_mode & 0o7777, log.parent.owner(), log.parent.group()) == (0o750, "root", "adm")
    peek = _run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "cat", str(log)])
    assert peek.returncode != 0 and "Permission denied" in peek.stderr


# ------------------------------------------------------------------------------------------------
# The certificate: issued over ACME HTTP-01 at boot, renewed with reloads
# ------------------------------------------------------------------------------------------------


def _served_cert(server: MailServer, port: int, starttls: str | None = None) -> x509.Certificate:
    ctx = ssl.create_default_context(cadata=server.acme_root)
    ctx.check_hostname = False
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        if starttls == "smtp":
            f = raw.makefile("rb")
            f.readline()
            raw.sendall(b"EHLO client.example.org\r\n")
            while not f.readline().startswith(b"250 "):
                pass
            raw.sendall(b"STARTTLS\r\n")
            assert f.readline().startswith(b"220")
        with ctx.wrap_socket(raw, server_hostname=HOST) as tls:  # verifies chain and name
            der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def _all_served(server: MailServer) -> dict[str, x509.Certificate]:
    prt = server.ports
    return {
        "smtp": _served_cert(server, prt.smtp, "smtp"),
        "submission": _served_cert(server, prt.submission, "smtp"),
        "submissions": _served_cert(server, prt.submissions),
        "imaps": _served_cert(server, prt.imaps),
        "https": _served_cert(server, prt.https),
    }


def test_every_port_serves_the_acme_issued_certificate(server: MailServer) -> None:
    served = _all_served(server)
    serials = {c.serial_number for c in served.values()}
    assert len(serials) == 1, served
    cert = next(iter(served.values()))
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(names.get_values_for_type(x509.DNSName)) == [HOST, f"mta-sts.{DOMAIN}"]
    assert cert.issuer != cert.subject  # CA-issued (chain verified against the ACME root)


def test_renewal_installs_the_new_certificate_and_reloads_every_daemon(server: MailServer) -> None:
    before = {name: c.serial_number for name, c in _all_served(server).items()}
    script = str(server.p("/usr/local/sbin/hkmail-cert"))
    out = _run([*server.ns, script, "--force-renewal"], env=server.env)
    assert out.returncode == 0, out.stdout + out.stderr
    deadline = time.monotonic() + 20
    while True:
        after = {name: c.serial_number for name, c in _all_served(server).items()}
        if all(after[n] != before[n] for n in before) and len(set(after.values())) == 1:
            break
        assert time.monotonic() < deadline, (before, after)
        time.sleep(0.5)
    key = server.p(server.config.tls_key)
    assert key.stat().st_mode & 0o777 == 0o600


def test_mta_sts_host_hides_its_version_and_sends_hsts(server: MailServer) -> None:
    req = urllib.request.Request(
        f"https://127.0.0.1:{server.ports.https}/.well-known/mta-sts.txt",
        headers={"Host": f"mta-sts.{DOMAIN}"},
    )
    with urllib.request.urlopen(req, context=server.tls, timeout=10) as resp:
        assert resp.headers["Server"] == "nginx"
        assert resp.headers["Strict-Transport-Security"] == "max-age=63072000"
    # Port 80 serves ACME challenges and otherwise redirects to https.
    plain = urllib.request.Request(
        f"http://127.0.0.1:{server.ports.http}/.well-known/mta-sts.txt",
        headers={"Host": f"mta-sts.{DOMAIN}"},
    )

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any) -> None:
            return None

    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.build_opener(NoRedirect).open(plain, timeout=10)
    assert err.value.code == 301
    assert err.value.headers["Location"] == f"https://mta-sts.{DOMAIN}/.well-known/mta-sts.txt"


# ------------------------------------------------------------------------------------------------
# testssl.sh on every TLS port: one run for all five (it is slow), shared by the tests below
# ------------------------------------------------------------------------------------------------

# Mozilla "intermediate" (guideline 5.7), IANA names: the only suites any port may offer.
INTERMEDIATE_SUITES = {
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
}
TLS_PORTS = ("smtp", "submission", "submissions", "imaps", "https")


@pytest.fixture(scope="module")
def testssl(server: MailServer) -> dict[str, list[dict[str, str]]]:
    """testssl.sh's findings per port name: protocols (-p) and every cipher per protocol (-E),
    the five ports tested in parallel in one invocation."""
    binary = require_tool("testssl", "testssl.sh")
    prt = server.ports
    targets = {
        "smtp": f"-t smtp 127.0.0.1:{prt.smtp}",
        "submission": f"-t smtp 127.0.0.1:{prt.submission}",
        "submissions": f"127.0.0.1:{prt.submissions}",
        "imaps": f"127.0.0.1:{prt.imaps}",
        "https": f"127.0.0.1:{prt.https}",
    }
    cmds = server.root / "testssl-targets.txt"
    cmds.write_text("\n".join(targets.values()) + "\n")
    report = server.root / "testssl.json"
    out = _run(
        [binary, "--quiet", "--color", "0", "--warnings", "off", "-p", "-E", "--parallel",
         "--jsonfile", str(report), "--file", str(cmds)],
        timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    by_port = {str(getattr(prt, name)): name for name in targets}
    findings: dict[str, list[dict[str, str]]] = {name: [] for name in targets}
    for item in json.loads(report.read_text()):
        if item.get("port") in by_port:
            findings[by_port[item["port"]]].append(item)
    return findings


def _offered(findings: list[dict[str, str]]) -> list[str]:
    """IANA names of the suites testssl could negotiate (the last column of its finding)."""
    return [f["finding"].split()[-1] for f in findings if f["id"].startswith("cipher-tls")]


@pytest.mark.parametrize("port", TLS_PORTS)
def test_testssl_only_tls12_and_13(testssl: dict[str, list[dict[str, str]]], port: str) -> None:
    protocols = {f["id"]: f["finding"] for f in testssl[port]}
    for old in ("SSLv2", "SSLv3", "TLS1", "TLS1_1"):
        assert protocols[old].startswith("not offered"), (old, protocols[old])
    assert protocols["TLS1_2"].startswith("offered"), protocols["TLS1_2"]
    assert protocols["TLS1_3"].startswith("offered"), protocols["TLS1_3"]


@pytest.mark.parametrize("port", TLS_PORTS)
def test_testssl_only_mozilla_intermediate_suites(
    testssl: dict[str, list[dict[str, str]]], port: str
) -> None:
    offered = _offered(testssl[port])
    assert len(offered) >= 6, testssl[port]  # the scan saw suites at all
    bad = [s for s in offered if s not in INTERMEDIATE_SUITES]
    assert bad == [], f"{port} offers {bad}"
    # The classes the audit found, named: anonymous, static RSA, CBC, Camellia, ARIA, CCM8.
    for s in offered:
        assert "anon" not in s and "NULL" not in s
        assert not s.startswith("TLS_RSA_WITH_")
        assert "CBC" not in s and "CAMELLIA" not in s and "ARIA" not in s and "CCM_8" not in s
    # Finite-field DH, where offered, is at least 2048-bit (ffdhe2048).
    for f in testssl[port]:
        if f["id"].startswith("cipher-tls") and " DH " in f" {f['finding']} ":
            assert int(f["finding"].split(" DH ")[1].split()[0]) >= 2048, f["finding"]
