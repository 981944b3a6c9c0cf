"""Issue 22: the attacks an independent review ran against the rendered server's real daemons, each
beside the legitimate flow that must still pass (the shared ``mail_server``, see
tests/mailserver_support.py)."""

from __future__ import annotations

import base64
import contextlib
import imaplib
import shutil
import smtplib
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from email.message import EmailMessage
from typing import Any

import pytest

from tests.mailserver_support import (
    ATTACKER_IP,
    BANK,
    DOMAIN,
    PASSWORDS,
    TOOLS,
    MailServer,
    dkim_verify,
    refused,
    run,
    swaks,
)

pytestmark = pytest.mark.integration


def _imap_ids(server: MailServer, user: str, message_id: str) -> int:
    """How many messages in the user's INBOX carry ``message_id`` as their Message-ID header."""
    with imaplib.IMAP4_SSL("127.0.0.1", server.ports.imaps, ssl_context=server.tls) as imap:
        imap.login(f"{user}@{DOMAIN}", PASSWORDS[user])
        imap.select("INBOX", readonly=True)
        _, data = imap.search(None, "HEADER", "Message-ID", message_id)
        return len(data[0].split())


def _smtp_dialogue(port: int, steps: list[bytes], source: str = "127.0.0.1") -> str:
    """Send each step, reading the reply (all its lines) before the next; the transcript."""
    with socket.create_connection(("127.0.0.1", port), timeout=20, source_address=(source, 0)) as s:
        f = s.makefile("rb")
        out = f.readline()
        for step in steps:
            s.sendall(step)
            while (line := f.readline()) and line[3:4] == b"-":
                out += line
            out += line
        return out.decode(errors="replace")


# -- 1. SMTP smuggling -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ending", [b"\n.\r\n", b"\n.\n", b"\r\n.\n"], ids=["LF.CRLF", "LF.LF", "CRLF.LF"]
)
def test_a_non_standard_end_of_data_does_not_smuggle_a_second_message(
    mail_server: MailServer, ending: bytes
) -> None:
    first, smuggled = f"<{uuid.uuid4()}@example.org>", f"<{uuid.uuid4()}@example.net>"
    content = (
        f"From: someone@example.org\r\nTo: alice@{DOMAIN}\r\nSubject: first\r\n"
        f"Message-ID: {first}\r\n\r\nhello".encode()
        + ending
        + f"MAIL FROM:<boss@example.net>\r\nRCPT TO:<alice@{DOMAIN}>\r\nDATA\r\n"
        f"From: boss@example.net\r\nTo: alice@{DOMAIN}\r\nSubject: smuggled\r\n"
        f"Message-ID: {smuggled}\r\n\r\npay the invoice\r\n.\r\n".encode()
    )
    out = _smtp_dialogue(
        mail_server.ports.smtp,
        [b"EHLO client.example.org\r\n", b"MAIL FROM:<someone@example.org>\r\n",
         f"RCPT TO:<alice@{DOMAIN}>\r\n".encode(), b"DATA\r\n", content, b"QUIT\r\n"],
    )  # fmt: skip
    # One message accepted: the smuggled commands were message text, not SMTP.
    assert out.count("250 2.0.0 Ok: queued") == 1, out
    raw = mail_server.fetch("alice", first)
    assert b"MAIL FROM:<boss@example.net>" in raw, raw
    assert _imap_ids(mail_server, "alice", smuggled) == 0


def test_commands_before_the_greeting_are_refused_and_pipelining_after_ehlo_works(
    mail_server: MailServer,
) -> None:
    with socket.create_connection(
        ("127.0.0.1", mail_server.ports.smtp), timeout=20, source_address=(ATTACKER_IP, 0)
    ) as s:
        # Everything at once, before the server has said a word.
        s.sendall(b"EHLO client.example.org\r\nMAIL FROM:<someone@example.org>\r\n")
        got = b""
        while chunk := s.recv(4096):
            got += chunk
    assert b"554 5.5.0" in got and b"synchronization" in got, got
    # A client that waits for EHLO's answer may pipeline (RFC 2920).
    ok = swaks(mail_server, mail_server.ports.smtp, "--pipeline", "--from", "someone@example.org",
               "--to", f"alice@{DOMAIN}")  # fmt: skip
    assert ok.returncode == 0, ok.stdout


