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

from hkmail.facts import Cloud
from hkmail.mailserver import backup, journal, logship_files
from hkmail.mailserver.model import MailServerConfig, Ports
from hkmail.mailserver.notify_config import settings as notify_settings
from hkmail.mailserver.units import daemon_unit

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
OPENDKIM_UNBOUND_CONF: Final = "/etc/opendkim/unbound.conf"  # written at boot, not rendered
OPENDMARC_CONF: Final = "/etc/opendmarc.conf"
OPENDMARC_DIR: Final = "/etc/opendmarc"
SPF_CONF: Final = "/etc/postfix-policyd-spf-python/policyd-spf.conf"
NGINX_ACME_SITE: Final = "/etc/nginx/conf.d/hkmail-acme.conf"
# The HTTPS (MTA-STS) site is enabled by the certificate deploy hook, once a CA-issued certificate
# exists: nginx never serves the MTA-STS host with a self-signed one.
NGINX_TLS_SITE: Final = "/etc/nginx/hkmail/mta-sts.conf"
NGINX_TLS_ENABLED: Final = "/etc/nginx/conf.d/hkmail-mta-sts.conf"
MTA_STS_FILE: Final = "/var/www/mta-sts/.well-known/mta-sts.txt"
ACME_WEBROOT: Final = "/var/www/acme"
SECRETS_CONF: Final = "/etc/hkmail/secrets.json"
DH_PARAMS: Final = "/etc/hkmail/ffdhe2048.pem"
FETCH_SCRIPT: Final = "/usr/local/sbin/hkmail-fetch-secrets"
FROM_MILTER: Final = "/usr/local/sbin/hkmail-from-milter"
CERT_SCRIPT: Final = "/usr/local/sbin/hkmail-cert"
CERT_DEPLOY_HOOK: Final = "/usr/local/sbin/hkmail-cert-deploy"
LETSENCRYPT_DIR: Final = "/etc/letsencrypt"
SYSTEMD_DIR: Final = "/etc/systemd/system"
APT_PERIODIC: Final = "/etc/apt/apt.conf.d/20auto-upgrades"
NFTABLES_CONF: Final = "/etc/nftables.conf"
# The instance metadata service hands out the instance role's keys: only root may reach it (the
# boot's hkmail-fetch-secrets and the clouds' own agents run as root). Tencent's
# metadata.tencentyun.com is 169.254.0.23; Alibaba's is 100.100.100.200 (where tokens are also
# required, http_tokens on the instance).
METADATA_ADDRESS: Final[dict[Cloud, str]] = {
    "tencentcloud": "169.254.0.23",
    "alicloud": "100.100.100.200",
}
RELAY_PASSWORD: Final = "/etc/postfix/relay_password"
QUEUE_DIR: Final = "/var/spool/postfix"
VMAIL_DIR: Final = "/var/vmail"
LOG_DIR: Final = "/var/log/hkmail"  # root:adm 0750: mail logs name senders and recipients
CA_BUNDLE: Final = "/etc/ssl/certs/ca-certificates.crt"
# Mail to chat (hkmail-notify): the settings, the program, the Sieve script Dovecot runs after
# delivery and the pipe program it calls; the spool on the encrypted data disk (a name no domain
# directory can have) and a log directory of its own (Sieve and the service run as vmail).
NOTIFY_CONF: Final = "/etc/hkmail/notify.json"
NOTIFY_TARGETS: Final = "/etc/hkmail/notify-targets.json"  # written at boot from the store
NOTIFY_SCRIPT: Final = "/usr/local/sbin/hkmail-notify"
NOTIFY_SIEVE: Final = "/etc/dovecot/sieve/hkmail-notify.sieve"
SIEVE_PIPE_DIR: Final = "/usr/local/lib/hkmail/sieve-pipe"
NOTIFY_PIPE: Final = "hkmail-notify-enqueue"
NOTIFY_SPOOL: Final = "/var/vmail/.hkmail-notify"
NOTIFY_LOG_DIR: Final = "/var/log/hkmail-notify"  # vmail:adm 0750 (vmail cannot enter LOG_DIR)
# Milter sockets: each in its own directory under the queue, 0750 and owned by the milter's user;
# Postfix is a member of each milter's group (runcmd), no other user can reach a socket.
OPENDKIM_SOCKET: Final = QUEUE_DIR + "/opendkim/opendkim.sock"
OPENDMARC_SOCKET: Final = QUEUE_DIR + "/opendmarc/opendmarc.sock"
FROM_MILTER_SOCKET: Final = QUEUE_DIR + "/hkmail-from/from.sock"
FROM_MILTER_USER: Final = "hkmail-from"
# The per-login sending limits (a policy service, same arrangement as the milters).
RATELIMIT: Final = "/usr/local/sbin/hkmail-ratelimit"
RATELIMIT_SOCKET: Final = QUEUE_DIR + "/hkmail-limit/policy.sock"
RATELIMIT_USER: Final = "hkmail-limit"
# Dovecot's authentication policy server (per-client failed logins), run as RATELIMIT_USER; its key
# is generated at boot (cloudinit), readable by that user and, as a Dovecot setting, by root only.
AUTHPOLICY: Final = "/usr/local/sbin/hkmail-authpolicy"
AUTHPOLICY_KEY: Final = "/etc/hkmail/authpolicy.key"
AUTHPOLICY_DOVECOT_KEY: Final = "/etc/dovecot/hkmail-authpolicy.conf"
MILTER_DIRS: Final = (
    ("opendkim", QUEUE_DIR + "/opendkim"),
    ("opendmarc", QUEUE_DIR + "/opendmarc"),
    (FROM_MILTER_USER, QUEUE_DIR + "/hkmail-from"),
    (RATELIMIT_USER, QUEUE_DIR + "/hkmail-limit"),
    (journal.JOURNAL_USER, journal.JOURNAL_SOCKET_DIR),
)

