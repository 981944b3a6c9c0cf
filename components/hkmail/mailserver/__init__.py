"""The private mail server of a Hong Kong deployment: Postfix, Dovecot, OpenDKIM and nginx on
Debian 12, configured from one typed input and installed by cloud-init."""

from hkmail.facts import DEPLOY_ZONES, TENCENT_SES_HK_SMTP
from hkmail.mailserver.cloudinit import PACKAGES, user_data, user_data_hash
from hkmail.mailserver.deploy import PrivateMailServerArgs, ptr_record
from hkmail.mailserver.model import MailServerConfig, Ports, Relay, SecretRefs
from hkmail.mailserver.render import Layout, Rendered, RenderedFile, render

__all__ = [
    "DEPLOY_ZONES",
    "PACKAGES",
    "TENCENT_SES_HK_SMTP",
    "Layout",
    "MailServerConfig",
    "Ports",
    "PrivateMailServerArgs",
    "Relay",
    "Rendered",
    "RenderedFile",
    "SecretRefs",
    "ptr_record",
    "render",
    "user_data",
    "user_data_hash",
]