# -- 2. DMARC on subdomains -----------------------------------------------------------------------


@pytest.mark.parametrize("domain", [f"helpdesk.{BANK}", f"helpdesk.{DOMAIN}"])
def test_a_from_on_a_non_existent_subdomain_of_a_reject_domain_is_refused(
    mail_server: MailServer, domain: str
) -> None:
    out = swaks(
        mail_server, mail_server.ports.smtp, "--local-interface", ATTACKER_IP,
        "--from", "bounce@elsewhere.test", "--to", f"alice@{DOMAIN}",
        "--header", f"From: it-support@{domain}",
    )  # fmt: skip
    refusal = refused(out, "DATA")
    assert "550 5.7.1" in refusal and domain.split(".", 1)[1] in refusal, refusal


def test_a_subdomain_of_a_domain_without_dmarc_is_still_delivered(mail_server: MailServer) -> None:
    mid = f"<{uuid.uuid4()}@lists.elsewhere.test>"
    out = swaks(
        mail_server, mail_server.ports.smtp, "--local-interface", ATTACKER_IP,
        "--from", "bounce@elsewhere.test", "--to", f"alice@{DOMAIN}",
        "--header", "From: news@lists.elsewhere.test", "--header", f"Message-Id: {mid}",
    )  # fmt: skip
    assert out.returncode == 0, out.stdout
    mail_server.fetch("alice", mid)


# -- 3. Local delivery only through Postfix -----------------------------------------------------


@pytest.fixture(scope="module")
def lmtp_tool(mail_server: MailServer) -> str:
    script = mail_server.root / "lmtp_deliver.py"
    shutil.copy(TOOLS / "lmtp_deliver.py", script)
    script.chmod(0o644)
    return str(script)


def _as(user: str, group: str, *cmd: str) -> Any:
    return run(["setpriv", f"--reuid={user}", f"--regid={group}", "--init-groups", *cmd])


@pytest.mark.parametrize(
    "user", [("nobody", "nogroup"), ("www-data", "www-data"), ("vmail", "vmail")]
)
def test_no_local_user_but_postfix_can_deliver_over_lmtp(
    mail_server: MailServer, lmtp_tool: str, user: tuple[str, str]
) -> None:
    mid = f"<{uuid.uuid4()}@{DOMAIN}>"
    for sock in ("/run/dovecot/lmtp", "/var/spool/postfix/private/dovecot-lmtp"):
        forged = _as(*user, "/usr/bin/python3", lmtp_tool, "lmtp", str(mail_server.p(sock)),
                     f"alice@{DOMAIN}", mid)  # fmt: skip
        assert forged.returncode == 2 and "PermissionError" in forged.stdout, (sock, forged)
    assert _imap_ids(mail_server, "alice", mid) == 0


