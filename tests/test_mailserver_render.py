"""The mail server's input validation, the rendered user-data under Debian's `cloud-init schema`,
and the properties of the rendering that the real-daemon tests cannot see (production paths,
ports, relay)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from hkmail.errors import SpecErrors
from hkmail.mailserver import (
    PACKAGES,
    MailServerConfig,
    Relay,
    SecretRefs,
    render,
    user_data,
    user_data_hash,
)
from hkmail.mailserver.cloudinit import POLICY_RC_D, POSTFIX_DEBCONF, user_data_document
from hkmail.mailserver.render import Layout
from tests.support import METADATA_PROBE, REPO, require_root, require_tool, unavailable

POLICY = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmax_age: 604800\r\n"


def config(cloud: str = "tencentcloud", **changes: object) -> MailServerConfig:
    base = MailServerConfig(
        domain="example.com",
        hostname="mail.example.com",
        dkim_selector="hk1",
        admin_cidr="203.0.113.0/24",
        users=("alice", "bob"),
        mta_sts_policy=POLICY,
        secrets=SecretRefs(
            cloud=cloud,  # type: ignore[arg-type]
            role_name="hkmail-mail",
            dkim_private_key="hkmail-dkim",
            mailbox_hashes="hkmail-mailboxes",
            relay_credentials="hkmail-relay",
        ),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cloud", "data_device"),
    [("tencentcloud", None), ("tencentcloud", "/dev/vdb"), ("alicloud", "/dev/vdb")],
)
def test_user_data_passes_cloud_init_schema(
    cloud: str, data_device: str | None, tmp_path: Path
) -> None:
    binary = require_tool("cloud-init", "cloud-init")
    f = tmp_path / "user-data"
    f.write_text(user_data(config(cloud, data_device=data_device)))
    out = subprocess.run(
        [binary, "schema", "--config-file", str(f)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Valid cloud-config" in out.stdout


def test_cloud_init_schema_rejects_a_broken_document(tmp_path: Path) -> None:
    # The schema check above is a real check: the same command fails on a wrong type.
    binary = require_tool("cloud-init", "cloud-init")
    doc = yaml.safe_load(user_data(config()))
    doc["write_files"][0]["defer"] = "later"
    f = tmp_path / "user-data"
    f.write_text("#cloud-config\n" + yaml.safe_dump(doc))
    out = subprocess.run(
        [binary, "schema", "--config-file", str(f)], capture_output=True, text=True, check=False
    )
    assert out.returncode != 0


def test_user_data_carries_names_of_secrets_never_values() -> None:
    c = config()
    ud = user_data(c)
    doc = yaml.safe_load(ud)
    assert doc["packages"] == list(PACKAGES)
    settings = next(f for f in doc["write_files"] if f["path"] == "/etc/hkmail/secrets.json")
    assert "hkmail-dkim" in settings["content"] and '"region": "ap-hongkong"' in settings["content"]
    assert "PRIVATE KEY-----\n" not in ud  # only the fetch script's pattern mentions it
    assert user_data_hash(ud) == user_data_hash(user_data(c))  # deterministic
    assert ["python3", "/usr/local/sbin/hkmail-fetch-secrets", "/etc/hkmail/secrets.json"] in doc[
        "runcmd"
    ]


def test_alicloud_secrets_come_from_cn_hongkong() -> None:
    doc = yaml.safe_load(user_data(config("alicloud")))
    settings = next(f for f in doc["write_files"] if f["path"] == "/etc/hkmail/secrets.json")
    assert '"region": "cn-hongkong"' in settings["content"]


def test_production_rendering_uses_standard_ports_and_paths() -> None:
    r = render(config())
    main = r.by_path("/etc/postfix/main.cf").content
    master = r.by_path("/etc/postfix/master.cf").content
    assert "relayhost = [smtp.qcloudmail.com]:465" in main
    assert "smtp_tls_wrappermode = yes" in main
    assert "smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination" in main
    assert "inet_interfaces = all" in main
    for port in ("25", "587", "465"):
        assert any(line.startswith(f"{port} inet") for line in master.splitlines())
    dovecot = r.by_path("/etc/dovecot/dovecot.conf").content
    assert "port = 993" in dovecot and "listen = *" in dovecot
    assert (
        "Socket local:/var/spool/postfix/opendkim/opendkim.sock"
        in r.by_path("/etc/opendkim.conf").content
    )
    assert "listen 443 ssl;" in r.by_path("/etc/nginx/hkmail/mta-sts.conf").content
    assert "listen 80 default_server;" in r.by_path("/etc/nginx/conf.d/hkmail-acme.conf").content
    cert = r.by_path("/usr/local/sbin/hkmail-cert").content
    assert "--server https://acme-v02.api.letsencrypt.org/directory" in cert
    assert "--config-dir /etc/letsencrypt " in cert
    assert r.by_path("/var/www/mta-sts/.well-known/mta-sts.txt").content == POLICY


def test_fetch_script_in_user_data_is_the_packaged_one() -> None:
    script = (REPO / "components" / "hkmail" / "mailserver" / "fetch_secrets.py").read_text()
    assert render(config()).by_path("/usr/local/sbin/hkmail-fetch-secrets").content == script


def test_relay_outside_hong_kong_needs_a_declaration() -> None:
    with pytest.raises(SpecErrors, match=r"mailServer\.relay\.host.*cross-border"):
        config(relay=Relay(host="sg-smtp.qcloudmail.com"))
    declared = config(
        relay=Relay(host="sg-smtp.qcloudmail.com", cross_border_declaration="PCPD-MCC-2024-07")
    )
    assert "sg-smtp.qcloudmail.com" in render(declared).by_path("/etc/postfix/main.cf").content


def test_every_bad_field_is_reported_together() -> None:
    with pytest.raises(SpecErrors) as err:
        config(
            domain="Example..com",
            admin_cidr="0.0.0.0/0",
            users=("Alice", "bob", "bob"),
            dkim_selector="hk_1",
            postmaster="carol",
            mta_sts_policy="mode: enforce",
        )
    fields = {e.field for e in err.value.errors}
    assert fields == {
        "mailServer.domain",
        "mailServer.adminCidr",
        "mailServer.users",
        "mailServer.dkimSelector",
        "mailServer.postmaster",
        "mailServer.mtaStsPolicy",
    }
    assert "SSH must be open only to the administrators' own network" in str(err.value)


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "10.0.0.0/8", "203.0.0.0/15", "2001:db8::/32"])
def test_very_wide_admin_networks_are_refused(cidr: str) -> None:
    with pytest.raises(SpecErrors, match=r"mailServer\.adminCidr.*prefix /(16|48) or longer"):
        config(admin_cidr=cidr)


@pytest.mark.parametrize("cidr", ["203.0.0.0/16", "198.51.100.7/32", "2001:db8:1::/48"])
def test_admin_networks_of_one_site_are_accepted(cidr: str) -> None:
    assert config(admin_cidr=cidr).admin_cidr == cidr


def test_ffdhe2048_is_openssls_own() -> None:
    openssl = require_tool("openssl", "openssl")
    out = subprocess.run(
        [openssl, "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert render(config()).by_path("/etc/hkmail/ffdhe2048.pem").content == out.stdout


def test_ssh_by_key_only_and_security_upgrades() -> None:
    doc = yaml.safe_load(user_data(config()))
    assert doc["ssh_pwauth"] is False
    assert "unattended-upgrades" in doc["packages"]
    periodic = render(config()).by_path("/etc/apt/apt.conf.d/20auto-upgrades").content
    assert 'APT::Periodic::Unattended-Upgrade "1";' in periodic


def test_no_tls_daemon_for_clients_before_the_certificate() -> None:
    # The boot stops the packages' Postfix and Dovecot; only the deploy hook starts them.
    doc = yaml.safe_load(user_data(config()))
    steps = [s if isinstance(s, str) else " ".join(s) for s in doc["runcmd"]]
    assert "systemctl disable --now postfix dovecot" in steps
    assert not any("openssl req" in s for s in steps)  # no self-signed certificate at all
    assert not any(
        s.startswith("systemctl") and "postfix" in s and "disable" not in s for s in steps
    )
    hook = render(config()).by_path("/usr/local/sbin/hkmail-cert-deploy").content
    assert "systemctl enable postfix dovecot" in hook


def test_bad_secret_names_and_role_are_refused() -> None:
    bad = SecretRefs(
        cloud="alicloud",
        role_name="bad role",
        dkim_private_key="ok",
        mailbox_hashes="has space",
        relay_credentials="x" * 200,
    )
    with pytest.raises(SpecErrors) as err:
        config(secrets=bad)
    assert [e.field for e in err.value.errors] == [
        "mailServer.secrets.roleName",
        "mailServer.secrets",
        "mailServer.secrets",
    ]


def test_data_disk_is_mounted_at_the_mailbox_root_without_reformatting() -> None:
    doc = yaml.safe_load(user_data(config(data_device="/dev/vdb")))
    assert doc["fs_setup"] == [
        {"label": "hkmail-data", "filesystem": "ext4", "device": "/dev/vdb", "overwrite": False}
    ]
    assert doc["mounts"][0] == [
        "LABEL=hkmail-data",
        "/var/vmail",
        "ext4",
        "defaults,nofail",
        "0",
        "2",
    ]
    # The mail queue is on the encrypted data disk too, bind-mounted after the disk.
    assert doc["mounts"][1] == [
        "/var/vmail/.postfix-queue",
        "/var/spool/postfix",
        "none",
        "bind,nofail,x-systemd.requires-mounts-for=/var/vmail",
        "0",
        "0",
    ]
    move = doc["runcmd"][0]
    assert move.startswith("systemctl stop postfix && if ! mountpoint -q /var/spool/postfix")
    assert "cp -a /var/spool/postfix/. /var/vmail/.postfix-queue/" in move
    assert "fs_setup" not in yaml.safe_load(user_data(config()))


def test_relay_client_has_its_sasl_mechanisms() -> None:
    # Without libsasl2-modules Postfix cannot AUTH to the relay (PLAIN/LOGIN live there).
    assert "libsasl2-modules" in PACKAGES
    ci = (REPO / "scripts" / "ci-apt-packages.txt").read_text().split()
    assert set(PACKAGES) - {"python3"} <= set(ci)


@pytest.mark.parametrize("cloud", ["tencentcloud", "alicloud"])
def test_only_root_reaches_the_metadata_service(cloud: str, tmp_path: Path) -> None:
    # The rendered nftables.conf, loaded by Debian's nft in a network namespace of its own that
    # carries the metadata address on loopback: nothing outside the namespace is touched.
    require_root("nft and network namespaces")
    require_tool("nft", "nftables")
    require_tool("unshare", "util-linux")
    rendered = render(config(cloud))
    conf = tmp_path / "nftables.conf"
    conf.write_text(rendered.by_path("/etc/nftables.conf").content)
    conf.chmod(0o644)
    tmp_path.chmod(0o755)
    address = {"tencentcloud": "169.254.0.23", "alicloud": "100.100.100.200"}[cloud]
    out = subprocess.run(
        ["unshare", "--net", "sh", "-c", METADATA_PROBE],
        env={"ADDR": address, "CONF": str(conf), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "root: role keys" in out.stdout  # the probe reaches the service at all
    assert "nobody: ConnectionRefusedError" in out.stdout, out.stdout
    assert "www-data: ConnectionRefusedError" in out.stdout, out.stdout
    # No log shipper here: its uid is refused like any other.
    assert "uid 5001: ConnectionRefusedError" in out.stdout, out.stdout


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("connection_count_limit", 0, "1-1000 connections per client"),
        ("connection_rate_limit", 10_001, "1-10000 new connections per client and minute"),
    ],
)
def test_connection_limits_out_of_range_are_refused(field: str, value: int, allowed: str) -> None:
    camel = "".join(w.capitalize() if i else w for i, w in enumerate(field.split("_")))
    with pytest.raises(SpecErrors, match=rf"mailServer\.{camel}.*{allowed}"):
        config(**{field: value})


def test_opendmarc_reads_debians_public_suffix_list_and_restarts_when_it_changes() -> None:
    r = render(config())
    assert "PublicSuffixList /usr/share/publicsuffix/public_suffix_list.dat" in (
        r.by_path("/etc/opendmarc.conf").content
    )
    path_unit = r.by_path("/etc/systemd/system/hkmail-psl.path").content
    assert "PathChanged=/usr/share/publicsuffix/public_suffix_list.dat" in path_unit
    assert (
        "try-restart opendmarc.service"
        in r.by_path("/etc/systemd/system/hkmail-psl.service").content
    )
    assert "publicsuffix" in PACKAGES


def test_no_package_starts_its_service_before_runcmd(tmp_path: Path) -> None:
    layout = Layout(root=str(tmp_path))
    doc = user_data_document(config(), render(config(), layout))
    deny, debconf = doc["bootcmd"]
    # Once per instance, before the packages module: the policy-rc.d every maintainer script asks.
    assert deny[:3] == ["cloud-init-per", "once", "hkmail-no-autostart"]
    (tmp_path / "usr/sbin").mkdir(parents=True)
    subprocess.run(deny[3:], check=True, timeout=30)
    script = tmp_path / "usr/sbin/policy-rc.d"
    for service in ("postfix", "dovecot", "nginx"):
        assert subprocess.run([script, service, "start"], timeout=30).returncode == 101
    # Postfix's own debconf question, answered with a choice its template offers.
    assert debconf[:3] == ["cloud-init-per", "once", "hkmail-postfix-debconf"]
    question, _, answer = POSTFIX_DEBCONF.partition(" select ")
    templates = Path("/var/lib/dpkg/info/postfix.templates")
    if not templates.exists():
        unavailable("postfix is not installed: apt-get install postfix")
    block = templates.read_text().split(f"Template: {question.split()[1]}\n", 1)[1]
    choices = block.split("Choices: ", 1)[1].splitlines()[0].split(", ")
    assert answer in choices, choices
    assert debconf[-1] == f"echo '{POSTFIX_DEBCONF}' | debconf-set-selections"
    # runcmd's first step lifts the ban; services start when runcmd says (Postfix and Dovecot
    # only once the certificate exists: hkmail-cert-deploy).
    assert doc["runcmd"][0] == ["rm", "-f", layout.p(POLICY_RC_D)]


_LOGIN_RATE_PROBE = r"""
set -eu
ip link set lo up
nft -f "$CONF"
python3 -c '
import json, socket, sys, threading
ports = [int(p) for p in sys.argv[1:]]
for port in ports:
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port)); s.listen(64)
    def serve(s=s):
        while True:
            c, _ = s.accept(); c.close()
    threading.Thread(target=serve, daemon=True).start()
