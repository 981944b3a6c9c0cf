"""The rendered mail server, run for real (tests/mailserver_support.py starts it once per session
for every module, as the ``mail_server`` fixture): what it does for users, the attacks it refuses,
its certificate and its TLS.
"""

from __future__ import annotations

import base64
import email.utils
import imaplib
import json
import shutil
import smtplib
import socket
import ssl
import time
import urllib.error
import urllib.request
import uuid
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509

from hkmail.mailserver.render import OPENDKIM_SOCKET
from tests.mailserver_support import (
    ATTACKER_IP,
    DOMAIN,
    HOST,
    PARTNER,
    PARTNER_IP,
    PASSWORDS,
    POLICY,
    QUARANTINE,
    RELAY_PASSWORD,
    SELECTOR,
    TOOLS,
    MailServer,
    dkim_verify,
    queue,
    refused,
    run,
    swaks,
)
from tests.support import require_tool

pytestmark = pytest.mark.integration


# ------------------------------------------------------------------------------------------------
# What the tests prove
# ------------------------------------------------------------------------------------------------


def test_the_tested_files_are_the_user_data_files(mail_server: MailServer) -> None:
    doc = yaml.safe_load(mail_server.user_data)
    written = {f["path"]: f["content"] for f in doc["write_files"]}
    assert written == {f.path: f.content for f in mail_server.rendered.files}
    on_disk = {path: Path(path).read_bytes().decode() for path in written}
    assert on_disk == written


def test_submission_587_is_dkim_signed_and_readable_over_imaps(mail_server: MailServer) -> None:
    mid = mail_server.submit("alice", f"bob@{DOMAIN}", "587 STARTTLS")
    raw = mail_server.fetch("bob", mid)
    assert b"DKIM-Signature:" in raw
    assert f"d={DOMAIN}".encode() in raw and f"s={SELECTOR}".encode() in raw
    assert dkim_verify(raw, mail_server.dkim_txt), raw.decode(errors="replace")


def test_submissions_465_implicit_tls_is_dkim_signed(mail_server: MailServer) -> None:
    mid = mail_server.submit("bob", f"alice@{DOMAIN}", "465 implicit TLS", implicit_tls=True)
    raw = mail_server.fetch("alice", mid)
    assert dkim_verify(raw, mail_server.dkim_txt)


def test_a_tampered_message_fails_dkim(mail_server: MailServer) -> None:
    # The verification above is meaningful: the same check rejects a changed body.
    mid = mail_server.submit("alice", f"bob@{DOMAIN}", "tamper")
    raw = mail_server.fetch("bob", mid)
    assert not dkim_verify(raw.replace(b"Hong Kong", b"Elsewhere"), mail_server.dkim_txt)


def test_no_open_relay_on_port_25(mail_server: MailServer) -> None:
    with smtplib.SMTP("127.0.0.1", mail_server.ports.smtp, timeout=10) as c:
        c.ehlo("attacker.example.org")
        code, _ = c.mail("spammer@example.org")
        assert code == 250
        code, reply = c.rcpt("victim@example.net")
    assert 500 <= code < 600, reply
    assert b"Relay access denied" in reply


def test_port_25_does_not_offer_auth_even_over_tls(mail_server: MailServer) -> None:
    with smtplib.SMTP("127.0.0.1", mail_server.ports.smtp, timeout=10) as c:
        c.starttls(context=mail_server.tls)
        c.ehlo("client.example.org")
        assert "auth" not in c.esmtp_features


def test_inbound_mail_on_25_is_delivered_and_not_signed(mail_server: MailServer) -> None:
    msg = EmailMessage()
    msg["From"] = "someone@example.org"
    msg["To"] = f"alice@{DOMAIN}"
    msg["Subject"] = "inbound"
    msg["Message-ID"] = mid = f"<{uuid.uuid4()}@example.org>"
    msg.set_content("hello from outside\n")
    with smtplib.SMTP("127.0.0.1", mail_server.ports.smtp, timeout=10) as c:
        c.send_message(msg)
    raw = mail_server.fetch("alice", mid)
    # We sign only what our users submit, never what arrives from outside.
    assert b"DKIM-Signature:" not in raw


