"""scripts/archive restore: a mailbox destroyed on a real Dovecot is restored over IMAP from a
real Dovecot serving the copy (as a restored backup Maildir is served), every message with its
flags and internal date; a folder and date range alone; a mailbox that does not exist is refused
with nothing changed."""

from __future__ import annotations

import collections
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.imap_support import Corpus, Dovecot, build_corpus, dovecot_pair
from toolchain import archive

pytestmark = pytest.mark.integration

COPY = {"carol": "copy-Pa55"}
LIVE = {"carol": "live-Pa55"}


@dataclass
class Env:
    copy: Dovecot
    live: Dovecot
    ca: Path
    corpus: Corpus
    passwords: Path


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    files = tmp_path_factory.mktemp("restore")
    corpus = build_corpus(files / "corpus", users={"carol": 0.03})
    with dovecot_pair(COPY, LIVE) as (copy, live, ca):
        copy.load(corpus)
        live.load(corpus)  # the live mailbox before it is lost
        pw = files / "passwords"
        pw.write_text(
            "source carol copy-Pa55\ndestination carol live-Pa55\ndestination zed zed-Pa55\n"
        )
        pw.chmod(0o600)
        yield Env(copy, live, ca, corpus, pw)


def _args(env: Env, *extra: str) -> list[str]:
    return [
        "restore",
        *("--source", f"127.0.0.1:{env.copy.port}", "--source-security", "ssl"),
        *("--source-cafile", str(env.ca)),
        *("--server", f"hkmail:127.0.0.1:{env.live.port}", "--server-cafile", str(env.ca)),
        *("--passwords", str(env.passwords)),
        *extra,
    ]


def _state(server: Dovecot, env: Env, folder: str | None = None) -> collections.Counter[Any]:
    """Every message of the mailbox (or one folder): headers, size, flags, internal date."""
    c: Any = server.client("carol", env.ca)
    out: collections.Counter[Any] = collections.Counter()
    try:
        c.normalise_times = False
        for flags, _d, name in c.list_folders():
            if b"\\Noselect" in flags or (folder is not None and name != folder):
                continue
            c.select_folder(name, readonly=True)
            ids = c.search(["ALL"])
            if not ids:
                continue
            got = c.fetch(
                ids,
                ["FLAGS", "INTERNALDATE", "RFC822.SIZE",
                 "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID SUBJECT DATE)]"],
            )  # fmt: skip
            for data in got.values():
                out[
                    (
                        data[b"BODY[HEADER.FIELDS (MESSAGE-ID SUBJECT DATE)]"],
                        data[b"RFC822.SIZE"],
                        frozenset(f for f in data[b"FLAGS"] if f != b"\\Recent"),
                        data[b"INTERNALDATE"].astimezone(dt.UTC),
                    )
                ] += 1
    finally:
        c.logout()
    return out


def _destroy(server: Dovecot, env: Env, folder: str | None = None) -> None:
    c: Any = server.client("carol", env.ca)
    try:
        for flags, _d, name in c.list_folders():
            if b"\\Noselect" in flags or (folder is not None and name != folder):
                continue
            c.select_folder(name)
            c.delete_messages(c.search(["ALL"]))
            c.expunge()
    finally:
        c.logout()


def test_a_destroyed_mailbox_is_restored_with_every_flag_and_date(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _state(env.copy, env)
    assert sum(before.values()) == env.corpus.count("carol")
    assert any(b"\\Flagged" in k[2] for k in before) and any(b"\\Seen" in k[2] for k in before)
    _destroy(env.live, env)
    assert sum(_state(env.live, env).values()) == 0
    assert archive.main(_args(env, "--user", "carol")) == 0, capsys.readouterr().err
    assert "0 missing, 0 differing" in capsys.readouterr().out
    assert _state(env.live, env) == before
    # Incremental: a second run restores nothing twice.
    assert archive.main(_args(env, "--user", "carol")) == 0
    assert "archive restore: 0 message(s) restored" in capsys.readouterr().out
    assert _state(env.live, env) == before


def test_one_folder_and_a_date_range(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    _destroy(env.live, env, "INBOX")
    since, until = dt.date(2021, 1, 1), dt.date(2023, 1, 1)
    want = collections.Counter(
        {k: n for k, n in _state(env.copy, env, "INBOX").items() if since <= k[3].date() < until}
    )
    assert 0 < sum(want.values()) < env.corpus.count("carol", "INBOX")
    code = archive.main(
        _args(env, "--user", "carol", "--folder", "INBOX", "--since", "2021-01-01",
              "--before", "2023-01-01")
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert _state(env.live, env, "INBOX") == want


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--source-user", "carol", "--user", "zed"], "--user: zed has no mailbox on 127.0.0.1:"),
        (["--user", "carol", "--folder", "Nope"], "--folder: Nope not in carol's copy; allowed:"),
        (["--user", "carol", "--since", "2023-13-01"], "--since: '2023-13-01' is not valid"),
    ],
)
def test_bad_input_is_refused_and_nothing_changes(
    env: Env, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    live = _state(env.live, env)
    assert archive.main(_args(env, *extra)) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert "live-Pa55" not in err and "zed-Pa55" not in err
    assert _state(env.live, env) == live
    assert not (env.live.mail / "zed").exists()
