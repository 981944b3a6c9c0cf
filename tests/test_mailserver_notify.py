"""hkmail-notify against loopback HTTPS endpoints that play DingTalk, WeCom and Lark and verify
every request as the platform documents it (tests/notify_support.py).

The notifier and the endpoints share one clock, so a burst over a minute or an endpoint down for
five minutes plays out in well under a second of real time; the requests themselves are real
(TLS with the host name verified, signatures checked by the endpoint, rate limits enforced).
The end-to-end path through Postfix, Dovecot and Sieve is tested in test_mailserver_daemons.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from hkmail.errors import SpecError
from hkmail.mailserver import notify
from hkmail.mailserver.notify_config import (
    NotifyConfig,
    NotifyDeclaration,
    NotifyRule,
    NotifyTarget,
    check,
    settings,
)
from tests.notify_support import FakePlatform, loopback_connect, platform_ca

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
    cfg = _config()
    s = settings(
        cfg,
        hostname=HOST,
        domain=DOMAIN,
        spool=str(tmp_path / "spool"),
        maildir=str(tmp_path / "vmail/{domain}/{user}/Maildir"),
        log=str(tmp_path / "notify.log"),
        targets_file=str(tmp_path / "targets.json"),
        ca_file=str(ca),
    )
    (tmp_path / "targets.json").write_text(
        json.dumps({t: {"url": f.url, "secret": f.secret} for t, f in fakes.items()})
    )
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