def test_unknown_local_mailbox_is_rejected(mail_server: MailServer) -> None:
    with smtplib.SMTP("127.0.0.1", mail_server.ports.smtp, timeout=10) as c:
        c.ehlo("client.example.org")
        c.mail("someone@example.org")
        code, _ = c.rcpt(f"nobody@{DOMAIN}")
    assert 500 <= code < 600


def test_submission_without_auth_cannot_send(mail_server: MailServer) -> None:
    with smtplib.SMTP("127.0.0.1", mail_server.ports.submission, timeout=10) as c:
        c.starttls(context=mail_server.tls)
        c.ehlo("client.example.org")
        c.mail(f"alice@{DOMAIN}")
        code, _ = c.rcpt("victim@example.net")
    assert 500 <= code < 600


def test_submission_refuses_auth_before_tls(mail_server: MailServer) -> None:
    with smtplib.SMTP("127.0.0.1", mail_server.ports.submission, timeout=10) as c:
        c.ehlo("client.example.org")
        assert "auth" not in c.esmtp_features
        code, _ = c.mail(f"alice@{DOMAIN}")
    assert 500 <= code < 600  # smtpd_tls_security_level=encrypt: STARTTLS first


def test_wrong_password_is_refused(mail_server: MailServer) -> None:
    with smtplib.SMTP("127.0.0.1", mail_server.ports.submission, timeout=10) as c:
        c.starttls(context=mail_server.tls)
        c.ehlo("client.example.org")
        c.user, c.password = f"alice@{DOMAIN}", "wrong-password"
        with pytest.raises(smtplib.SMTPAuthenticationError) as err:
            c.auth("PLAIN", c.auth_plain)  # one attempt: Dovecot delays each failure by 2 s
    assert err.value.smtp_code == 535


def test_a_user_cannot_send_as_another(mail_server: MailServer) -> None:
    with smtplib.SMTP("127.0.0.1", mail_server.ports.submission, timeout=10) as c:
        c.starttls(context=mail_server.tls)
        c.login(f"alice@{DOMAIN}", PASSWORDS["alice"])
        c.mail(f"bob@{DOMAIN}")
        code, reply = c.rcpt(f"bob@{DOMAIN}")
    assert 500 <= code < 600, reply


def test_imap_without_tls_is_not_offered(mail_server: MailServer) -> None:
    # Only the implicit-TLS listener exists; a plain IMAP greeting on it must fail.
    with pytest.raises((imaplib.IMAP4.abort, imaplib.IMAP4.error, OSError)):
        imaplib.IMAP4("127.0.0.1", mail_server.ports.imaps, timeout=1)


def test_mta_sts_policy_is_served_over_https(mail_server: MailServer) -> None:
    req = urllib.request.Request(
        f"https://127.0.0.1:{mail_server.ports.https}/.well-known/mta-sts.txt",
        headers={"Host": f"mta-sts.{DOMAIN}"},
    )
    with urllib.request.urlopen(req, context=mail_server.tls, timeout=10) as resp:
        assert resp.status == 200
        assert resp.headers.get_content_type() == "text/plain"
        assert resp.read().decode() == POLICY


def test_secrets_on_disk_have_safe_owners(mail_server: MailServer) -> None:
    key = mail_server.p(f"/etc/opendkim/keys/{SELECTOR}.private")
    st = key.stat()
    assert (st.st_mode & 0o777, key.owner()) == (0o600, "opendkim")
    relay = mail_server.p("/etc/postfix/relay_password")
    assert (relay.stat().st_mode & 0o777, relay.owner()) == (0o600, "root")
    assert RELAY_PASSWORD in relay.read_text()
    # ... and none of them is in the user-data.
    assert RELAY_PASSWORD not in mail_server.user_data
    key_lines = [ln for ln in mail_server.dkim_pem.splitlines() if "-----" not in ln]
    assert key.read_text() == mail_server.dkim_pem
    assert not any(ln in mail_server.user_data for ln in key_lines)
    assert not any(pw in mail_server.user_data for pw in PASSWORDS.values())


