"""hkmail-notify against loopback HTTPS endpoints that play DingTalk, WeCom and Lark and verify
every request as the platform documents it (tests/notify_support.py).

The notifier and the endpoints share one clock, so a burst over a minute or an endpoint down for
five minutes plays out in well under a second of real time; the requests themselves are real
(TLS with the host name verified, signatures checked by the endpoint, rate limits enforced).
The end-to-end path through Postfix, Dovecot and Sieve is tested in test_mailserver_daemons.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.utils
import json
import secrets as secrets_module
import smtplib
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import yaml

from hkmail.errors import SpecError, SpecErrors
from hkmail.mailserver import MailServerConfig, SecretRefs, notify, user_data
from hkmail.mailserver.notify_config import (
    NotifyConfig,
    NotifyDeclaration,
    NotifyRule,
    NotifyTarget,
    NotifyTodo,
    check,
)
from hkmail.mailserver.render import CA_BUNDLE, NOTIFY_CONF, NOTIFY_LOG_DIR, NOTIFY_SIEVE
from tests.dingtalk_support import API_HOST, FakeDingTalkApi
from tests.mailserver_support import (
    ATTACKER_IP,
    PARTNER,
    PARTNER_IP,
    MailServer,
    Setup,
    extend,
)
from tests.notify_support import FakePlatform, local_settings, loopback_connect, platform_ca
from tests.support import require_tool

HOST = "mail.hkmail.test"
DOMAIN = "hkmail.test"
DECL = NotifyDeclaration("Mainland China", "processor-contract", "EX-2026-023")


class Clock:
    def __init__(self) -> None:
        self.now = time.time()  # the Maildir files the test writes carry real mtimes

    def __call__(self) -> float:
        return self.now


def _config(**rule: Any) -> NotifyConfig:
    targets = (
        NotifyTarget("sales", "dingtalk"),
        NotifyTarget("finance", "wecom"),
        NotifyTarget("ops", "lark"),
    )
    base: dict[str, Any] = {
        "name": "orders",
        "target": "sales",
        "cross_border": DECL,
        "recipients": ("orders",),
        "fields": ("subject", "senderName", "link"),
    }
    base.update(rule)
    rules = [NotifyRule(**base)]
    rules.append(
        NotifyRule(
            "invoices",
            "finance",
            DECL,
            recipients=("finance",),
            subject=r"invoice",
            fields=("subject",),
        )
    )
    rules.append(NotifyRule("alerts", "ops", DECL, recipients=("ops",), fields=("excerpt",)))
    return NotifyConfig(targets, tuple(rules))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, Any]]:
    ca, cert, key = platform_ca(tmp_path)
    clock = Clock()
    fakes = {
        "sales": FakePlatform("dingtalk", "dt-token", "SECdt-signing-secret", cert, key, clock),
        "finance": FakePlatform("wecom", "wc-key-123", "", cert, key, clock),
        "ops": FakePlatform("lark", "lk-hook-456", "lark-signing-secret", cert, key, clock),
    }
    for f in fakes.values():
        f.start()
    targets = {t: {"url": f.url, "secret": f.secret} for t, f in fakes.items()}
    s = local_settings(_config(), tmp_path, ca, targets, hostname=HOST, domain=DOMAIN)
    notifier = notify.Notifier(s, clock=clock, connect=loopback_connect(fakes))
    try:
        yield {"settings": s, "fakes": fakes, "clock": clock, "notifier": notifier, "tmp": tmp_path}
    finally:
        for f in fakes.values():
            f.stop()


def _mail(
    to: str,
    subject: str,
    *,
    sender: str = "Chan Tai Man <buyer@customer.example>",
    dmarc: str = "pass",
    body: str = "Please ship 20 boxes.\nSecond line.\n",
    mid: str | None = None,
    authserv: str = HOST,
) -> tuple[bytes, str]:
    m = EmailMessage()
    m["Authentication-Results"] = f"{authserv}; dmarc={dmarc} (p=none) header.from=customer.example"
    m["From"] = sender
    m["To"] = f"{to}@{DOMAIN}"
    m["Subject"] = subject
    message_id = mid or f"<{abs(hash((to, subject, body)))}@customer.example>"
    m["Message-ID"] = message_id
    m.set_content(body)
    return bytes(m), message_id


def _deliver(w: dict[str, Any], to: str, raw: bytes) -> None:
    """Enqueue as Sieve would, and put the message in the Maildir as Dovecot would."""
    notify.enqueue(w["settings"], f"{to}@{DOMAIN}", raw, w["clock"].now)
    new = w["tmp"] / "vmail" / DOMAIN / to / "Maildir" / "new"
    new.mkdir(parents=True, exist_ok=True)
    (new / f"{len(list(new.iterdir()))}.{to}").write_bytes(raw)


def _drain(w: dict[str, Any], seconds: float, step: float = 0.5) -> None:
    end = w["clock"].now + seconds
    while w["clock"].now < end:
        w["notifier"].run_once()
        w["clock"].now += step


def test_each_platform_gets_a_signed_message_with_only_the_declared_fields(
    world: dict[str, Any],
) -> None:
    w = world
    raw, mid = _mail("orders", "Order 4711")
    _deliver(w, "orders", raw)
    _deliver(w, "finance", _mail("finance", "Invoice 2026-12")[0])
    _deliver(w, "ops", _mail("ops", "disk alert", body="\n  Disk 91% full on db1\nmore\n")[0])
    _drain(w, 2)
    fakes = w["fakes"]
    assert [f.refused for f in fakes.values()] == [[], [], []]
    [dt] = fakes["sales"].texts
    assert "Subject: Order 4711" in dt and "From: Chan Tai Man" in dt
    assert notify.imap_url(HOST, mid) in dt
    assert "buyer@customer.example" not in dt  # the address was not declared
    assert "Please ship" not in dt  # neither was the body
    [wc] = fakes["finance"].texts
    assert "Subject: Invoice 2026-12" in wc and "Chan" not in wc
    [lk] = fakes["ops"].texts
    assert "Excerpt: Disk 91% full on db1" in lk and "more" not in lk and "disk alert" not in lk


def test_only_matching_authenticated_mail_notifies(world: dict[str, Any]) -> None:
    w = world
    _deliver(w, "bob", _mail("bob", "Order for bob's mailbox")[0])  # not a rule's recipient
    _deliver(w, "finance", _mail("finance", "lunch on friday")[0])  # subject does not match
    _deliver(w, "orders", _mail("orders", "Order spoofed", dmarc="fail")[0])
    # An Authentication-Results header from another host is not our verdict.
    _deliver(w, "orders", _mail("orders", "Order forged", authserv="mx.attacker.example")[0])
    _drain(w, 5)
    assert all(f.accepted == [] for f in w["fakes"].values())
    assert list(Path(w["settings"]["spool"], "pending").iterdir()) == []


def test_a_job_waits_until_the_message_is_in_the_mailbox(world: dict[str, Any]) -> None:
    w = world
    raw, _ = _mail("orders", "Order 1")
    notify.enqueue(w["settings"], f"orders@{DOMAIN}", raw, w["clock"].now)
    _drain(w, 3)
    assert w["fakes"]["sales"].accepted == []  # Sieve ran, the store has not committed
    new = w["tmp"] / "vmail" / DOMAIN / "orders" / "Maildir" / "new"
    new.mkdir(parents=True)
    (new / "1.orders").write_bytes(raw)
    _drain(w, 1)
    assert len(w["fakes"]["sales"].accepted) == 1


def test_a_burst_of_100_arrives_as_digests_within_the_limit_none_lost_none_twice(
    world: dict[str, Any],
) -> None:
    w = world
    mids = []
    for i in range(100):  # 100 messages over one minute
        raw, mid = _mail("orders", f"Order {i:03d}", mid=f"<burst-{i}@customer.example>")
        mids.append(mid)
        _deliver(w, "orders", raw)
        w["notifier"].run_once()
        w["clock"].now += 0.6
    # The same message delivered again (a retried LMTP delivery) is not notified twice.
    _deliver(w, "orders", _mail("orders", "Order 000", mid=mids[0])[0])
    _drain(w, 120)
    dt = w["fakes"]["sales"]
    assert dt.refused == [], dt.refused
    assert len(dt.accepted) <= 20 * 3  # three minutes at most 20 a minute
    times = dt.requests
    assert all(sum(1 for t in times if s <= t < s + 60) <= 20 for s in times)
    text = "\n".join(dt.texts)
    for i in range(100):
        assert text.count(f"Subject: Order {i:03d}\n") == 1, i
    assert any(t.startswith("Digest: ") for t in dt.texts)
    assert list(Path(w["settings"]["spool"], "pending").iterdir()) == []


def test_lark_is_kept_under_five_a_second(world: dict[str, Any]) -> None:
    w = world
    for i in range(30):
        _deliver(w, "ops", _mail("ops", "a", body=f"alert {i}\n", mid=f"<l{i}@x.example>")[0])
        w["notifier"].run_once()
        w["clock"].now += 0.05
    _drain(w, 10, step=0.05)
    lk = w["fakes"]["ops"]
    assert lk.refused == []
    assert "\n".join(lk.texts).count("Excerpt: alert") == 30


def test_an_endpoint_down_for_five_minutes_gets_everything_once_when_back(
    world: dict[str, Any],
) -> None:
    w = world
    dt = w["fakes"]["sales"]
    dt.stop()
    for i in range(5):
        _deliver(w, "orders", _mail("orders", f"Order {i}", mid=f"<down-{i}@c.example>")[0])
    _drain(w, 300, step=1)
    assert dt.accepted == []
    log = Path(w["settings"]["log"]).read_text()
    assert '"event": "failed"' in log
    dt.start()
    _drain(w, 400, step=1)  # the backoff is at most 5 minutes
    text = "\n".join(dt.texts)
    assert [text.count(f"Subject: Order {i}\n") for i in range(5)] == [1] * 5
    assert list(Path(w["settings"]["spool"], "pending").iterdir()) == []


def test_a_webhook_on_another_host_is_refused_and_nothing_is_sent(
    world: dict[str, Any],
) -> None:
    w = world
    targets = json.loads(Path(w["settings"]["targets_file"]).read_text())
    good = targets["sales"]["url"]
    for url in (
        good.replace("oapi.dingtalk.com", "open.feishu.cn"),  # another platform's host
        good.replace("https://", "http://"),
        good.replace("oapi.dingtalk.com", "oapi.dingtalk.com.evil.example"),
        good.replace("oapi.dingtalk.com", "oapi.dingtalk.com:8443"),
        good.replace("/robot/send", "/other"),
    ):
        targets["sales"]["url"] = url
        Path(w["settings"]["targets_file"]).write_text(json.dumps(targets))
        with pytest.raises(notify.Refused):
            notify.check_url(w["settings"]["platforms"]["dingtalk"], url)
    _deliver(w, "orders", _mail("orders", "Order 9")[0])
    _drain(w, 3)
    assert all(f.accepted == [] and f.requests == [] for f in w["fakes"].values())
    assert '"event": "refused"' in Path(w["settings"]["log"]).read_text()


def test_no_subject_sender_url_or_secret_reaches_the_log(world: dict[str, Any]) -> None:
    w = world
    leak = "password=Hunter2-AKIAIOSFODNN7EXAMPLE"
    _deliver(w, "orders", _mail("orders", f"Order {leak}", sender=f"{leak} <a@c.example>")[0])
    w["fakes"]["sales"].stop()
    _drain(w, 15)
    w["fakes"]["sales"].start()
    _drain(w, 30)
    assert leak in w["fakes"]["sales"].texts[0]  # it was declared, so it went to the platform
    log = Path(w["settings"]["log"]).read_text()
    assert '"event": "sent"' in log
    targets = json.loads(Path(w["settings"]["targets_file"]).read_text())
    for needle in ("Hunter2", "AKIA", "a@c.example", "Order", "dt-token", "SECdt"):
        assert needle not in log
    for t in targets.values():
        assert t["url"] not in log


def test_notify_config_errors_name_the_key_and_the_allowed_values() -> None:
    cfg = NotifyConfig(
        (NotifyTarget("sales", "slack"),),  # type: ignore[arg-type]
        (
            NotifyRule("orders", "sales", None, fields=("subject",)),
            NotifyRule("full", "sales", DECL, recipients=("nobody",), fields=("body", "html")),
            NotifyRule("weak", "nowhere", DECL, auth="none"),  # type: ignore[arg-type]
        ),
    )
    errors = {e.field: e for e in check(cfg, ("orders",))}
    assert "dingtalk | wecom | lark" in errors["mailServer.notify.targets[0].platform"].allowed
    assert "every chat platform is outside Hong Kong" in str(
        errors["mailServer.notify.rules[0].crossBorder"]
    )
    assert "mailServer.notify.rules[1].recipients" in errors
    fields = [e for e in check(cfg, ("orders",)) if e.field == "mailServer.notify.rules[1].fields"]
    assert any("allowContent" in e.allowed for e in fields)  # body without the declaration
    assert any(e.value == "html" for e in fields)
    assert "one of the targets" in errors["mailServer.notify.rules[2].target"].allowed
    assert errors["mailServer.notify.rules[2].auth"].allowed == "dmarc | dkim"
    assert all(isinstance(e, SpecError) for e in errors.values())


# ------------------------------------------------------------------------------------------------
# End to end: SMTP -> Postfix -> OpenDKIM/OpenDMARC -> Dovecot LMTP -> Sieve -> hkmail-notify
# ------------------------------------------------------------------------------------------------

SPOOFABLE = "spoofable.example"  # p=none and SPF ~all: a forged From is delivered, dmarc=fail
E2E_TARGETS = {"sales": "dingtalk", "finance": "wecom", "ops": "lark"}
E2E_TODO_APP = {"appKey": "dingtodo-e2e", "appSecret": f"APP{secrets_module.token_hex(16)}"}
E2E_UNION_ID = "uBob0nDuty"


@extend("notify")
@contextlib.contextmanager
def _notify_extension(setup: Setup) -> Iterator[None]:
    """The shared server with three notify rules, and the three platforms on port 443 of their own
    loopback addresses, named in the test DNS as the real hosts."""
    tmp = setup.root / "notify-platforms"
    tmp.mkdir()
    ca, cert, key = platform_ca(tmp)
    net = f"127.88.{secrets_module.randbelow(250) + 1}"
    fakes = {
        target: FakePlatform(
            platform,
            f"{target}-token-{secrets_module.token_hex(4)}",
            "" if platform == "wecom" else f"SEC{secrets_module.token_hex(16)}",
            cert,
            key,
            port=443,
            address=f"{net}.{i + 1}",
        )
        for i, (target, platform) in enumerate(E2E_TARGETS.items())
    }
    for f in fakes.values():
        f.start()
        setup.zone.append(f"{f.host}. A {f.address}")
    # DingTalk's API host, for the to-dos of the "tasks" rule
    app_key, app_secret = E2E_TODO_APP["appKey"], E2E_TODO_APP["appSecret"]
    api = FakeDingTalkApi(app_key, app_secret, {E2E_UNION_ID}, cert, key, port=443,
                          address=f"{net}.{len(fakes) + 1}").start()  # fmt: skip
    setup.zone.append(f"{API_HOST}. A {api.address}")
    setup.zone += [
        f'{SPOOFABLE}. TXT "v=spf1 ip4:192.0.2.1 ~all"',
        f'_dmarc.{SPOOFABLE}. TXT "v=DMARC1; p=none"',
    ]
    rules = (
        NotifyRule(
            "orders",
            "sales",
            DECL,
            recipients=("alice",),
            senders=(PARTNER, SPOOFABLE),
            subject=r"^PO-",
            fields=("subject", "senderName", "link"),
        ),
        NotifyRule(
            "invoices", "finance", DECL, recipients=("bob",), senders=(PARTNER,), subject="invoice"
        ),
        NotifyRule(
            "alerts", "ops", DECL, recipients=("alice",), subject=r"^ALERT", fields=("excerpt",)
        ),
        NotifyRule(
            "tasks",
            "sales",
            DECL,
            recipients=("bob",),
            senders=(PARTNER,),
            subject=r"^TASK-",
            fields=("subject", "link"),
            todo=NotifyTodo("bob", ("subject", "link")),
        ),
    )
    targets = tuple(NotifyTarget(t, p) for t, p in E2E_TARGETS.items())  # type: ignore[arg-type]
    setup.config = dataclasses.replace(
        setup.config,
        notify=NotifyConfig(targets, rules, (("bob", E2E_UNION_ID),)),
        secrets=dataclasses.replace(setup.config.secrets, notify_targets="hkmail-notify"),
    )
    setup.cloud_secrets["hkmail-notify"] = json.dumps(
        {
            **{t: {"url": f.url, "secret": f.secret} for t, f in fakes.items()},
            "dingtalkTodo": E2E_TODO_APP,
        }
    )

    def start(ns: list[str], rendered: Any, log: Path) -> subprocess.Popen[bytes]:
        # The instance's CA bundle trusts the platforms' CA (here: the test's).
        bundle = Path(setup.layout.p(CA_BUNDLE))
        bundle.write_bytes(bundle.read_bytes() + ca.read_bytes())
        unit = rendered.by_path("/etc/systemd/system/hkmail-notify.service").content
        cfg = dict(ln.split("=", 1) for ln in unit.splitlines() if "=" in ln and ln[0] not in "#[")
        cmd = ["setpriv", f"--reuid={cfg['User']}", f"--regid={cfg['Group']}", "--clear-groups"]
        return subprocess.Popen(
            [
                *ns,
                "sh",
                "-c",
                f'umask {cfg["UMask"]} && exec "$@"',
                "sh",
                *cmd,
                *cfg["ExecStart"].split(),
            ],
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )

    setup.services["hkmail-notify"] = start
    setup.extras["notify"] = fakes
    setup.extras["dingtalk-api"] = api
    try:
        yield
    finally:
        for f in fakes.values():
            f.stop()
        api.stop()


def _inbound(
    server: MailServer,
    to: str,
    subject: str,
    *,
    sender: str = f"Chan Tai Man <buyer@{PARTNER}>",
    source: str = PARTNER_IP,
    body: str = "Please ship 20 boxes.\n",
    client: smtplib.SMTP | None = None,
    envelope: str | None = None,
) -> str:
    mid = f"<{uuid.uuid4()}@{sender.rpartition('@')[2].rstrip('>')}>"
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = f"{to}@{DOMAIN}"
    msg["Subject"] = subject
    msg["Date"] = email.utils.formatdate()
    msg["Message-ID"] = mid
    msg.set_content(body)
    envelope = envelope or email.utils.parseaddr(sender)[1]
    if client is not None:
        client.sendmail(envelope, [f"{to}@{DOMAIN}"], bytes(msg))
        return mid
    try:
        with smtplib.SMTP("127.0.0.1", server.ports.smtp, timeout=30,
                          source_address=(source, 0)) as c:  # fmt: skip
            c.sendmail(envelope, [f"{to}@{DOMAIN}"], bytes(msg))
    except smtplib.SMTPException as exc:
        raise AssertionError(f"{subject!r} to {to} refused: {exc}\n{server.log()}") from exc
    return mid


def _wait(what: str, ok: Callable[[], bool], server: MailServer, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ok():
        if time.monotonic() > deadline:
            log = server.p(NOTIFY_LOG_DIR + "/notify.log")
            raise AssertionError(
                f"{what}\n{log.read_text() if log.exists() else '(no notify log)'}\n{server.log()}"
            )
        time.sleep(0.5)


@pytest.fixture
def platforms(mail_server: MailServer) -> dict[str, FakePlatform]:
    fakes: dict[str, FakePlatform] = mail_server.extras["notify"]
    return fakes


def test_delivered_partner_mail_reaches_each_platform_signed(
    mail_server: MailServer, platforms: dict[str, FakePlatform]
) -> None:
    dt, wc, lk = platforms["sales"], platforms["finance"], platforms["ops"]
    before = (len(dt.accepted), len(wc.accepted), len(lk.accepted))
    order = _inbound(mail_server, "alice", "PO-7781 twenty boxes")
    _inbound(mail_server, "bob", "Your invoice 2026-12")
    _inbound(mail_server, "alice", "ALERT disk", sender=f"Monitor <mon@{PARTNER}>",
             body="\nDisk 91% full on db1\nsecond line\n")  # fmt: skip
    mail_server.fetch("alice", order)  # in the mailbox, as the notifier requires
    _wait(
        "every platform got its message",
        lambda: (
            (len(dt.accepted), len(wc.accepted), len(lk.accepted))
            == (before[0] + 1, before[1] + 1, before[2] + 1)
        ),
        mail_server,
    )
    assert (dt.refused, wc.refused, lk.refused) == ([], [], [])
    text = dt.texts[-1]
    assert "Subject: PO-7781 twenty boxes" in text and "From: Chan Tai Man" in text
    assert f"imap://{HOST}/INBOX?" in text and "Please ship" not in text
    assert "buyer@" not in text
    assert wc.texts[-1].endswith("new mail for bob@hkmail.test")  # no field declared
    assert "Excerpt: Disk 91% full on db1" in lk.texts[-1] and "second" not in lk.texts[-1]


def test_delivered_task_mail_gives_one_dingtalk_todo_through_the_apps_token(
    mail_server: MailServer, platforms: dict[str, FakePlatform]
) -> None:
    api: FakeDingTalkApi = mail_server.extras["dingtalk-api"]
    before = len(api.todos)
    mid = _inbound(mail_server, "bob", "TASK-31 call the supplier", body="Secret plan\n")
    mail_server.fetch("bob", mid)
    _wait(
        f"the to-do was created (the API refused: {api.refused})",
        lambda: len(api.todos) == before + 1,
        mail_server,
    )
    todo = api.todos[-1]
    assert todo["user"] == todo["operator"] == E2E_UNION_ID and api.refused == []
    assert todo["body"]["subject"] == "[tasks] TASK-31 call the supplier"
    assert todo["body"]["description"].startswith(f"Open: imap://{HOST}/INBOX?")
    assert "Secret plan" not in json.dumps(todo["body"]) and "buyer@" not in json.dumps(todo)
    assert api.token_requests >= 1
    for f in (f for f in mail_server.p("/var/log").rglob("*") if f.is_file()):
        text = f.read_text(errors="replace")
        assert E2E_TODO_APP["appSecret"] not in text and not any(t in text for t in api.tokens), f


def test_spoofed_and_unmatched_mail_is_delivered_but_never_notified(
    mail_server: MailServer, platforms: dict[str, FakePlatform]
) -> None:
    dt = platforms["sales"]
    before = len(dt.requests)
    # A forged From of a p=none domain, sent with another envelope domain and no signature:
    # nothing aligns with the From domain, so dmarc=fail, and p=none lets it in.
    spoof = _inbound(mail_server, "alice", "PO-6666 urgent", sender=f"Boss <ceo@{SPOOFABLE}>",
                     source=ATTACKER_IP, envelope="bounce@elsewhere.example")  # fmt: skip
    other = _inbound(mail_server, "alice", "lunch on friday")
    raw = mail_server.fetch("alice", spoof)
    head = " ".join(raw.split(b"\r\n\r\n")[0].decode().split())
    assert f"{HOST}; dmarc=fail (p=none dis=none) header.from={SPOOFABLE}" in head, head
    mail_server.fetch("alice", other)
    # A marker message after both: once it is notified, the two before it were judged.
    marker = _inbound(mail_server, "alice", "PO-0001 marker")
    mail_server.fetch("alice", marker)
    _wait("the marker was notified", lambda: "PO-0001 marker" in "\n".join(dt.texts), mail_server)
    sent = "\n".join(dt.texts)
    assert "PO-6666" not in sent and "lunch" not in sent
    assert len(dt.requests) >= before + 1


def test_only_the_mailboxes_a_rule_names_are_piped_to_the_notifier(
    mail_server: MailServer,
) -> None:
    """Delivery waits for Sieve's pipe (a Python process per recipient): a mailbox no rule
    names (carol) is delivered without it; alice's delivery is still piped."""
    to_carol = _inbound(mail_server, "carol", "PO-7777 for carol")
    to_alice = _inbound(mail_server, "alice", "PO-7778 for alice")
    mail_server.fetch("carol", to_carol)
    mail_server.fetch("alice", to_alice)
    log = mail_server.p("/var/log/hkmail/dovecot.log").read_text()

    def sieve_lines(mid: str) -> list[str]:
        return [ln for ln in log.splitlines() if f"msgid={mid}" in ln]

    carol, alice = sieve_lines(to_carol), sieve_lines(to_alice)
    assert any("stored mail into mailbox 'INBOX'" in ln for ln in carol), log[-3000:]
    assert not any("pipe action" in ln for ln in carol), carol
    assert any("pipe action: piped message to program" in ln for ln in alice), log[-3000:]


