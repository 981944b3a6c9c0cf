"""The ``#cloud-config`` user-data that turns a fresh Debian 12 instance into the mail server.

It carries the rendered configuration and the names of the secrets, never a secret: the DKIM key,
the mailbox password hashes and the relay password are fetched at boot by hkmail-fetch-secrets
with the instance's role.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

import yaml

from hkmail.mailserver import journal, logship_files
from hkmail.mailserver.model import MailServerConfig
from hkmail.mailserver.render import (
    ACME_WEBROOT,
    AUTHPOLICY_DOVECOT_KEY,
    AUTHPOLICY_KEY,
    CERT_SCRIPT,
    DOVECOT_CONF,
    FETCH_SCRIPT,
    FROM_MILTER_USER,
    LOG_DIR,
    MILTER_DIRS,
    NOTIFY_LOG_DIR,
    NOTIFY_SIEVE,
    NOTIFY_SPOOL,
    OPENDKIM_DIR,
    OPENDKIM_UNBOUND_CONF,
    QUEUE_DIR,
    RATELIMIT_USER,
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
    # Pigeonhole Sieve with sieve_extprograms: the notify rules' pipe after delivery.
    "dovecot-sieve",
    "opendkim",
    "opendkim-tools",
    # Inbound SPF (at RCPT) and DMARC (at end of DATA) on port 25.
    "postfix-policyd-spf-python",
    "opendmarc",
    # The public suffix list: OpenDMARC's organisational domain of a subdomain's From.
    "publicsuffix",
    # hkmail-from-milter: the header From of submitted mail must belong to the login.
    "python3-milter",
    "nginx",
    # The certificate: ACME HTTP-01 through nginx, renewed by Debian's certbot.timer.
    "certbot",
    "unattended-upgrades",
    # Keeps the metadata service (the role's keys) root's alone (/etc/nftables.conf).
    "nftables",
    # Rotates the files hkmail-logship ships (/etc/logrotate.d/hkmail-alarm).
    "logrotate",
    "python3",
    "ca-certificates",
    "openssl",
)

# Started (and restarted with the rendered configs) by the boot; Postfix and Dovecot only once the
# CA-issued certificate is installed (hkmail-cert-deploy).
EARLY_SERVICES: Final = (
    "opendkim",
    "opendmarc",
    "hkmail-from-milter",
    "hkmail-ratelimit",
    "hkmail-authpolicy",
    "hkmail-journal-milter",
    "nginx",
)


# Debian's maintainer scripts start what they install: Postfix as "Internet Site" with the snakeoil
# certificate, Dovecot, and the rest, before runcmd could stop them. A policy-rc.d that exits 101
# forbids every such start (init-system-helpers, README.policy-rc.d; deb-systemd-invoke and
# invoke-rc.d honour it). bootcmd writes it, once per instance, before the packages module runs;
# runcmd removes it and starts each service itself, Postfix and Dovecot only with the certificate.
POLICY_RC_D: Final = "/usr/sbin/policy-rc.d"
POSTFIX_DEBCONF: Final = "postfix postfix/main_mailer_type select No configuration"


def _bootcmd(rendered: Rendered) -> list[list[str]]:
    p = rendered.layout.p
    deny = f"printf '#!/bin/sh\\nexit 101\\n' > {p(POLICY_RC_D)} && chmod 0755 {p(POLICY_RC_D)}"
    return [
        ["cloud-init-per", "once", "hkmail-no-autostart", "sh", "-c", deny],
        [
            "cloud-init-per",
            "once",
            "hkmail-postfix-debconf",
            "sh",
            "-c",
            f"echo '{POSTFIX_DEBCONF}' | debconf-set-selections",
        ],
    ]


def _runcmd(config: MailServerConfig, rendered: Rendered) -> list[str | list[str]]:
    p = rendered.layout.p
    key = p(AUTHPOLICY_KEY)
    milter_dirs: list[str | list[str]] = [
        # setgid postfix: each socket gets group postfix (mode 0770 from the milter's umask), the
        # directory 0750 keeps every other user from reaching it.
        ["install", "-d", "-o", user, "-g", "postfix", "-m", "2750", p(path)]
        for user, path in MILTER_DIRS
    ]
    notify: list[str | list[str]] = []
    if config.notify is not None:
        # The spool lives on the encrypted data disk beside the mailboxes; Sieve (as vmail)
        # writes it and the service (as vmail) reads it. The global script is compiled once
        # by root: vmail may not write beside it.
        notify = [
            ["install", "-d", "-o", "vmail", "-g", "vmail", "-m", "0700", p(NOTIFY_SPOOL)],
            ["install", "-d", "-o", "vmail", "-g", "adm", "-m", "0750", p(NOTIFY_LOG_DIR)],
            ["sievec", "-c", p(DOVECOT_CONF), p(NOTIFY_SIEVE)],
        ]
    return [
        # Packages may start their services again (bootcmd's policy-rc.d is for the first install).
        ["rm", "-f", p(POLICY_RC_D)],
        # Mailbox owner with a fixed uid, so a restored data disk keeps its ownership.
        f"getent group vmail || groupadd --system --gid {VMAIL_UID} vmail",
        (
            f"id vmail || useradd --system --uid {VMAIL_UID} --gid vmail "
            f"--home-dir {p(VMAIL_DIR)} --shell /usr/sbin/nologin vmail"
        ),
        (
            f"id {FROM_MILTER_USER} || useradd --system --user-group --no-create-home "
            f"--home-dir /nonexistent --shell /usr/sbin/nologin {FROM_MILTER_USER}"
        ),
        (
            f"id {RATELIMIT_USER} || useradd --system --user-group --no-create-home "
            f"--home-dir /nonexistent --shell /usr/sbin/nologin {RATELIMIT_USER}"
        ),
        # The key between Dovecot and hkmail-authpolicy: made once, never in the user-data.
        (
            f"[ -s {key} ] || (umask 077 && openssl rand -hex 32 > {key})"
            f" && chown root:{RATELIMIT_USER} {key} && chmod 0640 {key}"
            " && (umask 077 && printf 'auth_policy_server_api_header = X-API-Key:%s\\n'"
            f' "$(cat {key})" > {p(AUTHPOLICY_DOVECOT_KEY)})'
        ),
        ["install", "-d", "-o", "vmail", "-g", "vmail", "-m", "0750", p(VMAIL_DIR)],
        *_journal_dirs(config, rendered),
        *logship_files.runcmd(config, p),
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
        *milter_dirs,
        ["install", "-d", "-o", "root", "-g", "adm", "-m", "0750", p(LOG_DIR)],
        ["install", "-d", "-m", "0755", p(ACME_WEBROOT)],
        *notify,
        # OpenDKIM's resolver forwards to the instance's own (VPC) resolvers.
        (
            # (a resolver on the instance itself, e.g. 127.0.0.53, is allowed too).
            "{ echo 'server:'; echo '  do-not-query-localhost: no'; "
            "echo 'forward-zone:'; echo '  name: \".\"'; "
            "awk '/^nameserver/ {print \"  forward-addr: \" $2}' /etc/resolv.conf; } "
            f"> {p(OPENDKIM_UNBOUND_CONF)}"
        ),
        # Secrets from the Hong Kong secret store, with the instance role; fails the boot loudly.
        ["python3", p(FETCH_SCRIPT), p(SECRETS_CONF)],
        ["rm", "-f", "/etc/nginx/sites-enabled/default"],
        # No TLS service before a CA-issued certificate: the packages' Postfix and Dovecot (started
        # at install with a snake-oil certificate) stop until hkmail-cert-deploy starts them.
        ["systemctl", "disable", "--now", "postfix", "dovecot"],
        ["systemctl", "daemon-reload"],
        ["systemctl", "enable", "nftables"],
        ["systemctl", "restart", "nftables"],
        ["systemctl", "enable", *EARLY_SERVICES],
        ["systemctl", "restart", *EARLY_SERVICES],
        *(
            [["systemctl", "enable", "hkmail-notify"], ["systemctl", "restart", "hkmail-notify"]]
            if config.notify is not None
            else []
        ),
        # (certbot and unattended-upgrades did not start at install: policy-rc.d.)
        [
            "systemctl",
            "enable",
            "--now",
            "hkmail-cert.timer",
            "hkmail-psl.path",
            "certbot.timer",
            "unattended-upgrades",
        ],
        *(
            [
                ["systemctl", "enable", "--now", "hkmail-journal-upload"],
                ["systemctl", "enable", "--now", "hkmail-backup.timer"],
            ]
            if config.archive_bucket
            else []
        ),
        *(
            [["systemctl", "enable", "--now", "hkmail-logship"]]
            if logship_files.enabled(config)
            else []
        ),
        # The first issuance; if DNS does not point here yet, the timer retries every 10 minutes.
        f"{p(CERT_SCRIPT)} || echo 'hkmail: no certificate yet, hkmail-cert.timer retries' >&2",
    ]


def _journal_dirs(config: MailServerConfig, rendered: Rendered) -> list[str | list[str]]:
    """The journal milter's user and its spool on the data disk (0700: mail content)."""
    p = rendered.layout.p
    user = journal.JOURNAL_USER
    spool = p(journal.JOURNAL_SPOOL)
    return [
        (
            f"id {user} || useradd --system --user-group --no-create-home "
            f"--home-dir /nonexistent --shell /usr/sbin/nologin {user}"
        ),
        *(
            ["install", "-d", "-o", user, "-g", user, "-m", "0700", d]
            for d in (spool, spool + "/tmp", spool + "/new")
        ),
        ["install", "-d", "-o", "root", "-g", "root", "-m", "0700", p("/var/lib/hkmail")],
    ]