def test_relay_password_is_found_for_the_relayhost(mail_server: MailServer) -> None:
    # Postfix looks the SASL password up by the relayhost string itself; ask Postfix's own postmap
    # with the rendered main.cf, so a format mismatch between main.cf and the boot script shows.
    conf = mail_server.p("/etc/postfix")
    relayhost = run(["postconf", "-c", str(conf), "-h", "relayhost"]).stdout.strip()
    maps = run(["postconf", "-c", str(conf), "-h", "smtp_sasl_password_maps"]).stdout.strip()
    got = run(["postmap", "-c", str(conf), "-q", relayhost, maps])
    assert got.returncode == 0, got.stderr
    assert got.stdout.strip() == f"alice@{DOMAIN}:{RELAY_PASSWORD}"
    assert relayhost == f"[relay.hkmail.test]:{mail_server.config.relay.port}"


def test_outbound_mail_leaves_through_the_relay_over_implicit_tls_signed(
    mail_server: MailServer,
) -> None:
    mid = mail_server.submit("alice", "partner@example.net", "to the outside world")
    deadline = time.monotonic() + 20
    while not any(mid.encode() in m.get("data", b"") for m in mail_server.relay.messages):
        assert time.monotonic() < deadline, (
            f"not relayed: {mail_server.relay.errors}\n{mail_server.log()}"
        )
        time.sleep(0.2)
    msg = next(m for m in mail_server.relay.messages if mid.encode() in m["data"])
    # Authenticated with the credentials fetched from the secret store at boot.
    assert msg["user"] == f"alice@{DOMAIN}"
    assert msg["rcpt"] == ["RCPT TO:<partner@example.net>"]
    assert dkim_verify(msg["data"], mail_server.dkim_txt)
    assert mail_server.relay.errors == []


# ------------------------------------------------------------------------------------------------
# Attacks, each judged by an independent tool, each next to the legitimate flow that still works
# ------------------------------------------------------------------------------------------------


def test_backscatter_unknown_recipient_is_refused_at_rcpt(mail_server: MailServer) -> None:
    # A forged sender and an unknown mailbox: refused in the SMTP dialogue, so nothing is ever
    # bounced to the forged address.
    out = swaks(
        mail_server, mail_server.ports.smtp, "--local-interface", ATTACKER_IP,
        "--from", "victim@example.net", "--to", f"nobody@{DOMAIN}",
    )  # fmt: skip
    assert "550 5.1.1" in refused(out, "RCPT")
    assert not any("victim@example.net" in str(m["rcpt"]) for m in mail_server.relay.messages)
    assert not any("victim@example.net" in json.dumps(q) for q in queue(mail_server))
    # ... while a real mailbox is accepted from the same client.
    ok = swaks(mail_server, mail_server.ports.smtp, "--from", "victim@example.net",
                "--to", f"alice@{DOMAIN}", "--quit-after", "RCPT")  # fmt: skip
    assert ok.returncode == 0, ok.stdout


@pytest.mark.parametrize("user", ["opendkim", "root", "postfix", "nobody"])
def test_system_mailboxes_are_refused_at_rcpt(mail_server: MailServer, user: str) -> None:
    # user@[server-address]: the "local" address class. Nothing is delivered to /var/mail.
    out = swaks(
        mail_server, mail_server.ports.smtp, "--local-interface", ATTACKER_IP,
        "--from", "victim@example.net", "--to", f"{user}@[127.0.0.1]",
    )  # fmt: skip
    assert "550 5.1.1" in refused(out, "RCPT")


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
    mail_server: MailServer, header_from: str
) -> None:
    out = swaks(
        mail_server, mail_server.ports.submission, "--tls", "--auth", "PLAIN",
        "--auth-user", f"alice@{DOMAIN}", "--auth-password", PASSWORDS["alice"],
        "--from", f"alice@{DOMAIN}", "--to", f"bob@{DOMAIN}",
        "--header", f"From: {header_from}",
    )  # fmt: skip
    assert "550 5.7.1 header From refused" in refused(out, "DATA")