def test_a_burst_of_100_arrives_as_digests_within_the_limit_with_none_lost(
    mail_server: MailServer, platforms: dict[str, FakePlatform]
) -> None:
    dt = platforms["sales"]
    start = len(dt.accepted)
    subjects = [f"PO-B{i:03d} burst" for i in range(100)]
    with smtplib.SMTP("127.0.0.1", mail_server.ports.smtp, timeout=60,
                      source_address=(PARTNER_IP, 0)) as c:  # fmt: skip
        for s in subjects:
            _inbound(mail_server, "alice", s, client=c)

    def all_arrived() -> bool:
        return all(f"Subject: {s}\n" in "\n".join(dt.texts[start:]) + "\n" for s in subjects)

    _wait("all 100 notified", all_arrived, mail_server, timeout=240)
    texts = "\n".join(dt.texts[start:]) + "\n"
    assert [texts.count(f"Subject: {s}\n") for s in subjects] == [1] * 100
    assert dt.refused == []  # never over DingTalk's 20 a minute
    assert any(t.startswith("Digest: ") for t in dt.texts[start:])
    assert len(dt.accepted) - start < 100


def test_the_notify_log_holds_outcomes_not_content(
    mail_server: MailServer, platforms: dict[str, FakePlatform]
) -> None:
    dt = platforms["sales"]
    leak = "password=Hunter2-AKIAIOSFODNN7EXAMPLE"
    _inbound(mail_server, "alice", f"PO-9999 {leak}")
    _wait("notified", lambda: leak in "\n".join(dt.texts), mail_server)
    log = mail_server.p(NOTIFY_LOG_DIR + "/notify.log").read_text()
    assert '"event": "sent"' in log
    for needle in ("Hunter2", "AKIA", "PO-9999", "buyer@", dt.token, dt.secret):
        assert needle not in log
    logs = [f for f in mail_server.p("/var/log").rglob("*") if f.is_file()]
    assert mail_server.p("/var/log/hkmail/postfix.log") in logs
    for f in logs:
        text = f.read_text(errors="replace")
        assert "Hunter2" not in text and dt.token not in text and dt.secret not in text, f
    st = mail_server.p(NOTIFY_LOG_DIR).stat()
    assert st.st_mode & 0o007 == 0  # not world-readable