# Where the Postfix queue lives on the encrypted data disk (mounted at VMAIL_DIR; a name no domain
# directory can have).
QUEUE_ON_DATA_DISK: Final = VMAIL_DIR + "/.postfix-queue"


def _queue_to_data_disk() -> str:
    """Move the queue the package created on the system disk to the data disk, once."""
    q, target = QUEUE_DIR, QUEUE_ON_DATA_DISK
    return (
        f"systemctl stop postfix && if ! mountpoint -q {q}; then "
        f"install -d -o root -g root -m 0755 {target} && "
        f"{{ [ -e {target}/public ] || cp -a {q}/. {target}/; }} && "
        f"mount {q} && mountpoint -q {q}; fi"
    )


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
        # SSH by key only (the key pair is the cloud component's); no password logins at all.
        "ssh_pwauth": False,
        "bootcmd": _bootcmd(rendered),
        "disable_root": True,
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
        doc["mounts"] = [
            [f"LABEL={label}", VMAIL_DIR, "ext4", "defaults,nofail", "0", "2"],
            # The mail queue too (messages in transit are mail content): bind-mounted from the
            # data disk over the queue directory, once the boot has moved it there.
            [
                QUEUE_ON_DATA_DISK,
                QUEUE_DIR,
                "none",
                f"bind,nofail,x-systemd.requires-mounts-for={VMAIL_DIR}",
                "0",
                "0",
            ],
        ]
        doc["runcmd"] = [_queue_to_data_disk(), *doc["runcmd"]]
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