# Mozilla's "intermediate" profile (ssl-config.mozilla.org, guideline 5.7): TLS 1.2 and 1.3, only
# forward-secret AEAD suites (no static RSA, CBC, Camellia, ARIA, CCM8, no anonymous suites),
# ffdhe2048 for DHE, the client's order (every suite is strong).
MOZILLA_INTERMEDIATE_CIPHERS: Final = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
)
# RFC 7919 ffdhe2048, as `openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048` prints
# it (a public constant; tests compare it with OpenSSL's own).
FFDHE2048_PEM: Final = """\
-----BEGIN DH PARAMETERS-----
MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz
+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a
87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7
YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi
7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD
ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==
-----END DH PARAMETERS-----
"""
HSTS_MAX_AGE: Final = 63_072_000  # two years, Mozilla's value
# Debian's publicsuffix package (OpenDMARC's organisational-domain lookup).
PUBLIC_SUFFIX_LIST: Final = "/usr/share/publicsuffix/public_suffix_list.dat"


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
        *_opendkim(config, lay),
        *_opendmarc(config, lay),
        *_nginx(config, lay, prt),
        *_certificate(config, lay),
        *_boot(config, lay, prt),
        *_notify(config, lay),
        *(RenderedFile(path, text, mode) for path, text, mode in journal.files(config, lay.p)),
        *(RenderedFile(path, text, mode) for path, text, mode in backup.files(config, lay.p)),
        *(
            RenderedFile(path, text, mode)
            for path, text, mode in logship_files.files(config, lay.p)
        ),
    )
    return Rendered(files=files, layout=lay, ports=prt)


# ------------------------------------------------------------------------------------------------
# Postfix
# ------------------------------------------------------------------------------------------------


