"""hkmail/facts.py holds each vendor fact once, and the programs shipped to the instance (which
run with the standard library only, so cannot import the library) carry equal copies."""

from __future__ import annotations

import re

from hkmail import facts
from hkmail.mailserver import fetch_secrets, notify
from hkmail.mailserver.notify_config import TODO_SECRET_KEY
from tests.dingtalk_support import API_HOST
from tests.support import REPO

_SOURCES = ("components", "toolchain", "policies", "bootstrap", "program.py")


def test_every_fact_is_used_somewhere() -> None:
    """An unused constant is a second, unlinked copy of a fact waiting to drift."""
    names = [n for n in vars(facts) if re.fullmatch(r"[A-Z][A-Z0-9_]+", n)]
    texts = []
    for top in _SOURCES:
        path = REPO / top
        texts += [p.read_text() for p in ([path] if path.is_file() else path.rglob("*.py"))]
    blob = "\n".join(texts)
    unused = [n for n in names if len(re.findall(rf"\b{n}\b", blob)) < 2]  # the definition only
    assert unused == [], f"constants of hkmail/facts.py used nowhere: {unused}"


def test_the_instance_programs_copies_of_the_dingtalk_facts_are_the_librarys() -> None:
    # the to-do app's key in the notify secret: the library checks it, fetch-secrets keeps it
    # beside the webhooks at boot, the notifier reads it from the targets file
    assert notify.TODO_APP == fetch_secrets.TODO_APP == TODO_SECRET_KEY
    # the notifier calls the host the library's plan states (settings carry the hosts)
    assert API_HOST in facts.DINGTALK_TODO_HOSTS