# ------------------------------------------------------------------------------------------------
# The rendering: user-data with notify rules
# ------------------------------------------------------------------------------------------------


def _server_config(notify_config: NotifyConfig | None) -> MailServerConfig:
    return MailServerConfig(
        domain=DOMAIN,
        hostname=HOST,
        dkim_selector="hk1",
        admin_cidr="203.0.113.0/24",
        users=("orders", "finance", "ops"),
        mta_sts_policy="version: STSv1\r\nmode: enforce\r\nmx: mail.hkmail.test\r\nmax_age: 1\r\n",
        secrets=SecretRefs(
            "tencentcloud",
            "hkmail-mail",
            "hkmail-dkim",
            "hkmail-mailboxes",
            "hkmail-relay",
            notify_targets="hkmail-notify" if notify_config else None,
        ),
        data_device="/dev/vdb",
        notify=notify_config,
    )


def test_user_data_with_notify_rules_passes_cloud_init_schema(tmp_path: Path) -> None:
    binary = require_tool("cloud-init", "cloud-init")
    f = tmp_path / "user-data"
    text = user_data(_server_config(_config()))
    f.write_text(text)
    out = subprocess.run(
        [binary, "schema", "--config-file", str(f)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr
    doc = yaml.safe_load(text)
    files = {w["path"]: w for w in doc["write_files"]}
    conf = json.loads(files[NOTIFY_CONF]["content"])
    assert "url" not in json.dumps(conf["targets"]) and "secret" not in json.dumps(conf["targets"])
    assert conf["spool"].startswith("/var/vmail/")  # the encrypted data disk
    assert "dovecot-sieve" in doc["packages"]
    assert ["sievec", "-c", "/etc/dovecot/dovecot.conf", NOTIFY_SIEVE] in doc["runcmd"]
    assert "sieve_after" in files["/etc/dovecot/dovecot.conf"]["content"]
    settings_file = json.loads(files["/etc/hkmail/secrets.json"]["content"])
    assert settings_file["secrets"]["notify_targets"] == "hkmail-notify"  # a name, not a value
    # its ALARM lines reach the journal tagged hkmail-notify (what a log shipper matches)
    unit = files["/etc/systemd/system/hkmail-notify.service"]["content"]
    assert "\nSyslogIdentifier=hkmail-notify\n" in unit


def test_the_sieve_pipe_is_limited_to_the_named_mailboxes_unless_a_rule_names_none() -> None:
    def sieve(cfg: NotifyConfig) -> str:
        doc = yaml.safe_load(user_data(_server_config(cfg)))
        return next(f["content"] for f in doc["write_files"] if f["path"] == NOTIFY_SIEVE)

    named = sieve(_config())
    assert 'if envelope :localpart :is "to" ["finance", "ops", "orders"] {\n  pipe ' in named
    every = sieve(_config(recipients=()))  # the orders rule: every mailbox
    assert "envelope :localpart" not in every
    assert '\npipe :copy :try "hkmail-notify-enqueue" ["${recipient}"];\n' in every


def test_without_rules_nothing_of_notify_is_rendered() -> None:
    text = user_data(_server_config(None))
    doc = yaml.safe_load(text)
    paths = {w["path"] for w in doc["write_files"]}
    assert NOTIFY_CONF not in paths and "/etc/systemd/system/hkmail-notify.service" not in paths
    assert "sieve_after" not in text and "sievec" not in json.dumps(doc["runcmd"])


def test_rules_without_the_webhook_secret_name_are_refused() -> None:
    with pytest.raises(SpecErrors) as info:
        dataclasses.replace(
            _server_config(_config()),
            secrets=SecretRefs("tencentcloud", "r", "d", "m", "x"),
        )
    assert "mailServer.secrets.notifyTargets" in str(info.value)