def _postfix(c: MailServerConfig, lay: Layout, prt: Ports) -> list[RenderedFile]:
    p = lay.p
    d = POSTFIX_DIR
    inet_interfaces = "all" if lay.listen == LISTEN_ALL else lay.listen
    opendkim = f"unix:{p(OPENDKIM_SOCKET)}"
    opendmarc = f"unix:{p(OPENDMARC_SOCKET)}"
    from_milter = f"unix:{p(FROM_MILTER_SOCKET)}"
    ratelimit = f"check_policy_service,unix:{p(RATELIMIT_SOCKET)}"
    journal_milter = f"unix:{p(journal.JOURNAL_SOCKET)}"  # last: sees only what the others let in
    main_cf = f"""\
# Rendered by hk-mail: changes here are overwritten by the next deployment.
compatibility_level = 3.6
config_directory = {p(POSTFIX_DIR)}
queue_directory = {p(QUEUE_DIR)}
data_directory = {p("/var/lib/postfix")}
# postlogd writes one file (kept on the instance: no log agent ships it yet); its directory is
# root:adm 0750, so the file's own mode (postlogd creates it 0644) does not expose it.
maillog_file = {p(LOG_DIR + "/postfix.log")}
maillog_file_prefixes = {p("/var")}

myhostname = {c.hostname}
mydomain = {c.domain}
myorigin = $mydomain
# Every mailbox is virtual. Nothing is delivered locally: an address in the "local" class (an
# address literal such as user@[server-ip]) is refused at RCPT time, as is every unknown
# recipient, so the server never accepts mail it would later bounce (backscatter).
mydestination =
local_recipient_maps = texthash:{p(d + "/local_recipients")}
local_transport = error:5.1.1 local delivery is disabled
alias_maps =
alias_database =
unknown_local_recipient_reject_code = 550
smtpd_reject_unlisted_recipient = yes
smtpd_reject_unlisted_sender = yes
# Only root (cron, the boot scripts) may submit through sendmail(1); a local user could otherwise
# have any From signed through pickup.
authorized_submit_users = root
inet_interfaces = {inet_interfaces}
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_banner = $myhostname ESMTP
biff = no
append_dot_mydomain = no
readme_directory = no
disable_vrfy_command = yes
smtpd_helo_required = yes
# SMTP smuggling: only <CR><LF>.<CR><LF> ends DATA; a line ending in a bare <LF> is read as if it
# ended in <CR><LF> ("normalize"), so <LF>.<CR><LF>, <LF>.<LF> and <CR><LF>.<LF> are message text,
# never the end of one message and the start of another. Postfix's documented exclusion is
# $mynetworks; no local client speaks SMTP to this server (local mail goes through pickup), so
# nobody is excluded. A client that sends commands before the server has answered (the greeting,
# EHLO) without PIPELINING announced is disconnected.
smtpd_forbid_bare_newline = normalize
smtpd_forbid_bare_newline_exclusions =
smtpd_forbid_unauth_pipelining = yes
message_size_limit = {c.message_size_limit}
mailbox_size_limit = 0

virtual_mailbox_domains = {c.domain}
virtual_mailbox_maps = texthash:{p(d + "/vmailbox")}
virtual_alias_maps = texthash:{p(d + "/virtual")}
virtual_transport = lmtp:unix:private/dovecot-lmtp

# Port 25: only authenticated clients may relay (there are none on 25); anyone may deliver to our
# own mailboxes, subject to SPF (policyd-spf: a hard fail is refused at RCPT), and nobody
# unauthenticated may claim our own domain as the envelope sender.
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
smtpd_recipient_restrictions =
  reject_non_fqdn_recipient,
  reject_unlisted_recipient,
  check_policy_service unix:private/policyd-spf
smtpd_sender_restrictions =
  reject_non_fqdn_sender,
  check_sender_access texthash:{p(d + "/own_domains")}
policyd-spf_time_limit = 3600
# An authenticated user may only send as an address the login owns.
smtpd_sender_login_maps = texthash:{p(d + "/sender_login")}

# SASL through Dovecot; enabled per service in master.cf (submission only, never port 25).
smtpd_sasl_type = dovecot
smtpd_sasl_path = private/auth
smtpd_sasl_auth_enable = no
smtpd_sasl_security_options = noanonymous
smtpd_sasl_tls_security_options = noanonymous
smtpd_tls_auth_only = yes
# Brute force: at most {c.auth_rate_limit} AUTH commands per client address and minute (anvil); no
# address is exempt (the default exempts $mynetworks).
smtpd_client_auth_rate_limit = {c.auth_rate_limit}
smtpd_client_event_limit_exceptions =
anvil_rate_time_unit = 60s
# Per client address, on every port (anvil, per service): concurrent connections (Postfix's
# default is 50) and new connections per minute (default: unlimited).
smtpd_client_connection_count_limit = {c.connection_count_limit}
smtpd_client_connection_rate_limit = {c.connection_rate_limit}

# TLS: Mozilla "intermediate" on every port. Port 25 stays opportunistic (may); submission is
# encrypt-only (master.cf). Both levels get the same protocols and suites.
smtpd_tls_cert_file = {p(c.tls_cert)}
smtpd_tls_key_file = {p(c.tls_key)}
smtpd_tls_security_level = may
smtpd_tls_protocols = >=TLSv1.2
smtpd_tls_mandatory_protocols = >=TLSv1.2
smtpd_tls_ciphers = medium
smtpd_tls_mandatory_ciphers = medium
smtpd_tls_exclude_ciphers = aNULL, eNULL
smtpd_tls_mandatory_exclude_ciphers = aNULL, eNULL
tls_medium_cipherlist = {MOZILLA_INTERMEDIATE_CIPHERS}
tls_preempt_cipherlist = no
smtpd_tls_dh1024_param_file = {p(DH_PARAMS)}
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes

# Milters, each on a local socket only Postfix can open.
# Port 25: OpenDKIM verifies, then OpenDMARC evaluates SPF/DKIM/DMARC and refuses what the sender
# domain's p=reject refuses (and holds p=quarantine). Submission (master.cf): the From check, then
# OpenDKIM signs. Last on both, the journal spools a copy of what is accepted. tempfail: a message
# is never passed unchecked, sent unsigned or accepted without its journal copy.
smtpd_milters = {opendkim}, {opendmarc}, {journal_milter}
non_smtpd_milters = {opendkim}
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
        "-o smtpd_tls_security_level=encrypt",
        "-o smtpd_sasl_auth_enable=yes",
        "-o smtpd_client_restrictions=permit_sasl_authenticated,reject",
        # No null sender on submission (a user never sends a bounce), and the envelope sender
        # must be an address the login owns.
        f"-o smtpd_sender_restrictions=check_sender_access,texthash:{p(d + '/submission_senders')},"
        "reject_sender_login_mismatch",
        "-o smtpd_relay_restrictions=permit_sasl_authenticated,reject",
        # Per-login limits (hkmail-ratelimit): outside recipients at RCPT, messages at the end
        # of DATA, each per sliding hour.
        f"-o smtpd_recipient_restrictions={ratelimit},permit_sasl_authenticated,reject",
        f"-o smtpd_end_of_data_restrictions={ratelimit}",
        # The header From must be the login's too (hkmail-from-milter); then OpenDKIM signs.
        f"-o smtpd_milters={from_milter},{opendkim},{journal_milter}",
        "-o milter_macro_daemon_name=ORIGINATING",
        # The submitting client's address (a user's home or office IP) stays on the server: its
        # own cleanup drops the Received header submission adds (subcleanup below).
        "-o cleanup_service_name=subcleanup",
    ]

    def service(port: int, extra: list[str]) -> str:
        opts = "".join(f"\n  {o.format(port=port)}" for o in [*submission_opts, *extra])
        return f"{port} inet n - n - - smtpd{opts}"

    # chroot is off ("n") so the same file runs under systemd and under the tests' postfix -c.
    master_cf = f"""\
# Rendered by hk-mail.
# service type  private unpriv  chroot  wakeup  maxproc command + args
{prt.smtp} inet n - n - - smtpd
{service(prt.submission, [])}
{service(prt.submissions, ["-o smtpd_tls_wrappermode=yes"])}
pickup    unix  n       -       n       60      1       pickup
  -o milter_macro_daemon_name=ORIGINATING
