"""Who hears of a server alarm line: the format of privateServer.alarmNotice on each cloud.

Alibaba: the SLS alert's action policy id (hk-mail accepts letters, digits, '.', '_', '-');
Tencent: a CLS notice group id, ``notice-<uuid>`` (the format of the tencentcloud provider's
ClsAlarm example). Read by the stack reader and checked again by the server components.
"""

from __future__ import annotations

import re
from typing import Final

from hkmail.facts import Cloud

_PATTERN: Final[dict[Cloud, re.Pattern[str]]] = {
    "alicloud": re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"),
    "tencentcloud": re.compile(
        r"notice-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    ),
}
ALLOWED: Final[dict[Cloud, str]] = {
    "alicloud": "an SLS action policy id (letters, digits, '.', '_', '-')",
    "tencentcloud": "a CLS notice group id: notice-<uuid>",
}


def valid(cloud: Cloud, value: object) -> bool:
    return isinstance(value, str) and _PATTERN[cloud].fullmatch(value) is not None
