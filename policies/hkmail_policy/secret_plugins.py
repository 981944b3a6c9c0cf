"""detect-secrets plugins for credentials its built-in plugins do not know: Alibaba Cloud
AccessKey ids, Tencent Cloud SecretId, bearer tokens, and the chat platforms' webhook tokens the
notify rules use (DingTalk, WeCom, Lark/Feishu). Loaded by path (payload.py); each is a
RegexBasedDetector, so detect-secrets' filters (placeholders, templates) apply to them too."""

from __future__ import annotations

import re

from detect_secrets.plugins.base import RegexBasedDetector


class AlibabaAccessKeyDetector(RegexBasedDetector):
    """Alibaba Cloud RAM AccessKey ids start with LTAI."""

    secret_type = "Alibaba Cloud AccessKey ID"
    denylist = (re.compile(r"\b(LTAI[A-Za-z0-9]{12,30})\b"),)


class TencentSecretIdDetector(RegexBasedDetector):
    """Tencent Cloud CAM SecretIds start with AKID."""

    secret_type = "Tencent Cloud SecretId"
    denylist = (re.compile(r"\b(AKID[A-Za-z0-9]{32})\b"),)


class BearerTokenDetector(RegexBasedDetector):
    secret_type = "Bearer token"
    denylist = (re.compile(r"(?i)\bbearer\s+([A-Za-z0-9._~+/-]{16,}=*)"),)


class ChatWebhookTokenDetector(RegexBasedDetector):
    secret_type = "Chat webhook token"
    denylist = (
        re.compile(r"oapi\.dingtalk\.com/robot/send\?access_token=([A-Za-z0-9]{16,})"),
        re.compile(r"qyapi\.weixin\.qq\.com/cgi-bin/webhook/send\?key=([A-Za-z0-9-]{16,})"),
        re.compile(
            r"open\.(?:feishu\.cn|larksuite\.com)/open-apis/bot/v2/hook/([A-Za-z0-9-]{16,})"
        ),
    )
