"""hkmail-logship on the shared running mail server: the real daemons' alarm lines reach a log
store (a fake CLS on loopback that checks every TC3 signature with Tencent's SDK and decodes every
batch), through the rendered drop-ins, files, user and unit.

- hkmail-authpolicy is told of a sprayer's failed logins over its HTTP API, as Dovecot tells it
  (tests/test_mailserver_attacks.py proves Dovecot does, with a real IMAP sprayer), until it logs
  its BLOCK line (a documentation address, so no real client is blocked);
- hkmail-ratelimit is asked over its Postfix policy socket (the protocol Postfix speaks) for a
  login of this test's own, so the logins other tests send with keep their hourly budget.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from hkmail.mailserver import logship_files
from hkmail.mailserver.render import AUTHPOLICY_KEY, RATELIMIT_SOCKET
from tests.logship_support import FakeCLS
from tests.mailserver_support import DOMAIN, MailServer, Setup, extend
from tests.support import FakeCloud, serve

TOPIC = "7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d"
SPRAYER = "192.0.2.77"
DEADLINE = 120.0  # seconds for a line to reach the store on a loaded machine


@extend("logship")
@contextlib.contextmanager
def _logship(setup: Setup) -> Iterator[None]:
    cloud = FakeCloud("tencentcloud", setup.config.secrets.role_name, {})
    store = FakeCLS((cloud.key_id, cloud.key_secret, cloud.token), TOPIC)
    setup.config = dataclasses.replace(setup.config, server_log="hk-mail-audit/hk-mail-server")
    setup.extras["logstore"] = store
    setup.extras["logstore_cloud"] = cloud
    try:
        yield
    finally:
        store.stop()


@pytest.fixture(scope="module")
def store(mail_server: MailServer) -> Iterator[FakeCLS]:
    """The rendered hkmail-logship, run as its unit runs it, against the fake CLS."""
    fake: FakeCLS = mail_server.extras["logstore"]
    unit_text = mail_server.rendered.by_path("/etc/systemd/system/hkmail-logship.service").content
    unit = dict(line.split("=", 1) for line in unit_text.splitlines() if "=" in line)
    out = mail_server.p("/var/log/logship-test.log").open("ab")
    with serve(mail_server.extras["logstore_cloud"]) as metadata:
        env = {**os.environ, "HKMAIL_METADATA_URL": metadata, "HKMAIL_LOGSTORE_URL": fake.url}
        proc = subprocess.Popen(
            [
                "sh",
                "-c",
                f'umask {unit["UMask"]} && exec "$@"',
                "sh",
                "setpriv",
                f"--reuid={unit['User']}",
                f"--regid={unit['Group']}",
                f"--groups={unit['SupplementaryGroups']}",
                *unit["ExecStart"].split(),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            yield fake
        finally:
            proc.terminate()
            proc.wait(10)
            out.close()


def _wait_for(
    store: FakeCLS, mail_server: MailServer, want: Any, what: str
) -> list[dict[str, str]]:
    deadline = time.monotonic() + DEADLINE
    while True:
        found = [e for e in store.entries() if want(e)]
        if found:
            return found
        if time.monotonic() > deadline:
            shipper = mail_server.p("/var/log/logship-test.log")
            alarm_dir = mail_server.p(logship_files.ALARM_LOG_DIR)
            files = {
                f.name: f.read_text()[-1500:] for f in sorted(alarm_dir.iterdir()) if f.is_file()
            }
            raise AssertionError(
                f"{what} did not reach the log store in {DEADLINE:.0f} s; refused: "
                f"{store.refused}; shipper: {shipper.read_text()[-2000:]}; files: {files}"
            )
        time.sleep(0.5)


def _policy(mail_server: MailServer, command: str, body: dict[str, Any]) -> dict[str, Any]:
    """One request to hkmail-authpolicy as Dovecot's auth policy client sends it."""
    key = mail_server.p(AUTHPOLICY_KEY).read_text().strip()
    req = urllib.request.Request(
        f"http://127.0.0.1:{mail_server.ports.auth_policy}/?command={command}",
        data=json.dumps(body).encode(),
        headers={"X-API-Key": key, "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        answer: dict[str, Any] = json.load(resp)
        return answer


def test_a_sprayers_block_line_reaches_the_log_store_as_an_alarm(
    mail_server: MailServer, store: FakeCLS
) -> None:
    for _ in range(mail_server.config.auth_failure_limit):
        _policy(mail_server, "report", {"remote": SPRAYER, "success": False})
    assert _policy(mail_server, "allow", {"remote": SPRAYER})["status"] == -1
    found = _wait_for(
        store,
        mail_server,
        lambda e: f"hkmail-authpolicy: BLOCK remote={SPRAYER} " in e.get("message", ""),
        f"the BLOCK line of {SPRAYER}",
    )
    assert found[0]["severity"] == "alarm" and found[0]["source"] == "authpolicy", found
    assert found[0]["host"] == mail_server.config.hostname
    assert len(found) == 1, found  # shipped once
    assert not store.refused


def test_a_rate_limit_hit_reaches_the_log_store_as_an_alarm(
    mail_server: MailServer, store: FakeCLS
) -> None:
    login = f"logship-probe@{DOMAIN}"
    limit = mail_server.config.recipients_per_hour
    answers = []
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(60)
        s.connect(str(mail_server.p(RATELIMIT_SOCKET)))
        f = s.makefile("rwb")
        for i in range(limit + 1):
            request = (
                "request=smtpd_access_policy\nprotocol_state=RCPT\nsasl_username="
                f"{login}\nrecipient=probe{i}@example.net\nclient_address=192.0.2.9\n\n"
            )
            f.write(request.encode())
            f.flush()
            answers.append(f.readline().decode().strip())
            f.readline()  # the empty line that ends an answer
    assert answers[:-1] == ["action=DUNNO"] * limit and answers[-1].startswith("action=450"), (
        answers[-3:]
    )
    found = _wait_for(
        store,
        mail_server,
        lambda e: f"hkmail-ratelimit: LIMIT user={login} kind=recipients" in e.get("message", ""),
        f"the LIMIT line of {login}",
    )
    assert found[0]["severity"] == "alarm" and found[0]["source"] == "ratelimit", found
    assert len(found) == 1, found  # shipped once
    assert not store.refused
