"""Render every file the mail server needs: Postfix, Dovecot, OpenDKIM, nginx (MTA-STS), the boot
script's settings and the boot script itself.

One rendering feeds both the cloud-init user-data and the real-daemon tests, so what is tested is
what the instance writes. Tests move the whole tree under a temporary ``root`` and the listeners to
high ports (:class:`Ports`); nothing else differs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Final

from hkmail.mailserver.model import MailServerConfig, Ports

VMAIL_UID: Final = 5000  # owner of all mailboxes; fixed so restored disks keep working
LISTEN_ALL: Final = "all"


@dataclass(frozen=True)
class RenderedFile:
    path: str  # absolute, including the layout root
    content: str
    mode: int = 0o644
    owner: str = "root:root"


@dataclass(frozen=True)
class Layout:
    """Where the tree lives and which address the daemons bind. Production: "/" and all."""

    root: str = ""
    listen: str = LISTEN_ALL  # "all" or one IPv4 address (tests: 127.0.0.1)

    def p(self, path: str) -> str:
        return self.root.rstrip("/") + path


@dataclass(frozen=True)
class Rendered:
    files: tuple[RenderedFile, ...]
    layout: Layout
    ports: Ports

    def by_path(self, path: str) -> RenderedFile:
        full = self.layout.p(path)
        for f in self.files:
            if f.path == full:
                return f
        raise KeyError(full)


# Paths on the server (before the layout root). Kept here so the boot script, the configs and the
# tests agree on them.
POSTFIX_DIR: Final = "/etc/postfix"
DOVECOT_CONF: Final = "/etc/dovecot/dovecot.conf"
DOVECOT_USERS: Final = "/etc/dovecot/users"
OPENDKIM_CONF: Final = "/etc/opendkim.conf"
OPENDKIM_DIR: Final = "/etc/opendkim"
NGINX_SITE: Final = "/etc/nginx/conf.d/hkmail-mta-sts.conf"
MTA_STS_FILE: Final = "/var/www/mta-sts/.well-known/mta-sts.txt"
SECRETS_CONF: Final = "/etc/hkmail/secrets.json"
FETCH_SCRIPT: Final = "/usr/local/sbin/hkmail-fetch-secrets"
RELAY_PASSWORD: Final = "/etc/postfix/relay_password"
QUEUE_DIR: Final = "/var/spool/postfix"
VMAIL_DIR: Final = "/var/vmail"
CA_BUNDLE: Final = "/etc/ssl/certs/ca-certificates.crt"


def dkim_key_path(selector: str) -> str:
    return f"{OPENDKIM_DIR}/keys/{selector}.private"


def render(
    config: MailServerConfig, layout: Layout | None = None, ports: Ports | None = None
) -> Rendered:
    lay = layout or Layout()
    prt = ports or Ports()
    files = (
        *_postfix(config, lay, prt),
        *_dovecot(config, lay, prt),
        *_opendkim(config, lay, prt),
        *_nginx(config, lay, prt),
        *_boot(config, lay),
    )
    return Rendered(files=files, layout=lay, ports=prt)


# ------------------------------------------------------------------------------------------------
# Postfix
# ------------------------------------------------------------------------------------------------


def _postfix(c: MailServerConfig, lay: Layout, prt: Ports) -> list[RenderedFile]:
    p = lay.p
    inet_interfaces = "all" if lay.listen == LISTEN_ALL else lay.listen
    main_cf = f"""\
# Rendered by hk-mail: changes here are overwritten by the next deployment.
compatibility_level = 3.6
config_directory = {p(POSTFIX_DIR)}
queue_directory = {p(QUEUE_DIR)}
data_directory = {p("/var/lib/postfix")}
# postlogd writes one file the log agent ships to the Hong Kong log store.
maillog_file = {p("/var/log/postfix.log")}
maillog_file_prefixes = {p("/var")}

myhostname = {c.hostname}
mydomain = {c.domain}
myorigin = $mydomain
# Every mailbox is virtual; no local(8) delivery, so no alias database is needed.
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = {inet_interfaces}
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_banner = $myhostname ESMTP
biff = no
append_dot_mydomain = no
readme_directory = no
disable_vrfy_command = yes
smtpd_helo_required = yes
message_size_limit = {c.message_size_limit}
mailbox_size_limit = 0

virtual_mailbox_domains = {c.domain}
virtual_mailbox_maps = texthash:{p(POSTFIX_DIR + "/vmailbox")}
virtual_alias_maps = texthash:{p(POSTFIX_DIR + "/virtual")}
virtual_transport = lmtp:unix:private/dovecot-lmtp

# Only authenticated clients may relay; anyone may deliver to our own domain (port 25).
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
smtpd_recipient_restrictions = reject_non_fqdn_recipient, reject_unlisted_recipient
# An authenticated user may only send as an address the login owns.
smtpd_sender_login_maps = texthash:{p(POSTFIX_DIR + "/sender_login")}