def test_submission_accepts_the_logins_own_header_from(mail_server: MailServer) -> None:
    mid = f"<{uuid.uuid4()}@{DOMAIN}>"
    out = swaks(
        mail_server, mail_server.ports.submissions, "--tlsc", "--auth", "PLAIN",
        "--auth-user", f"alice@{DOMAIN}", "--auth-password", PASSWORDS["alice"],
        "--from", f"alice@{DOMAIN}", "--to", f"bob@{DOMAIN}",
        "--header", f'From: "Alice Chan" <alice@{DOMAIN}>', "--header", f"Message-Id: {mid}",
    )  # fmt: skip
    assert out.returncode == 0, out.stdout
    assert dkim_verify(mail_server.fetch("bob", mid), mail_server.dkim_txt)


def test_submission_refuses_a_null_sender(mail_server: MailServer) -> None:
    with smtplib.SMTP("127.0.0.1", mail_server.ports.submission, timeout=10) as c:
        c.starttls(context=mail_server.tls)
        c.login(f"alice@{DOMAIN}", PASSWORDS["alice"])
        c.mail("")
        code, reply = c.rcpt(f"bob@{DOMAIN}")
    assert 500 <= code < 600 and b"null sender" in reply, reply


def test_our_own_domain_as_envelope_sender_is_refused_on_port_25(mail_server: MailServer) -> None:
    out = swaks(
        mail_server, mail_server.ports.smtp, "--local-interface", ATTACKER_IP,
        "--from", f"ceo@{DOMAIN}", "--to", f"alice@{DOMAIN}",
    )  # fmt: skip
    assert "only through authenticated submission" in refused(out, "RCPT")


def test_our_own_domain_in_the_header_from_is_refused_by_dmarc(mail_server: MailServer) -> None:
    # The envelope is someone else's; the From is ours: DMARC (our p=reject) refuses it.
    out = swaks(
        mail_server, mail_server.ports.smtp, "--local-interface", ATTACKER_IP,
        "--from", "bounce@elsewhere.test", "--to", f"alice@{DOMAIN}",
        "--header", f"From: ceo@{DOMAIN}",
    )  # fmt: skip
    refusal = refused(out, "DATA")
    assert "550 5.7.1" in refusal and DOMAIN in refusal


def test_spf_hard_fail_is_refused_at_rcpt(mail_server: MailServer) -> None:
    out = swaks(
        mail_server, mail_server.ports.smtp, "--local-interface", ATTACKER_IP,
        "--from", f"someone@{PARTNER}", "--to", f"alice@{DOMAIN}",
    )  # fmt: skip
    assert "SPF" in refused(out, "RCPT")


def test_a_quarantine_policy_holds_the_message(mail_server: MailServer) -> None:
    mid = f"<{uuid.uuid4()}@{QUARANTINE}>"
    out = swaks(
        mail_server, mail_server.ports.smtp, "--local-interface", ATTACKER_IP,
        "--from", "bounce@elsewhere.test", "--to", f"alice@{DOMAIN}",
        "--header", f"From: news@{QUARANTINE}", "--header", f"Message-Id: {mid}",
    )  # fmt: skip
    assert out.returncode == 0, out.stdout  # accepted, then held: never in the mailbox
    deadline = time.monotonic() + 10
    while not [q for q in queue(mail_server) if q.get("queue_name") == "hold"]:
        assert time.monotonic() < deadline, f"not held: {queue(mail_server)}\n{mail_server.log()}"
        time.sleep(0.2)