cleanup   unix  n       -       n       -       0       cleanup
subcleanup unix n       -       n       -       0       cleanup
  -o header_checks=regexp:{p(d + "/submission_header_checks")}
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
policyd-spf unix -      n       n       -       0       spawn
  user=policyd-spf argv=/usr/bin/policyd-spf {p(SPF_CONF)}
"""
    users = [f"{a} OK" for a in c.addresses]
    pm = f"{c.postmaster_user}@{c.domain}"
    virtual = [f"postmaster@{c.domain} {pm}", f"abuse@{c.domain} {pm}"]
    # The report addresses the DNS publishes land with the postmaster (unless a mailbox of theirs).
    virtual += [
        f"{lp}@{c.domain} {pm}"
        for lp in dict.fromkeys(c.report_mailboxes)
        if lp not in c.users and lp not in ("postmaster", "abuse")
    ]
    # Each login (the full address) may send only as itself.
    sender_login = [f"{a} {a}" for a in c.addresses]
    own = [
        f"{c.domain} REJECT 5.7.1 {c.domain} sends only through authenticated submission",
        f".{c.domain} REJECT 5.7.1 {c.domain} sends only through authenticated submission",
    ]
    spf_conf = f"""\
# Rendered by hk-mail: policyd-spf on port 25 (master.cf spawns it).
debugLevel = 1
TestOnly = 1
HELO_reject = Fail
Mail_From_reject = Fail
PermError_reject = False
TempError_Defer = False
# Nothing is exempt: port 25 serves only other mail servers (local mail never passes smtpd). The
# setting cannot be empty; ::1 never reaches an IPv4-only Postfix.
skip_addresses = ::1/128
Header_Type = AR
Authserv_Id = {c.hostname}
"""
    return [
        RenderedFile(p(d + "/main.cf"), main_cf),
        RenderedFile(p(d + "/master.cf"), master_cf),
        RenderedFile(p(d + "/vmailbox"), "\n".join(users) + "\n"),
        RenderedFile(p(d + "/virtual"), "\n".join(virtual) + "\n"),
        RenderedFile(p(d + "/sender_login"), "\n".join(sender_login) + "\n"),
        RenderedFile(p(d + "/own_domains"), "\n".join(own) + "\n"),
        RenderedFile(
            p(d + "/submission_header_checks"),
            "# The Received header of authenticated submission (RFC 3848 ESMTPA/ESMTPSA).\n"
            "/^Received:.*[[:space:]]with[[:space:]]ESMTPS?A[[:space:]]/ IGNORE\n",
        ),
        RenderedFile(
            p(d + "/submission_senders"),
            "<> REJECT 5.7.1 a null sender is not accepted on submission\n",
        ),
        RenderedFile(
            p(d + "/local_recipients"),
            "# intentionally empty: no local(8) mailbox accepts mail (see main.cf)\n",
        ),
        RenderedFile(p(SPF_CONF), spf_conf),
    ]


# ------------------------------------------------------------------------------------------------
# Dovecot
# ------------------------------------------------------------------------------------------------

# Password schemes a mailbox hash may use (hkmail-fetch-secrets refuses any other, e.g. {PLAIN}).
STRONG_PASSWORD_SCHEMES: Final = ("ARGON2ID", "ARGON2I", "BLF-CRYPT", "SHA512-CRYPT")


def _dovecot(c: MailServerConfig, lay: Layout, prt: Ports) -> list[RenderedFile]:
    p = lay.p
    listen = "*" if lay.listen == LISTEN_ALL else lay.listen
    conf = f"""\
# Rendered by hk-mail: the whole Dovecot configuration, no conf.d includes.
protocols = imap lmtp
listen = {listen}
base_dir = {p("/run/dovecot")}
state_dir = {p("/var/lib/dovecot")}
log_path = {p(LOG_DIR + "/dovecot.log")}

# IMAP only over implicit TLS (993); plain 143 is not offered at all. Mozilla "intermediate".
ssl = required
ssl_cert = <{p(c.tls_cert)}
ssl_key = <{p(c.tls_key)}
ssl_min_protocol = TLSv1.2
ssl_cipher_list = {MOZILLA_INTERMEDIATE_CIPHERS}
ssl_prefer_server_ciphers = no
ssl_dh = <{p(DH_PARAMS)}
disable_plaintext_auth = yes
auth_mechanisms = plain login
# Each failed login waits this long before the answer; on top, Dovecot's anvil doubles the delay
# per further failure from the same address (its built-in auth penalty, up to 15 s).
auth_failure_delay = 2 secs
# Per client address: after {c.auth_failure_limit} failed logins in 10 minutes hkmail-authpolicy
# refuses the address before its password is hashed (a sprayer cannot saturate the auth workers
# that real users need). The nonce only salts a password hash this server never sends.
auth_policy_server_url = http://127.0.0.1:{prt.auth_policy}/
auth_policy_request_attributes = login=%{{requested_username}} remote=%{{rip}} protocol=%s
auth_policy_hash_nonce = hkmail-no-password-hash-is-sent
auth_policy_reject_on_fail = no
# The service answers from memory in milliseconds; Dovecot's 2 s default fails open (a login
# unjudged, a failure uncounted) when a loaded machine is slow to schedule it.
auth_policy_server_timeout_msecs = 10000
!include_try {p(AUTHPOLICY_DOVECOT_KEY)}