# SASL through Dovecot; enabled per service in master.cf (submission only, never port 25).
smtpd_sasl_type = dovecot
smtpd_sasl_path = private/auth
smtpd_sasl_auth_enable = no
smtpd_sasl_security_options = noanonymous
smtpd_tls_auth_only = yes

smtpd_tls_cert_file = {p(c.tls_cert)}
smtpd_tls_key_file = {p(c.tls_key)}
smtpd_tls_security_level = may
smtpd_tls_protocols = >=TLSv1.2
smtpd_tls_mandatory_protocols = >=TLSv1.2
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes

# OpenDKIM: signs what the submission services mark ORIGINATING, verifies the rest.
# tempfail: a message is never sent unsigned because the milter was down.
smtpd_milters = inet:127.0.0.1:{prt.milter}
non_smtpd_milters = $smtpd_milters
milter_default_action = tempfail
milter_protocol = 6

# Outbound: outbound port 25 is blocked on both clouds, so everything leaves through the relay,
# over implicit TLS ({c.relay.port}), with the relay's certificate verified.
relayhost = [{c.relay.host}]:{c.relay.port}
smtp_tls_wrappermode = yes
smtp_tls_security_level = secure
smtp_tls_mandatory_protocols = >=TLSv1.2
smtp_tls_CAfile = {p(CA_BUNDLE)}
smtp_tls_loglevel = 1
smtp_sasl_auth_enable = yes
smtp_sasl_password_maps = texthash:{p(RELAY_PASSWORD)}
smtp_sasl_security_options = noanonymous
smtp_sasl_tls_security_options = noanonymous
smtp_host_lookup = dns, native
"""
    submission_opts = [
        "-o syslog_name=postfix/submission{port}",
        "-o smtpd_sasl_auth_enable=yes",
        "-o smtpd_client_restrictions=permit_sasl_authenticated,reject",
        "-o smtpd_sender_restrictions=reject_sender_login_mismatch",
        "-o smtpd_relay_restrictions=permit_sasl_authenticated,reject",
        "-o smtpd_recipient_restrictions=permit_sasl_authenticated,reject",
        "-o milter_macro_daemon_name=ORIGINATING",
    ]

    def service(port: int, extra: list[str]) -> str:
        opts = "".join(f"\n  {o.format(port=port)}" for o in [*submission_opts, *extra])
        return f"{port} inet n - n - - smtpd{opts}"

    # chroot is off ("n") so the same file runs under systemd and under the tests' postfix -c.
    master_cf = f"""\
# Rendered by hk-mail.
# service type  private unpriv  chroot  wakeup  maxproc command + args
{prt.smtp} inet n - n - - smtpd
{service(prt.submission, ["-o smtpd_tls_security_level=encrypt"])}
{service(prt.submissions, ["-o smtpd_tls_wrappermode=yes"])}
pickup    unix  n       -       n       60      1       pickup
  -o milter_macro_daemon_name=ORIGINATING
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""
    users = [f"{a} OK" for a in c.addresses]
    pm = f"{c.postmaster_user}@{c.domain}"
    virtual = [f"postmaster@{c.domain} {pm}", f"abuse@{c.domain} {pm}"]
    # Each login (the full address) may send only as itself.
    sender_login = [f"{a} {a}" for a in c.addresses]
    d = POSTFIX_DIR
    return [
        RenderedFile(p(d + "/main.cf"), main_cf),
        RenderedFile(p(d + "/master.cf"), master_cf),
        RenderedFile(p(d + "/vmailbox"), "\n".join(users) + "\n"),
        RenderedFile(p(d + "/virtual"), "\n".join(virtual) + "\n"),
        RenderedFile(p(d + "/sender_login"), "\n".join(sender_login) + "\n"),
    ]


# ------------------------------------------------------------------------------------------------
# Dovecot
# ------------------------------------------------------------------------------------------------


def _dovecot(c: MailServerConfig, lay: Layout, prt: Ports) -> list[RenderedFile]:
    p = lay.p
    listen = "*" if lay.listen == LISTEN_ALL else lay.listen
    conf = f"""\
# Rendered by hk-mail: the whole Dovecot configuration, no conf.d includes.
protocols = imap lmtp
listen = {listen}
base_dir = {p("/run/dovecot")}
state_dir = {p("/var/lib/dovecot")}
log_path = {p("/var/log/dovecot.log")}

# IMAP only over implicit TLS (993); plain 143 is not offered at all.
ssl = required
ssl_cert = <{p(c.tls_cert)}
ssl_key = <{p(c.tls_key)}
ssl_min_protocol = TLSv1.2
ssl_dh = </usr/share/dovecot/dh.pem
disable_plaintext_auth = yes
auth_mechanisms = plain login

# Users and password hashes are written at boot from the secret store (hkmail-fetch-secrets).
passdb {{
  driver = passwd-file
  args = scheme=ARGON2ID username_format=%u {p(DOVECOT_USERS)}
}}
userdb {{
  driver = static
  args = uid=vmail gid=vmail home={p(VMAIL_DIR)}/%d/%n
}}
mail_location = maildir:~/Maildir
mail_privileged_group = vmail

namespace inbox {{
  inbox = yes
  separator = /
  mailbox Drafts {{
    special_use = \\Drafts
    auto = subscribe
  }}
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Junk {{
    special_use = \\Junk
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = subscribe
  }}
}}

service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {prt.imaps}
    ssl = yes
  }}
}}

# Postfix authenticates submission clients through this socket (smtpd_sasl_path = private/auth).
service auth {{
  unix_listener {p(QUEUE_DIR)}/private/auth {{
    mode = 0660
    user = postfix
    group = postfix
  }}
}}

# Postfix delivers to mailboxes through LMTP (virtual_transport).
service lmtp {{
  unix_listener {p(QUEUE_DIR)}/private/dovecot-lmtp {{
    mode = 0600
    user = postfix
    group = postfix
  }}
}}
protocol lmtp {{
  postmaster_address = postmaster@{c.domain}
}}
"""
    return [RenderedFile(p(DOVECOT_CONF), conf)]