def tries(port, source, n):
    out = []
    for _ in range(n):
        try:
            socket.create_connection(("127.0.0.1", port), 3, (source, 0)).close(); out.append("ok")
        except OSError as exc:
            out.append(type(exc).__name__)
    return out
print(json.dumps({
    "imaps": tries(993, "127.0.0.5", 7),
    "submission_same_client": tries(587, "127.0.0.5", 1),
    "imaps_other_client": tries(993, "127.0.0.6", 3),
    "smtp": tries(25, "127.0.0.5", 7),
}))
' 993 587 25
"""


def test_a_client_reconnecting_to_log_in_is_cut_off_by_nftables(tmp_path: Path) -> None:
    # The rendered nftables.conf in a network namespace of its own, with listeners on the real
    # ports; nothing outside the namespace is touched.
    require_root("nft and network namespaces")
    require_tool("nft", "nftables")
    require_tool("unshare", "util-linux")
    conf = tmp_path / "nftables.conf"
    conf.write_text(render(config(connection_rate_limit=5)).by_path("/etc/nftables.conf").content)
    conf.chmod(0o644)
    out = subprocess.run(
        ["unshare", "--net", "sh", "-c", _LOGIN_RATE_PROBE],
        env={"CONF": str(conf), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    # Five new connections a minute per address to the login ports, then refused (all of them:
    # the budget is the address's, whichever login port it tries next) ...
    assert got["imaps"] == ["ok"] * 5 + ["ConnectionRefusedError"] * 2, got
    assert got["submission_same_client"] == ["ConnectionRefusedError"], got
    # ... another address is not affected, and port 25 is left to Postfix's anvil.
    assert got["imaps_other_client"] == ["ok"] * 3, got
    assert got["smtp"] == ["ok"] * 7, got