# Users and password hashes are written at boot from the secret store (hkmail-fetch-secrets,
# which accepts only the schemes {", ".join(STRONG_PASSWORD_SCHEMES)}).
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
  # User lookups (Dovecot's default is 0666: any local user could list mailboxes); the LMTP
  # process and doveadm ask as root.
  unix_listener auth-userdb {{
    mode = 0600
  }}
}}

# Postfix delivers to mailboxes through LMTP (virtual_transport), after every check; nobody else
# may deliver. Dovecot's default listener (base_dir/lmtp, 0666) would let any local user drop a
# message, forged Authentication-Results and all, into any mailbox: root only.
service lmtp {{
  unix_listener lmtp {{
    mode = 0600
  }}
  unix_listener {p(QUEUE_DIR)}/private/dovecot-lmtp {{
    mode = 0600
    user = postfix
    group = postfix
  }}
}}
protocol lmtp {{
  postmaster_address = postmaster@{c.domain}
}}
{_sieve(c, lay)}"""
    return [RenderedFile(p(DOVECOT_CONF), conf)]


def _sieve(c: MailServerConfig, lay: Layout) -> str:
    """Pigeonhole Sieve on LMTP delivery, only for the notify rules: one global script after any
    other (users cannot switch it off), whose only program is hkmail-notify's enqueue."""
    if c.notify is None:
        return ""
    p = lay.p
    return f"""
# Mail to chat: after delivery, Sieve pipes a copy of each message to hkmail-notify (its
# ":copy :try" keeps the message whatever the program does; see notify.py).
protocol lmtp {{
  mail_plugins = $mail_plugins sieve
}}
plugin {{
  sieve_after = {p(NOTIFY_SIEVE)}
  sieve_plugins = sieve_extprograms
  sieve_global_extensions = +vnd.dovecot.pipe
  sieve_pipe_bin_dir = {p(SIEVE_PIPE_DIR)}
  sieve_pipe_exec_timeout = 10s
}}
"""


# ------------------------------------------------------------------------------------------------
# OpenDKIM (signs submission, verifies port 25) and OpenDMARC (judges port 25)
# ------------------------------------------------------------------------------------------------


def _opendkim(c: MailServerConfig, lay: Layout) -> list[RenderedFile]:
    p = lay.p
    key_name = f"{c.dkim_selector}._domainkey.{c.domain}"
    conf = f"""\
# Rendered by hk-mail.
Syslog yes
UMask 007
UserID opendkim:opendkim
PidFile {p("/run/opendkim/opendkim.pid")}
# A local socket in a 0750 directory of opendkim's: only Postfix (a member of the opendkim group)
# can ask for a signature, so the daemon_name macro that selects signing comes from Postfix.
Socket local:{p(OPENDKIM_SOCKET)}
Mode sv
# Sign only what Postfix marks ORIGINATING (authenticated submission, root's local mail); the
# client's address alone never makes a message ours, so InternalHosts is left empty.
MTA ORIGINATING
InternalHosts refile:{p(OPENDKIM_DIR + "/InternalHosts")}
KeyTable {p(OPENDKIM_DIR + "/KeyTable")}
SigningTable refile:{p(OPENDKIM_DIR + "/SigningTable")}
Canonicalization relaxed/simple
SignatureAlgorithm rsa-sha256
OversignHeaders From
RequireSafeKeys yes
# OpenDKIM resolves through libunbound, which would otherwise recurse from the root itself: the
# boot writes this file from /etc/resolv.conf, forwarding to the resolvers the instance was given.
ResolverConfiguration {p(OPENDKIM_UNBOUND_CONF)}
# Inbound: verify, and report as this host. Authentication-Results that claim to be ours and
# arrive from outside are removed, so OpenDMARC trusts only what we added.
AuthservID {c.hostname}
RemoveARFrom {c.hostname}
RemoveARAll yes
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


def _opendmarc(c: MailServerConfig, lay: Layout) -> list[RenderedFile]:
    p = lay.p
    conf = f"""\
# Rendered by hk-mail: DMARC on port 25 (RFC 7489), our own domain's policy included.
Syslog true
UMask 007
UserID opendmarc:opendmarc
PidFile {p("/run/opendmarc/opendmarc.pid")}
Socket local:{p(OPENDMARC_SOCKET)}
AuthservID {c.hostname}
TrustedAuthservIDs {c.hostname}
# No host is exempt (the default exempts 127.0.0.1).
IgnoreHosts {p(OPENDMARC_DIR + "/ignore.hosts")}
IgnoreAuthenticatedClients true
# SPF is checked here, never read from headers a sender could have written.
SPFSelfValidate true
SPFIgnoreResults true
# p=reject is refused at the end of DATA, p=quarantine goes to Postfix's hold queue.
RejectFailures true
HoldQuarantinedMessages true
RequiredHeaders true
RejectMultiValueFrom true
FailureReports false
# The organisational domain (RFC 7489 3.2): a From on any subdomain, existing or not, falls back
# to the DMARC policy of its organisational domain. Debian's publicsuffix package keeps the list
# current (unattended-upgrades); hkmail-psl.path restarts OpenDMARC when it changes, as OpenDMARC
# reads it only at start.
PublicSuffixList {p(PUBLIC_SUFFIX_LIST)}
"""
    return [
        RenderedFile(p(OPENDMARC_CONF), conf),
        RenderedFile(
            p(OPENDMARC_DIR + "/ignore.hosts"), "# intentionally empty: every client is judged\n"
        ),
    ]


# ------------------------------------------------------------------------------------------------
# nginx: ACME HTTP-01 on port 80, the MTA-STS policy over HTTPS (RFC 8461 3.3)
# ------------------------------------------------------------------------------------------------


def _nginx(c: MailServerConfig, lay: Layout, prt: Ports) -> list[RenderedFile]:
    p = lay.p

    def listen(port: int) -> str:
        return str(port) if lay.listen == LISTEN_ALL else f"{lay.listen}:{port}"

    acme = f"""\