# ------------------------------------------------------------------------------------------------
# OpenDKIM
# ------------------------------------------------------------------------------------------------


def _opendkim(c: MailServerConfig, lay: Layout, prt: Ports) -> list[RenderedFile]:
    p = lay.p
    key_name = f"{c.dkim_selector}._domainkey.{c.domain}"
    conf = f"""\
# Rendered by hk-mail.
Syslog yes
UMask 007
UserID opendkim:opendkim
PidFile {p("/run/opendkim/opendkim.pid")}
Socket inet:{prt.milter}@127.0.0.1
Mode sv
# Sign only what Postfix marks ORIGINATING (authenticated submission, local pickup); the client's
# address alone never makes a message ours, so InternalHosts is left empty.
MTA ORIGINATING
InternalHosts refile:{p(OPENDKIM_DIR + "/InternalHosts")}
KeyTable {p(OPENDKIM_DIR + "/KeyTable")}
SigningTable refile:{p(OPENDKIM_DIR + "/SigningTable")}
Canonicalization relaxed/simple
SignatureAlgorithm rsa-sha256
OversignHeaders From
RequireSafeKeys yes
"""
    keytable = f"{key_name} {c.domain}:{c.dkim_selector}:{p(dkim_key_path(c.dkim_selector))}\n"
    signing = f"*@{c.domain} {key_name}\n"
    d = OPENDKIM_DIR
    return [
        RenderedFile(p(OPENDKIM_CONF), conf),
        RenderedFile(p(d + "/KeyTable"), keytable),
        RenderedFile(p(d + "/SigningTable"), signing),
        RenderedFile(p(d + "/InternalHosts"), "# intentionally empty: see MTA in opendkim.conf\n"),
    ]


# ------------------------------------------------------------------------------------------------
# nginx: the MTA-STS policy over HTTPS (RFC 8461 3.3)
# ------------------------------------------------------------------------------------------------


def _nginx(c: MailServerConfig, lay: Layout, prt: Ports) -> list[RenderedFile]:
    p = lay.p
    listen = str(prt.https) if lay.listen == LISTEN_ALL else f"{lay.listen}:{prt.https}"
    site = f"""\
# Rendered by hk-mail: serves only the MTA-STS policy.
server {{
    listen {listen} ssl;
    server_name mta-sts.{c.domain};
    ssl_certificate {p(c.tls_cert)};
    ssl_certificate_key {p(c.tls_key)};
    ssl_protocols TLSv1.2 TLSv1.3;
    location = /.well-known/mta-sts.txt {{
        default_type text/plain;
        alias {p(MTA_STS_FILE)};
    }}
    location / {{
        return 404;
    }}
}}
"""
    return [
        RenderedFile(p(NGINX_SITE), site),
        RenderedFile(p(MTA_STS_FILE), c.mta_sts_policy),
    ]


# ------------------------------------------------------------------------------------------------
# Boot: what hkmail-fetch-secrets reads, and the script itself
# ------------------------------------------------------------------------------------------------


def _boot(c: MailServerConfig, lay: Layout) -> list[RenderedFile]:
    p = lay.p
    s = c.secrets
    settings = {
        "cloud": s.cloud,
        "region": s.region,
        "role_name": s.role_name,
        "domain": c.domain,
        "users": list(c.users),
        "secrets": {
            "dkim_private_key": s.dkim_private_key,
            "mailbox_hashes": s.mailbox_hashes,
            "relay_credentials": s.relay_credentials,
        },
        "outputs": {
            "dkim_private_key": p(dkim_key_path(c.dkim_selector)),
            "dovecot_users": p(DOVECOT_USERS),
            "relay_password": p(RELAY_PASSWORD),
        },
        "relay": f"[{c.relay.host}]:{c.relay.port}",
    }
    script = resources.files("hkmail.mailserver").joinpath("fetch_secrets.py").read_text()
    return [
        RenderedFile(p(SECRETS_CONF), json.dumps(settings, indent=2, sort_keys=True) + "\n"),
        RenderedFile(p(FETCH_SCRIPT), script, mode=0o755),
    ]
