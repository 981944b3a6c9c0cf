from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from tests.mailserver_support import MailServer, running_server
from tests.support import REPO

# pytest-xdist: each shared fixture's tests on one worker (see the module).
from tests.xdist_groups import pytest_collection_modifyitems  # noqa: F401


def public_key_b64(bits: int = 2048) -> str:
    if bits < 1024:  # too weak for cryptography to generate; an odd modulus of that size will do
        key = rsa.RSAPublicNumbers(65537, (1 << (bits - 1)) | 0xF1).public_key()
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key()
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def ed25519_key_b64() -> str:
    raw = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    return base64.b64encode(raw).decode()


@pytest.fixture(scope="session")
def rsa2048() -> str:
    return public_key_b64(2048)


def stack_config(name: str) -> dict[str, Any]:
    data = yaml.safe_load((REPO / "stacks" / f"Pulumi.{name}.yaml").read_text())
    return dict(data["config"])


@pytest.fixture
def example_config() -> Callable[[str], dict[str, Any]]:
    return stack_config


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture(scope="session")
def mail_server() -> Iterator[MailServer]:
    """The rendered mail server's real daemons, started once per session and shared by every
    module; add settings with tests.mailserver_support.extend (see its docstring)."""
    with running_server() as server:
        yield server