# Rendered by hk-mail: port 80 answers ACME HTTP-01 challenges and redirects our own names to
# https; any other Host gets 404 (no redirect to a name an attacker chose).
server {{
    listen {listen(prt.http)} default_server;
    server_name _;
    server_tokens off;
    return 404;
}}
server {{
    listen {listen(prt.http)};
    server_name {c.hostname} mta-sts.{c.domain};
    server_tokens off;
    location ^~ /.well-known/acme-challenge/ {{
        root {p(ACME_WEBROOT)};
        default_type text/plain;
    }}
    location / {{
        return 301 https://$host$request_uri;
    }}
}}
"""
    site = f"""\
# Rendered by hk-mail: serves only the MTA-STS policy. Enabled by hkmail-cert-deploy once the
# CA-issued certificate is installed. TLS: Mozilla "intermediate".
server {{
    listen {listen(prt.https)} ssl;
    server_name mta-sts.{c.domain};
    server_tokens off;
    ssl_certificate {p(c.tls_cert)};
    ssl_certificate_key {p(c.tls_key)};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers {MOZILLA_INTERMEDIATE_CIPHERS};
    ssl_prefer_server_ciphers off;
    ssl_dhparam {p(DH_PARAMS)};
    ssl_session_timeout 1d;
    ssl_session_cache shared:HkmailTLS:10m;
    ssl_session_tickets off;
    add_header Strict-Transport-Security "max-age={HSTS_MAX_AGE}" always;
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
        RenderedFile(p(NGINX_ACME_SITE), acme),
        RenderedFile(p(NGINX_TLS_SITE), site),
        RenderedFile(p(MTA_STS_FILE), c.mta_sts_policy),
    ]


# ------------------------------------------------------------------------------------------------
# The certificate: certbot (Debian) over HTTP-01, a deploy hook that installs it and reloads
# ------------------------------------------------------------------------------------------------


def _certificate(c: MailServerConfig, lay: Layout) -> list[RenderedFile]:
    p = lay.p
    cert, key = p(c.tls_cert), p(c.tls_key)
    le = p(LETSENCRYPT_DIR)
    # Until the first certificate is issued Postfix and Dovecot stay stopped (mail waits in the
    # senders' queues; nobody is shown a self-signed certificate to click through), and nginx
    # serves only the challenges. Debian's certbot.timer renews; the same hook runs again.
    script = f"""\
#!/bin/sh
# Rendered by hk-mail: obtain the server's certificate (a no-op while it is not due).
set -eu
exec certbot certonly --non-interactive --agree-tos \\
  --email postmaster@{c.domain} \\
  --server {c.acme_directory} \\
  --config-dir {le} --work-dir {p("/var/lib/letsencrypt")} --logs-dir {p("/var/log/letsencrypt")} \\
  --webroot --webroot-path {p(ACME_WEBROOT)} \\
  --cert-name {c.hostname} -d {c.hostname} -d mta-sts.{c.domain} \\
  --key-type rsa --rsa-key-size 2048 \\
  --keep-until-expiring \\
  --deploy-hook {p(CERT_DEPLOY_HOOK)} "$@"
"""
    hook = f"""\
#!/bin/sh
# Rendered by hk-mail: certbot deploy hook. Installs the new certificate where Postfix, Dovecot and
# nginx read it, enables the MTA-STS site, then reloads (or first starts) the three daemons.
set -eu
lineage="${{RENEWED_LINEAGE:?run by certbot}}"
install -d -m 0755 "$(dirname {cert})" "$(dirname {key})"
install -m 0600 "$lineage/privkey.pem" {key}.new
install -m 0644 "$lineage/fullchain.pem" {cert}.new
mv -f {key}.new {key}
mv -f {cert}.new {cert}
ln -sfn {p(NGINX_TLS_SITE)} {p(NGINX_TLS_ENABLED)}
if [ -n "${{HKMAIL_CERT_RELOAD:-}}" ]; then
  # The tests' daemons run outside systemd; they say how to reload them.
  sh -c "$HKMAIL_CERT_RELOAD"
else
  systemctl enable postfix dovecot
  systemctl reload-or-restart nginx postfix dovecot
fi
"""
    unit = f"""\
# Rendered by hk-mail: retries the first issuance until it succeeds (DNS may lag the instance).
[Unit]
Description=hk-mail: obtain the first certificate
ConditionPathExists=!{cert}
Wants=network-online.target
After=network-online.target nginx.service

[Service]
Type=oneshot
ExecStart={p(CERT_SCRIPT)}
"""
    timer = """\
[Unit]
Description=hk-mail: retry the first certificate every 10 minutes

[Timer]
OnBootSec=2min
OnUnitActiveSec=10min

[Install]
WantedBy=timers.target
"""
    return [
        RenderedFile(p(CERT_SCRIPT), script, mode=0o755),
        RenderedFile(p(CERT_DEPLOY_HOOK), hook, mode=0o755),
        RenderedFile(p(SYSTEMD_DIR + "/hkmail-cert.service"), unit),
        RenderedFile(p(SYSTEMD_DIR + "/hkmail-cert.timer"), timer),
    ]


# ------------------------------------------------------------------------------------------------
# Boot: what hkmail-fetch-secrets reads, and the script itself
# ------------------------------------------------------------------------------------------------


def _boot(c: MailServerConfig, lay: Layout, prt: Ports) -> list[RenderedFile]:
    p = lay.p
    s = c.secrets
    # The backup's repository password comes from the store, as the other secrets do.
    backup_on = bool(c.archive_bucket and s.backup_password)
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
            **({"notify_targets": s.notify_targets} if c.notify and s.notify_targets else {}),
            **({"backup_password": s.backup_password} if backup_on else {}),
        },
        "outputs": {
            "dkim_private_key": p(dkim_key_path(c.dkim_selector)),
            "dovecot_users": p(DOVECOT_USERS),
            "relay_password": p(RELAY_PASSWORD),
            **({"notify_targets": p(NOTIFY_TARGETS)} if c.notify else {}),
            **({"backup_password": p(backup.BACKUP_PASSWORD)} if backup_on else {}),
        },
        "relay": f"[{c.relay.host}]:{c.relay.port}",
    }
    package = resources.files("hkmail.mailserver")
    script = package.joinpath("fetch_secrets.py").read_text()
    milter = package.joinpath("from_milter.py").read_text()
    ratelimit = package.joinpath("ratelimit.py").read_text()
    authpolicy = package.joinpath("authpolicy.py").read_text()
    policy_args = f"{prt.auth_policy} {p(AUTHPOLICY_KEY)} {c.auth_failure_limit}"
    authpolicy_unit = daemon_unit(
        "Dovecot's authentication policy server (failed logins per client).",
        "refuse client addresses with too many failed logins",
        before="dovecot.service",
        user=RATELIMIT_USER,
        umask="0077",
        exec_start=f"/usr/bin/python3 {p(AUTHPOLICY)} {policy_args}",
    )
    limits = f"{p(RATELIMIT_SOCKET)} {c.domain} {c.recipients_per_hour} {c.messages_per_hour}"
    ratelimit_unit = daemon_unit(
        "per-login sending limits on submission (a Postfix policy service).",
        "per-login recipient and message limits on submission",
        before="postfix.service",
        user=RATELIMIT_USER,
        umask="0007",
        exec_start=f"/usr/bin/python3 {p(RATELIMIT)} {limits}",
        read_write=p(RATELIMIT_SOCKET.rsplit("/", 1)[0]),
    )
    sender_login = p(POSTFIX_DIR + "/sender_login")
    milter_unit = daemon_unit(
        "the submission milter binding the header From to the login.",
        "header From must belong to the SMTP AUTH login",
        before="postfix.service",
        user=FROM_MILTER_USER,
        umask="0007",
        exec_start=f"/usr/bin/python3 {p(FROM_MILTER)} unix:{p(FROM_MILTER_SOCKET)} {sender_login}",
        read_write=p(FROM_MILTER_SOCKET.rsplit("/", 1)[0]),
    )
    # Debian's unattended-upgrades applies the security archive daily (its default origins).
    apt_periodic = (
        'APT::Periodic::Update-Package-Lists "1";\nAPT::Periodic::Unattended-Upgrade "1";\n'
    )
    metadata = METADATA_ADDRESS[s.cloud]
    # root, and hkmail-logship when it ships (it signs with the role's key; logship_files.py).
    allowed = f"{{ 0, {logship_files.LOGSHIP_UID} }}" if logship_files.enabled(c) else "0"
    new_login = f"tcp dport {{ {prt.submission}, {prt.submissions}, {prt.imaps} }} ct state new"
    per_minute = c.connection_rate_limit
    rate = f"limit rate over {per_minute}/minute burst {per_minute} packets"
    nftables = f"""\
#!/usr/sbin/nft -f
# Rendered by hk-mail: loaded by nftables.service. Only this table; nothing else is touched.
table inet hkmail
delete table inet hkmail
table inet hkmail {{
    # New connections per client address and minute to IMAPS and submission, where passwords are
    # tried: a sprayer reconnecting after each refusal is cut off before Dovecot sees it (port 25:
    # Postfix's anvil, same limit). An address leaves the set a minute after its last attempt.
    set login_clients4 {{
        type ipv4_addr
        flags dynamic
        timeout 1m
    }}
    set login_clients6 {{
        type ipv6_addr
        flags dynamic
        timeout 1m
    }}
    chain input {{
        type filter hook input priority filter; policy accept;
        {new_login} update @login_clients4 {{ ip saddr {rate} }} counter reject with tcp reset
        {new_login} update @login_clients6 {{ ip6 saddr {rate} }} counter reject with tcp reset
    }}
    chain output {{
        type filter hook output priority filter; policy accept;
        # The metadata service (the instance role's temporary keys) is root's alone (and the
        # log shipper's, when there is one).
        ip daddr {metadata} meta skuid != {allowed} meta l4proto tcp counter reject with tcp reset
        ip daddr {metadata} meta skuid != {allowed} counter reject
    }}
}}
"""
    # OpenDMARC reads the public suffix list only at start: restart it when dpkg replaces the file.
    psl_path = f"""\
# Rendered by hk-mail.
[Unit]
Description=hk-mail: watch the public suffix list OpenDMARC uses

[Path]
PathChanged={p(PUBLIC_SUFFIX_LIST)}

[Install]
WantedBy=multi-user.target
"""
    psl_service = """\
# Rendered by hk-mail.
[Unit]
Description=hk-mail: OpenDMARC rereads the updated public suffix list

[Service]
Type=oneshot
ExecStart=/usr/bin/systemctl try-restart opendmarc.service
"""
    return [
        RenderedFile(p(SECRETS_CONF), json.dumps(settings, indent=2, sort_keys=True) + "\n"),
        RenderedFile(p(SYSTEMD_DIR + "/hkmail-psl.path"), psl_path),
        RenderedFile(p(SYSTEMD_DIR + "/hkmail-psl.service"), psl_service),
        RenderedFile(p(NFTABLES_CONF), nftables, mode=0o755),
        RenderedFile(p(FETCH_SCRIPT), script, mode=0o755),
        RenderedFile(p(FROM_MILTER), milter, mode=0o755),
        RenderedFile(p(SYSTEMD_DIR + "/hkmail-from-milter.service"), milter_unit),
        RenderedFile(p(RATELIMIT), ratelimit, mode=0o755),
        RenderedFile(p(SYSTEMD_DIR + "/hkmail-ratelimit.service"), ratelimit_unit),
        RenderedFile(p(AUTHPOLICY), authpolicy, mode=0o755),
        RenderedFile(p(SYSTEMD_DIR + "/hkmail-authpolicy.service"), authpolicy_unit),
        RenderedFile(p(DH_PARAMS), FFDHE2048_PEM),
        RenderedFile(p(APT_PERIODIC), apt_periodic),
    ]


