"""hkmail-authpolicy alone, as Dovecot's auth policy client talks to it: kept-alive connections,
a key that must match, and a per-address block (the sprayer test in test_mailserver_attacks
proves it through Dovecot)."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from tests.support import free_port, wait_for_tcp

KEY = "k3y-for-dovecot-only"
LIMIT = 3


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    root = tmp_path_factory.mktemp("authpolicy")
    key_file = root / "key"
    key_file.write_text(KEY + "\n")
    script = Path(str(resources.files("hkmail.mailserver").joinpath("authpolicy.py")))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-I", str(script), str(port), str(key_file), str(LIMIT)],
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_tcp(port, timeout=15.0)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def _ask(
    conn: http.client.HTTPConnection, command: str, body: dict[str, object], key: str = KEY
) -> tuple[int, dict[str, object]]:
    data = json.dumps(body).encode()
    conn.request(
        "POST",
        f"/?command={command}",
        body=data,
        headers={"X-API-Key": key, "Content-Type": "application/json"},
    )
    response = conn.getresponse()
    return response.status, json.loads(response.read())


def test_a_refused_request_leaves_the_kept_alive_connection_usable(policy: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", policy, timeout=10)
    try:
        # A local user without the key is refused, and its body is not read as a request ...
        assert _ask(conn, "report", {"remote": "192.0.2.9"}, key="guess") == (
            403,
            {"status": 0, "msg": "forbidden"},
        )
        # ... so Dovecot's next request on the same connection is answered as itself.
        assert _ask(conn, "allow", {"remote": "192.0.2.9"}) == (200, {"status": 0})
    finally:
        conn.close()


def test_an_address_is_blocked_after_its_failures_and_others_are_not(policy: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", policy, timeout=10)
    try:
        for _ in range(LIMIT):
            assert _ask(conn, "allow", {"remote": "198.51.100.7"})[1] == {"status": 0}
            assert _ask(conn, "report", {"remote": "198.51.100.7", "success": False})[0] == 200
        status, answer = _ask(conn, "allow", {"remote": "198.51.100.7"})
        assert status == 200 and answer["status"] == -1, answer
        # Failures reported in another's name without the key count for nothing.
        for _ in range(LIMIT):
            _ask(conn, "report", {"remote": "198.51.100.8", "success": False}, key="guess")
        assert _ask(conn, "allow", {"remote": "198.51.100.8"})[1] == {"status": 0}
    finally:
        conn.close()


def test_a_malformed_length_is_refused_and_the_connection_closed(policy: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", policy, timeout=10)
    try:
        conn.putrequest("POST", "/?command=allow")
        conn.putheader("X-API-Key", KEY)
        conn.putheader("Content-Length", "not-a-number")
        conn.endheaders()
        response = conn.getresponse()
        assert response.status == 400
        assert response.getheader("Connection") == "close"
    finally:
        conn.close()
