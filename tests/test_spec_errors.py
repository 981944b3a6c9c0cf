"""What a stack-config error shows of a value: the value as written, except a credential, which is
never echoed whichever section or check reports it (hkmail/errors.py)."""

from __future__ import annotations

import copy

import pytest

from hkmail.errors import SpecError, SpecErrors
from hkmail.spec import read_stack
from tests.conftest import stack_config


def test_an_unknown_secret_named_key_in_any_section_is_not_echoed() -> None:
    config = copy.deepcopy(stack_config("private-tencent"))
    config["hkmail:privateServer"]["relayPassword"] = "SUPERSECRET-1"
    config["hkmail:privateServer"]["colour"] = "blue"
    with pytest.raises(SpecErrors) as info:
        read_stack(config)
    errors = {e.field: str(e) for e in info.value.errors}
    assert "'[not shown]'" in errors["hkmail:privateServer.relayPassword"], errors
    assert "'blue' is not valid" in errors["hkmail:privateServer.colour"], errors
    assert "SUPERSECRET" not in str(info.value)


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        ("a.apiToken", "tok-1", "'[not shown]'"),
        ("a.b[2].signingSecret", "s-1", "'[not shown]'"),
        ("a.extra", {"name": "x", "appKey": "k-1"}, "{'name': 'x', 'appKey': '[not shown]'}"),
        ("a.hook", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k-1", "'[not shown]'"),
        ("a.hook", "https://open.feishu.cn/open-apis/bot/v2/hook/k-1", "'[not shown]'"),
        ("a.list", ["ok", "https://x.example/?access_token=k-1"], "['ok', '[not shown]']"),
        ("a.zone", "ap-guangzhou-3", "'ap-guangzhou-3'"),
        ("hkmail:dkimPrivateKey", "(secret value, not shown)", "'(secret value, not shown)'"),
    ],
)
def test_what_an_error_shows(field: str, value: object, shown: str) -> None:
    error = SpecError(field, value, "something else")
    assert str(error).startswith(f"{field}: {shown} is not valid"), str(error)
    assert "k-1" not in str(error) and "tok-1" not in str(error) and "s-1" not in str(error)