# ------------------------------------------------------------------------------------------------
# Mail to chat: hkmail-notify (notify.py), fed by Sieve after delivery
# ------------------------------------------------------------------------------------------------


def _notify(c: MailServerConfig, lay: Layout) -> list[RenderedFile]:
    if c.notify is None:
        return []
    p = lay.p
    conf = notify_settings(
        c.notify,
        hostname=c.hostname,
        domain=c.domain,
        spool=p(NOTIFY_SPOOL),
        maildir=p(VMAIL_DIR) + "/{domain}/{user}/Maildir",
        log=p(NOTIFY_LOG_DIR + "/notify.log"),
        targets_file=p(NOTIFY_TARGETS),
        ca_file=p(CA_BUNDLE),
    )
    script = resources.files("hkmail.mailserver").joinpath("notify.py").read_text()
    # Delivery waits for the pipe, a Python process per recipient: only the mailboxes a rule
    # names are piped (hkmail-notify matches exactly these local parts; Sieve's :is ignores
    # case, so it pipes a superset), every mailbox when a rule names none.
    pipe_action = 'pipe :copy :try "hkmail-notify-enqueue" ["${recipient}"];'
    if all(rule.recipients for rule in c.notify.rules):
        names = sorted({u for rule in c.notify.rules for u in rule.recipients})
        listed = ", ".join(f'"{u}"' for u in names)  # local parts: [a-z0-9._+-] (model.py)
        pipe_action = f'if envelope :localpart :is "to" [{listed}] {{\n  {pipe_action}\n}}'
    sieve = f"""\
# Rendered by hk-mail: runs after every other script, on every delivered message.
require ["vnd.dovecot.pipe", "copy", "envelope", "variables"];
if envelope :matches "to" "*" {{
  set "recipient" "${{1}}";
}}
{pipe_action}
"""
    # -I: nothing from PYTHON* variables or a user site; -S: no site start-up (the script is
    # standard library only). Delivery waits for this program on every recipient.
    pipe = f"""\
#!/bin/sh
# Rendered by hk-mail: Sieve's pipe program. Spools the notify jobs of one message; always exits 0.
exec /usr/bin/python3 -I -S {p(NOTIFY_SCRIPT)} enqueue {p(NOTIFY_CONF)} "$1"
"""
    unit = f"""\
# Rendered by hk-mail: sends the spooled mail notifications (rate-limited, retried, logged).
[Unit]
Description=hk-mail: mail-to-chat notifications
After=network-online.target dovecot.service
Wants=network-online.target

[Service]
User=vmail
Group=vmail
UMask=0077
ExecStart=/usr/bin/python3 {p(NOTIFY_SCRIPT)} run {p(NOTIFY_CONF)}
# Without a log store its ALARM lines (stderr) are in the journal, tagged hkmail-notify (not
# python3); with one, hkmail-logship's drop-in sends them to /var/log/hkmail-alarm/notify.log.
SyslogIdentifier=hkmail-notify
Restart=always
RestartSec=5
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ReadWritePaths={p(NOTIFY_SPOOL)} {p(NOTIFY_LOG_DIR)}
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX

[Install]
WantedBy=multi-user.target
"""
    return [
        RenderedFile(p(NOTIFY_CONF), json.dumps(conf, indent=2, sort_keys=True) + "\n"),
        RenderedFile(p(NOTIFY_SCRIPT), script, mode=0o755),
        RenderedFile(p(NOTIFY_SIEVE), sieve),
        RenderedFile(p(SIEVE_PIPE_DIR + "/" + NOTIFY_PIPE), pipe, mode=0o755),
        RenderedFile(p(SYSTEMD_DIR + "/hkmail-notify.service"), unit),
    ]