def test_postfix_itself_delivers_over_its_lmtp_socket(
    mail_server: MailServer, lmtp_tool: str
) -> None:
    # The probe is sound: from Postfix's own user the same dialogue delivers.
    mid = f"<{uuid.uuid4()}@{DOMAIN}>"
    sock = str(mail_server.p("/var/spool/postfix/private/dovecot-lmtp"))
    ok = _as(
        "postfix", "postfix", "/usr/bin/python3", lmtp_tool, "lmtp", sock, f"bob@{DOMAIN}", mid
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    mail_server.fetch("bob", mid)


def test_only_root_looks_users_up_on_auth_userdb(mail_server: MailServer, lmtp_tool: str) -> None:
    sock = str(mail_server.p("/run/dovecot/auth-userdb"))
    peek = _as(
        "nobody", "nogroup", "/usr/bin/python3", lmtp_tool, "userdb", sock, f"alice@{DOMAIN}"
    )
    assert peek.returncode == 2 and "PermissionError" in peek.stdout, peek
    as_root = run(["/usr/bin/python3", lmtp_tool, "userdb", sock, f"alice@{DOMAIN}"])
    assert as_root.returncode == 0, as_root.stdout + as_root.stderr


# -- anvil: connections per client --------------------------------------------------------------


def test_concurrent_connections_per_client_are_limited(mail_server: MailServer) -> None:
    limit = mail_server.config.connection_count_limit
    held: list[socket.socket] = []
    try:
        for _ in range(limit):
            s = socket.create_connection(("127.0.0.1", mail_server.ports.smtp), timeout=20,
                                         source_address=("127.0.0.11", 0))  # fmt: skip
            held.append(s)
            assert s.makefile("rb").readline().startswith(b"220"), "a connection within the limit"
        with socket.create_connection(("127.0.0.1", mail_server.ports.smtp), timeout=20,
                                      source_address=("127.0.0.11", 0)) as extra:  # fmt: skip
            reply = extra.makefile("rb").readline()
        assert reply.startswith(b"421") and b"too many connections" in reply, reply
        # Another client is served meanwhile.
        with socket.create_connection(("127.0.0.1", mail_server.ports.smtp), timeout=20,
                                      source_address=("127.0.0.12", 0)) as other:  # fmt: skip
            assert other.makefile("rb").readline().startswith(b"220")
    finally:
        for s in held:
            s.close()


def test_new_connections_per_client_and_minute_are_limited(mail_server: MailServer) -> None:
    limit = mail_server.config.connection_rate_limit
    replies = []
    for _ in range(limit + 1):
        with socket.create_connection(("127.0.0.1", mail_server.ports.smtp), timeout=20,
                                      source_address=("127.0.0.13", 0)) as s:  # fmt: skip
            replies.append(s.makefile("rb").readline())
            s.sendall(b"QUIT\r\n")
    assert all(r.startswith(b"220") for r in replies[:limit]), replies
    assert replies[-1].startswith(b"421") and b"too many connections" in replies[-1], replies[-1]


# -- nginx: port 80 redirects only our own names -------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any) -> None:
        return None


@pytest.mark.parametrize("host", ["evil.example", f"mail.{DOMAIN}.evil.example"])
def test_port_80_does_not_redirect_to_a_host_the_client_chose(
    mail_server: MailServer, host: str
) -> None:
    req = urllib.request.Request(
        f"http://127.0.0.1:{mail_server.ports.http}/login", headers={"Host": host}
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.build_opener(_NoRedirect).open(req, timeout=10)
    assert err.value.code == 404 and err.value.headers["Location"] is None
    ours = urllib.request.Request(
        f"http://127.0.0.1:{mail_server.ports.http}/login", headers={"Host": f"mta-sts.{DOMAIN}"}
    )
    with pytest.raises(urllib.error.HTTPError) as redirect:
        urllib.request.build_opener(_NoRedirect).open(ours, timeout=10)
    assert redirect.value.code == 301
    assert redirect.value.headers["Location"] == f"https://mta-sts.{DOMAIN}/login"


# -- display-name and Sender spoofing by staff ---------------------------------------------------

_ENCODED = "=?utf-8?b?" + base64.b64encode(b"compliance@securebank.com.hk").decode() + "?="


def _submit_as_alice(server: MailServer, *headers: str) -> Any:
    args = ["--tls", "--auth", "PLAIN", "--auth-user", f"alice@{DOMAIN}",
            "--auth-password", PASSWORDS["alice"], "--from", f"alice@{DOMAIN}",
            "--to", f"bob@{DOMAIN}"]  # fmt: skip
    for h in headers:
        args += ["--header", h]
    return swaks(server, server.ports.submission, *args)


@pytest.mark.parametrize(
    "headers",
    [
        [f'From: "compliance@{DOMAIN}" <alice@{DOMAIN}>'],
        [f"From: {_ENCODED} <alice@{DOMAIN}>"],
        [f"From: alice@{DOMAIN}", f"Sender: bob@{DOMAIN}"],
        [f"From: alice@{DOMAIN}", f"Resent-From: ceo@{DOMAIN}"],
        [f"From: alice@{DOMAIN}", f"Resent-Sender: bob@{DOMAIN}"],
    ],
    ids=["address-display-name", "encoded-word", "sender", "resent-from", "resent-sender"],
)
def test_submission_refuses_a_display_name_or_sender_naming_another_mailbox(
    mail_server: MailServer, headers: list[str]
) -> None:
    out = _submit_as_alice(mail_server, *headers)
    assert "550 5.7.1 header From refused" in refused(out, "DATA")


@pytest.mark.parametrize(
    "headers",
    [
        [f'From: "Alice Chan" <alice@{DOMAIN}>'],
        [f'From: "alice@{DOMAIN}" <alice@{DOMAIN}>'],
        [f"From: =?utf-8?b?{base64.b64encode('陳愛麗'.encode()).decode()}?= <alice@{DOMAIN}>"],
        [f"From: alice@{DOMAIN}", f"Sender: alice@{DOMAIN}"],
    ],
    ids=["plain-name", "own-address-as-name", "chinese-name", "own-sender"],
)
def test_submission_accepts_honest_display_names_and_senders(
    mail_server: MailServer, headers: list[str]
) -> None:
    mid = f"<{uuid.uuid4()}@{DOMAIN}>"
    out = _submit_as_alice(mail_server, *headers, f"Message-Id: {mid}")
    assert out.returncode == 0, out.stdout
    mail_server.fetch("bob", mid)


# -- 5. Outgoing volume from a stolen login ------------------------------------------------------


def test_a_stolen_login_is_held_to_its_hourly_recipient_and_message_limits(
    mail_server: MailServer,
) -> None:
    cfg = mail_server.config
    msg = f"From: carol@{DOMAIN}\r\nSubject: offer\r\n\r\nbuy now\r\n"
    with smtplib.SMTP("127.0.0.1", mail_server.ports.submission, timeout=30) as c:
        c.starttls(context=mail_server.tls)
        c.login(f"carol@{DOMAIN}", PASSWORDS["carol"])
        # Outside recipients: the first N are accepted, the next is deferred.
        c.mail(f"carol@{DOMAIN}")
        codes = [c.rcpt(f"victim{i}@example.net")[0] for i in range(cfg.recipients_per_hour + 1)]
        assert codes[:-1] == [250] * cfg.recipients_per_hour, codes
        code, reply = c.rcpt("one-more@example.net")
        assert code == 450 and b"recipients per hour" in reply, reply
        # ... while our own mailboxes still count for nothing.
        assert c.rcpt(f"bob@{DOMAIN}")[0] == 250
        assert c.data(msg.encode())[0] == 250
        # Messages: the limit counts every submitted message, this one included.
        for _ in range(cfg.messages_per_hour - 1):
            c.mail(f"carol@{DOMAIN}")
            c.rcpt(f"bob@{DOMAIN}")
            assert c.data(msg.encode())[0] == 250
        c.mail(f"carol@{DOMAIN}")
        c.rcpt(f"bob@{DOMAIN}")
        code, reply = c.data(msg.encode())
        assert code == 450 and b"messages per hour" in reply, reply
    # The alarm's log line names the login and the limit.
    log = mail_server.p("/var/log/daemon.log").read_text()
    for kind, limit in (
        ("recipients", cfg.recipients_per_hour),
        ("messages", cfg.messages_per_hour),
    ):
        assert f"LIMIT user=carol@{DOMAIN} kind={kind} limit={limit}/hour" in log, log[-3000:]
    # Another login is not affected: bob still sends to the outside world.
    mid = mail_server.submit("bob", "partner@example.net", "after carol's limit")
    deadline = time.monotonic() + 20
    while not any(mid.encode() in m.get("data", b"") for m in mail_server.relay.messages):
        assert time.monotonic() < deadline, f"not relayed\n{mail_server.log()}"
        time.sleep(0.2)


# -- 4. IMAP password spraying -------------------------------------------------------------------

SPRAYER_IP = "127.0.0.21"


def _imap_login(server: MailServer, user: str, password: str, source: str) -> bool:
    """One IMAPS login from ``source``: True when accepted."""
    imap = _SourceIMAP(source, "127.0.0.1", server.ports.imaps, ssl_context=server.tls, timeout=60)
    try:
        imap.login(user, password)
        return True
    except imaplib.IMAP4.error:
        return False
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            imap.logout()


class _SourceIMAP(imaplib.IMAP4_SSL):
    """IMAPS from a chosen loopback address (the sprayer's, or a legitimate user's elsewhere)."""

    def __init__(self, source: str, *args: Any, **kwargs: Any) -> None:
        self._source = source
        super().__init__(*args, **kwargs)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        raw = socket.create_connection(
            (self.host, self.port), timeout=timeout, source_address=(self._source, 0)
        )
        wrapped: socket.socket = self.ssl_context.wrap_socket(raw, server_hostname=self.host)
        return wrapped


def test_a_password_sprayer_is_cut_off_and_a_real_login_elsewhere_still_works(
    mail_server: MailServer,
) -> None:
    user = f"alice@{DOMAIN}"
    results: list[bool] = []
    lock = threading.Lock()

    def spray(round_: int) -> None:
        ok = _imap_login(mail_server, user, f"guess-{round_}-{uuid.uuid4()}", SPRAYER_IP)
        with lock:
            results.append(ok)

    # 50 concurrent connections guessing, as the review's sprayer ran ...
    threads = [threading.Thread(target=spray, args=(0,)) for _ in range(50)]
    for t in threads:
        t.start()
    # ... while a real user logs in from elsewhere.
    started = time.monotonic()
    assert _imap_login(mail_server, user, PASSWORDS["alice"], "127.0.0.1")
    real_login_seconds = time.monotonic() - started
    for t in threads:
        t.join(120)
    assert results == [False] * 50
    assert real_login_seconds < 20, real_login_seconds
    # The sprayer's address is refused before any password is checked: even the right one.
    refused_login = not _imap_login(mail_server, user, PASSWORDS["alice"], SPRAYER_IP)
    # ... by the policy service, which logged the block once, naming the address.
    log = mail_server.p("/var/log/daemon.log").read_text()
    dovecot = mail_server.p("/var/log/hkmail/dovecot.log").read_text().splitlines()
    assert refused_login, "\n".join(line for line in dovecot if "policy" in line)[-4000:]
    assert log.count(f"hkmail-authpolicy: BLOCK remote={SPRAYER_IP} ") == 1, log[-2000:]
    # Everyone else still logs in.
    assert _imap_login(mail_server, user, PASSWORDS["alice"], "127.0.0.22")


# -- the report addresses the DNS publishes ------------------------------------------------------


@pytest.mark.parametrize("mailbox", ["dmarc", "tls-reports"])
def test_reports_sent_to_the_published_addresses_reach_the_postmaster(
    mail_server: MailServer, mailbox: str
) -> None:
    mid = f"<{uuid.uuid4()}@reports.example.org>"
    out = swaks(
        mail_server, mail_server.ports.smtp, "--from", "noreply-dmarc@reports.example.org",
        "--to", f"{mailbox}@{DOMAIN}", "--header", f"Message-Id: {mid}",
        "--header", "From: noreply-dmarc@reports.example.org",
    )  # fmt: skip
    assert out.returncode == 0, out.stdout
    mail_server.fetch(mail_server.config.postmaster_user, mid)
    # ... while an address nobody published is still refused at RCPT.
    nobody = swaks(mail_server, mail_server.ports.smtp, "--from", "a@reports.example.org",
                   "--to", f"reports@{DOMAIN}")  # fmt: skip
    assert "550 5.1.1" in refused(nobody, "RCPT")


# -- the submitting client's address stays on the server -----------------------------------------


def test_outbound_mail_does_not_carry_the_submitting_clients_address(
    mail_server: MailServer,
) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = f"bob@{DOMAIN}", "partner@example.net", "from home"
    msg["Message-ID"] = mid = f"<{uuid.uuid4()}@{DOMAIN}>"
    msg.set_content("sent from a home address\n")
    with smtplib.SMTP("127.0.0.1", mail_server.ports.submission, timeout=30,
                      source_address=("127.0.0.24", 0)) as c:  # fmt: skip
        c.starttls(context=mail_server.tls)
        c.login(f"bob@{DOMAIN}", PASSWORDS["bob"])
        c.send_message(msg)
    deadline = time.monotonic() + 20
    while not (sent := [m for m in mail_server.relay.messages if mid.encode() in m["data"]]):
        assert time.monotonic() < deadline, f"not relayed\n{mail_server.log()}"
        time.sleep(0.2)
    data = sent[0]["data"]
    assert b"127.0.0.24" not in data and b"ESMTPSA" not in data, data.decode(errors="replace")
    assert dkim_verify(data, mail_server.dkim_txt)  # still signed and intact
    # Inbound mail keeps its trace: the Received header of port 25 is untouched.
    inbound = f"<{uuid.uuid4()}@example.org>"
    out = swaks(mail_server, mail_server.ports.smtp, "--local-interface", "127.0.0.25",
                "--from", "someone@example.org", "--to", f"alice@{DOMAIN}",
                "--header", f"Message-Id: {inbound}")  # fmt: skip
    assert out.returncode == 0, out.stdout
    assert b"127.0.0.25" in mail_server.fetch("alice", inbound)