def test_signed_partner_mail_passes_spf_dkim_and_dmarc(mail_server: MailServer) -> None:
    import dkim  # type: ignore[import-untyped]

    mid = f"<{uuid.uuid4()}@{PARTNER}>"
    msg = (
        f"From: Partner <news@{PARTNER}>\r\nTo: alice@{DOMAIN}\r\nSubject: signed\r\n"
        f"Date: {email.utils.formatdate()}\r\nMessage-ID: {mid}\r\n\r\nhello from a partner\r\n"
    ).encode()
    signed = [b"from", b"to", b"subject", b"date", b"message-id"]
    sig = dkim.sign(
        msg, b"p1", PARTNER.encode(), mail_server.partner_dkim_pem.encode(), include_headers=signed
    )
    with smtplib.SMTP("127.0.0.1", mail_server.ports.smtp, timeout=10,
                      source_address=(PARTNER_IP, 0)) as c:  # fmt: skip
        c.sendmail(f"news@{PARTNER}", [f"alice@{DOMAIN}"], sig + msg)
    raw = mail_server.fetch("alice", mid)
    results = b" ".join(
        line
        for line in raw.split(b"\r\n\r\n")[0].replace(b"\r\n\t", b" ").split(b"\r\n")
        if line.lower().startswith(b"authentication-results: " + HOST.encode())
    )
    assert b"dkim=pass" in results and b"header.d=" + PARTNER.encode() in results, raw
    assert b"spf=pass smtp.mailfrom=" + PARTNER.encode() in results, raw
    assert f"dmarc=pass (p=reject dis=none) header.from={PARTNER}".encode() in results, results


def test_an_outsiders_authentication_results_are_not_trusted(mail_server: MailServer) -> None:
    # A forged "dmarc=pass" in our name does not get our own domain's From through.
    out = swaks(
        mail_server, mail_server.ports.smtp, "--local-interface", ATTACKER_IP,
        "--from", "bounce@elsewhere.test", "--to", f"alice@{DOMAIN}",
        "--header", f"From: ceo@{DOMAIN}",
        "--add-header",
        f"Authentication-Results: {HOST}; dkim=pass header.d={DOMAIN}; spf=pass "
        f"smtp.mailfrom={DOMAIN}; dmarc=pass header.from={DOMAIN}",
    )  # fmt: skip
    assert "550 5.7.1" in refused(out, "DATA")


def test_a_forged_signing_request_from_another_user_cannot_reach_opendkim(
    mail_server: MailServer,
) -> None:
    script = mail_server.root / "milter_sign_request.py"
    shutil.copy(TOOLS / "milter_sign_request.py", script)
    script.chmod(0o644)
    sock = str(mail_server.p(OPENDKIM_SOCKET))
    for user, group in (("nobody", "nogroup"), ("vmail", "vmail"), ("www-data", "www-data")):
        forged = run(["setpriv", f"--reuid={user}", f"--regid={group}", "--init-groups",
                       "/usr/bin/python3", str(script), sock, DOMAIN])  # fmt: skip
        assert forged.returncode == 2, forged.stdout + forged.stderr
        assert "PermissionError" in forged.stdout
    # The same request from Postfix's own user gets a signature: the probe itself is sound.
    as_postfix = run(["setpriv", "--reuid=postfix", "--regid=postfix", "--clear-groups",
                       "/usr/bin/python3", str(script), sock, DOMAIN])  # fmt: skip
    assert as_postfix.returncode == 0, as_postfix.stdout + as_postfix.stderr
    assert f"d={DOMAIN}" in as_postfix.stdout


def test_auth_is_rate_limited_per_client(mail_server: MailServer) -> None:
    # Its own source address, so the limit does not touch the other tests' logins.
    replies = []
    limit = mail_server.config.auth_rate_limit
    for _ in range(limit + 1):
        with smtplib.SMTP("127.0.0.1", mail_server.ports.submission, timeout=10,
                          source_address=("127.0.0.9", 0)) as c:  # fmt: skip
            c.starttls(context=mail_server.tls)
            c.ehlo("client.example.org")
            blob = base64.b64encode(f"\0alice@{DOMAIN}\0{PASSWORDS['alice']}".encode()).decode()
            code, reply = c.docmd("AUTH", "PLAIN " + blob)
            replies.append((code, reply))
    assert all(code == 235 for code, _ in replies[:limit]), replies
    assert replies[-1][0] in (421, 450, 454) and b"too many AUTH" in replies[-1][1], replies


