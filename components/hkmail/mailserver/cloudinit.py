"""The ``#cloud-config`` user-data that turns a fresh Debian 12 instance into the mail server.

It carries the rendered configuration and the names of the secrets, never a secret: the DKIM key,
the mailbox password hashes and the relay password are fetched at boot by hkmail-fetch-secrets
with the instance's role.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

import yaml

from hkmail.mailserver.model import MailServerConfig
from hkmail.mailserver.render import (
    FETCH_SCRIPT,
    OPENDKIM_DIR,
    SECRETS_CONF,
    VMAIL_DIR,
    VMAIL_UID,
    Rendered,
    render,
)

# Debian 12 packages the server needs (also what CI installs to run the real-daemon tests).
PACKAGES: Final = (
    "postfix",
    # Postfix's SMTP client authenticates to the relay through Cyrus SASL, whose PLAIN/LOGIN
    # mechanisms are in this package (only "Suggested" by postfix, so never pulled in).
    "libsasl2-modules",
    "dovecot-imapd",
    "dovecot-lmtpd",
    "opendkim",
    "opendkim-tools",
    "nginx",
    "python3",
    "ca-certificates",
    "openssl",
)


def _runcmd(config: MailServerConfig, rendered: Rendered) -> list[str | list[str]]:
    p = rendered.layout.p
    cert, key = p(config.tls_cert), p(config.tls_key)
    return [
        # Mailbox owner with a fixed uid, so a restored data disk keeps its ownership.
        f"getent group vmail || groupadd --system --gid {VMAIL_UID} vmail",
        (
            f"id vmail || useradd --system --uid {VMAIL_UID} --gid vmail "
            f"--home-dir {p(VMAIL_DIR)} --shell /usr/sbin/nologin vmail"
        ),
        ["install", "-d", "-o", "vmail", "-g", "vmail", "-m", "0750", p(VMAIL_DIR)],
        [
            "install",
            "-d",
            "-o",
            "opendkim",
            "-g",
            "opendkim",
            "-m",
            "0700",
            p(OPENDKIM_DIR + "/keys"),
        ],
        # Secrets from the Hong Kong secret store, with the instance role; fails the boot loudly.
        ["python3", p(FETCH_SCRIPT), p(SECRETS_CONF)],
        # Until a CA-issued certificate is installed at these paths (MTA-STS needs one), a
        # self-signed one lets the daemons start; it is never overwritten once present.
        (
            f"test -s {cert} || (install -d -m 0755 $(dirname {cert}) && "
            f"openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN={config.hostname} "
            f"-addext subjectAltName=DNS:{config.hostname},DNS:mta-sts.{config.domain} "
            f"-keyout {key} -out {cert} && chmod 0600 {key})"
        ),
        ["rm", "-f", "/etc/nginx/sites-enabled/default"],
        ["systemctl", "enable", "postfix", "dovecot", "opendkim", "nginx"],
        ["systemctl", "restart", "opendkim", "dovecot", "postfix", "nginx"],
    ]


def user_data_document(config: MailServerConfig, rendered: Rendered) -> dict[str, Any]:
    write_files = [
        {
            "path": f.path,
            "content": f.content,
            "permissions": f"0{f.mode:o}",
            "owner": f.owner,
            # After the packages: our files replace theirs instead of racing dpkg's conffiles.
            "defer": True,
        }
        for f in rendered.files
    ]
    doc: dict[str, Any] = {
        "package_update": True,
        "packages": list(PACKAGES),
        "write_files": write_files,
        "runcmd": _runcmd(config, rendered),
    }
    if config.data_device:
        # The encrypted data disk holds every mailbox; formatted only if it has no filesystem.
        label = "hkmail-data"
        doc["fs_setup"] = [
            {"label": label, "filesystem": "ext4", "device": config.data_device, "overwrite": False}
        ]
        doc["mounts"] = [[f"LABEL={label}", VMAIL_DIR, "ext4", "defaults,nofail", "0", "2"]]
    return doc


class _Dumper(yaml.SafeDumper):
    """Multi-line file contents as literal blocks, so the user-data reads like the files."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value and "\r" not in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def user_data(config: MailServerConfig, rendered: Rendered | None = None) -> str:
    """The user-data text. Pass the same ``rendered`` the tests installed to get their files."""
    r = rendered or render(config)
    body = yaml.dump(user_data_document(config, r), Dumper=_Dumper, sort_keys=False, width=1000)
    return "#cloud-config\n" + body


def user_data_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