def test_mail_logs_are_not_world_readable(mail_server: MailServer) -> None:
    log = mail_server.p("/var/log/hkmail/postfix.log")
    assert log.stat().st_size > 0
    st = log.parent.stat()
    assert (st.st_mode & 0o7777, log.parent.owner(), log.parent.group()) == (0o750, "root", "adm")
    peek = run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "cat", str(log)])
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


def _all_served(mail_server: MailServer) -> dict[str, x509.Certificate]:
    prt = mail_server.ports
    return {
        "smtp": _served_cert(mail_server, prt.smtp, "smtp"),
        "submission": _served_cert(mail_server, prt.submission, "smtp"),
        "submissions": _served_cert(mail_server, prt.submissions),
        "imaps": _served_cert(mail_server, prt.imaps),
        "https": _served_cert(mail_server, prt.https),
    }


def test_every_port_serves_the_acme_issued_certificate(mail_server: MailServer) -> None:
    served = _all_served(mail_server)
    serials = {c.serial_number for c in served.values()}
    assert len(serials) == 1, served
    cert = next(iter(served.values()))
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(names.get_values_for_type(x509.DNSName)) == [HOST, f"mta-sts.{DOMAIN}"]
    assert cert.issuer != cert.subject  # CA-issued (chain verified against the ACME root)


def test_renewal_installs_the_new_certificate_and_reloads_every_daemon(
    mail_server: MailServer,
) -> None:
    before = {name: c.serial_number for name, c in _all_served(mail_server).items()}
    script = str(mail_server.p("/usr/local/sbin/hkmail-cert"))
    out = run([*mail_server.ns, script, "--force-renewal"], env=mail_server.env)
    assert out.returncode == 0, out.stdout + out.stderr
    deadline = time.monotonic() + 20
    while True:
        after = {name: c.serial_number for name, c in _all_served(mail_server).items()}
        if all(after[n] != before[n] for n in before) and len(set(after.values())) == 1:
            break
        assert time.monotonic() < deadline, (before, after)
        time.sleep(0.5)
    key = mail_server.p(mail_server.config.tls_key)
    assert key.stat().st_mode & 0o777 == 0o600


def test_mta_sts_host_hides_its_version_and_sends_hsts(mail_server: MailServer) -> None:
    req = urllib.request.Request(
        f"https://127.0.0.1:{mail_server.ports.https}/.well-known/mta-sts.txt",
        headers={"Host": f"mta-sts.{DOMAIN}"},
    )
    with urllib.request.urlopen(req, context=mail_server.tls, timeout=10) as resp:
        assert resp.headers["Server"] == "nginx"
        assert resp.headers["Strict-Transport-Security"] == "max-age=63072000"
    # Port 80 serves ACME challenges and otherwise redirects to https.
    plain = urllib.request.Request(
        f"http://127.0.0.1:{mail_server.ports.http}/.well-known/mta-sts.txt",
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
def testssl(mail_server: MailServer) -> dict[str, list[dict[str, str]]]:
    """testssl.sh's findings per port name: protocols (-p) and every cipher per protocol (-E),
    the five ports tested in parallel in one invocation."""
    binary = require_tool("testssl", "testssl.sh")
    prt = mail_server.ports
    targets = {
        "smtp": f"-t smtp 127.0.0.1:{prt.smtp}",
        "submission": f"-t smtp 127.0.0.1:{prt.submission}",
        "submissions": f"127.0.0.1:{prt.submissions}",
        "imaps": f"127.0.0.1:{prt.imaps}",
        "https": f"127.0.0.1:{prt.https}",
    }
    cmds = mail_server.root / "testssl-targets.txt"
    cmds.write_text("\n".join(targets.values()) + "\n")
    report = mail_server.root / "testssl.json"
    out = run(
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
