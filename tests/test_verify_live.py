"""scripts/verify against real authoritative servers: a Knot "root" that delegates the stack's
zones to two Knot name servers on other loopback addresses (one of them drifted), and a real
HTTPS server for the MTA-STS policy, its certificate from a test CA."""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import http.server
import json
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from hkmail.records import Record, mta_sts_policy
from hkmail.spec import read_stack
from program import run
from tests.conftest import stack_config
from tests.support import (
    MIGRATION_STACK,
    REPO,
    free_port,
    free_tcp_ports,
    knot,
    make_test_ca,
    run_in_process,
)
from toolchain.zone import planned_records, zone_text

STACK = "tencent-exmail"
ZONE = "harbourtrading.com.hk"
STS_ADDRESS = "127.0.0.4"


def root_zone(ns2: str, spf_mail_qq: str) -> str:
    return "\n".join(
        [
            "$ORIGIN .",
            ". 86400 IN SOA a.root.test. hostmaster.root.test. 1 1800 900 604800 86400",
            ". 86400 IN NS a.root.test.",
            "a.root.test. 86400 IN A 127.0.0.1",
            *(
                f"{z}. 86400 IN NS {ns}"
                for z in (ZONE, "harbourtrading.hk")
                for ns in ("f1g1ns1.dnspod.net.", "f1g1ns2.dnspod.net.")
            ),
            "f1g1ns1.dnspod.net. 86400 IN A 127.0.0.2",
            f"f1g1ns2.dnspod.net. 86400 IN A {ns2}",
            f'spf.mail.qq.com. 300 IN TXT "{spf_mail_qq}"',
            "",
        ]
    )


@dataclass
class PolicyServer:
    port: int
    body: dict[str, str] = field(default_factory=dict)  # path -> policy text
    requests: list[str] = field(default_factory=list)


@contextlib.contextmanager
def https_policy_server(cert: Path, key: Path) -> Iterator[PolicyServer]:
    state = PolicyServer(free_tcp_ports(1)[0])

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(f"{self.headers.get('Host')} {self.path}")
            text = state.body.get(self.path)
            if text is None:
                self.send_error(404)
                return
            data = text.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer((STS_ADDRESS, state.port), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


@dataclass
class World:
    project: Path
    port: int
    clean_root: str
    drift_root: str
    cafile: Path
    sts: PolicyServer
    policy: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("verify")
    cfg = with_local_policy_host(stack_config(STACK))
    resources = run_in_process(lambda: run(cfg), stack=STACK)
    zones = planned_records(resources)
    assert set(zones) == {ZONE, "harbourtrading.hk"}
    extra_a = ""  # the policy host's own record is planned (hosts: in the stack)
    good = {
        z: zone_text(z, recs, provider, pending) + (extra_a if z == ZONE else "")
        for z, (provider, recs, pending) in zones.items()
    }
    provider, records, pending = zones[ZONE]
    drifted: list[Record] = []
    for r in records:
        if r.purpose == "planned" and r.fqdn == f"_dmarc.{ZONE}":
            continue  # half-done change: DMARC deleted on this server only
        if r.rdtype == "MX":
            drifted.append(Record(r.zone, r.name, r.rdtype, r.value, 3600, r.purpose))
        elif r.rdtype == "TXT" and "DKIM1" in r.txt:
            text = r.txt
            split = f'"{text[:200]}" "{text[200:400]}" "{text[400:]}"'
            drifted.append(Record(r.zone, r.name, "TXT", split, r.ttl, r.purpose))
        else:
            drifted.append(r)
    drifted.append(Record(ZONE, "@", "MX", "20 mx.oldmail.example.", 3600, "old"))
    drifted.append(Record(ZONE, "@", "TXT", '"google-site-verification=abc123"', 600, "other"))
    bad = dict(good)
    bad[ZONE] = (
        zone_text(ZONE, drifted, provider, pending)
        .replace(" 1 3600 180 ", " 2 3600 180 ")
        .replace("IN NS f1g1ns2.dnspod.net.", "IN NS ns9.oldhost.example.")  # not redelegated
        + extra_a
    )
    policy = mta_sts_policy(next(d for d in read_stack(cfg).domains if d.name == ZONE))
    assert policy is not None
    cafile, cert, key = make_test_ca(tmp, dns_names=[f"mta-sts.{ZONE}"], days=1)
    port = free_port()
    servers = [
        ("127.0.0.2", good),
        ("127.0.0.3", bad),
        ("127.0.0.5", good),
        ("127.0.0.1", {".": root_zone("127.0.0.5", "v=spf1 ip4:183.3.225.0/24 -all")}),
        (
            "127.0.0.6",
            {
                ".": root_zone(
                    "127.0.0.3",
                    "v=spf1 include:a.spf.qq.com include:b.spf.qq.com include:c.spf.qq.com -all",
                )
            },
        ),
    ]
    with contextlib.ExitStack() as stack:
        for address, texts in servers:
            workdir = tmp / address
            workdir.mkdir()
            stack.enter_context(knot(workdir, texts, port=port, address=address))
        sts = stack.enter_context(https_policy_server(cert, key))
        sts.body["/.well-known/mta-sts.txt"] = policy.to_text()
        project = local_project(tmp / "project", cfg, STACK)
        yield World(project, port, "127.0.0.1", "127.0.0.6", cafile, sts, policy.to_text())


def with_local_policy_host(cfg: dict[str, Any]) -> dict[str, Any]:
    """The stack, with its MTA-STS policy host at the loopback HTTPS server of the test."""
    cfg = copy.deepcopy(cfg)
    domain = next(d for d in cfg["hkmail:domains"] if d["name"] == ZONE)
    domain["hosts"] = {"mta-sts-hk": [STS_ADDRESS]}
    return cfg


def local_project(tmp: Path, cfg: dict[str, Any], stack: str) -> Path:
    """A project around this repo's program with one stack file holding ``cfg``."""
    (tmp / "stacks").mkdir(parents=True, exist_ok=True)
    project = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    project["main"] = str(REPO)
    project["runtime"]["options"]["virtualenv"] = str(REPO / ".venv")
    (tmp / "Pulumi.yaml").write_text(yaml.safe_dump(project))
    (tmp / "stacks" / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": cfg}))
    return tmp


def verify(world: World, root: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return verify_project(world, root, world.project, *extra, stack=STACK)


def verify_project(
    world: World, root: str, project: Path, *extra: str, stack: str = MIGRATION_STACK
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(REPO / "scripts" / "verify"),
            "--stack",
            stack,
            "--project",
            str(project),
            "--root-server",
            f"{root}:{world.port}",
            "--dns-port",
            str(world.port),
            "--https-port",
            str(world.sts.port),
            "--cafile",
            str(world.cafile),
            "--timeout",
            "2",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.mark.integration
def test_every_nameserver_serves_the_plan(world: World, tmp_path: Path) -> None:
    stamp = tmp_path / "stamp.json"
    done = verify(world, world.clean_root, "--format", "json", "--stamp", str(stamp))
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads(done.stdout)
    assert doc["result"] == "pass" and doc["errors"] == 0
    zone = next(z for z in doc["zones"] if z["zone"] == ZONE)
    assert zone["parent"] == "."
    assert [(n["name"], n["address"]) for n in zone["nameservers"]] == [
        ("f1g1ns1.dnspod.net.", "127.0.0.2"),
        ("f1g1ns2.dnspod.net.", "127.0.0.5"),
    ]
    assert all(n["drift"] == [] and n["checked"] > 20 for n in zone["nameservers"])
    assert zone["spf"][ZONE]["lookups"] == 1 and zone["spf"][ZONE]["voidLookups"] == 0
    assert zone["mtaSts"]["status"] == 200
    assert zone["mtaSts"]["servedId"] == zone["mtaSts"]["plannedId"]
    assert zone["mtaSts"]["served"]["mode"] == "enforce"
    assert world.sts.requests[-1] == f"mta-sts.{ZONE} /.well-known/mta-sts.txt"
    written = json.loads(stamp.read_text())
    assert written["zones"][ZONE] == zone["digest"]


@pytest.mark.integration
def test_drift_on_one_nameserver_is_reported_per_server(world: World) -> None:
    world.sts.body["/.well-known/mta-sts.txt"] = world.policy.replace("enforce", "testing")
    try:
        done = verify(world, world.drift_root, "--format", "json")
        markdown = verify(world, world.drift_root, "--format", "markdown")
    finally:
        world.sts.body["/.well-known/mta-sts.txt"] = world.policy
    assert done.returncode == 1, done.stdout + done.stderr
    doc = json.loads(done.stdout)
    zone = next(z for z in doc["zones"] if z["zone"] == ZONE)
    ns1, ns2 = zone["nameservers"]
    assert ns1["address"] == "127.0.0.2" and ns1["drift"] == []
    assert ns2["address"] == "127.0.0.3"
    kinds = {(d["kind"], d["rdtype"], d["severity"]) for d in ns2["drift"]}
    assert ("missing", "TXT", "error") in kinds  # _dmarc
    assert ("ttl", "MX", "error") in kinds
    assert ("split", "TXT", "error") in kinds  # the DKIM key in 200-octet strings
    assert ("extra", "MX", "error") in kinds  # mail would also go to the old host
    assert ("extra", "TXT", "warning") in kinds  # a site-verification TXT: not ours
    assert ("ns-mismatch", "NS", "warning") in kinds  # apex NS not what the parent says
    missing = [d for d in ns2["drift"] if d["kind"] == "missing"]
    assert [d["owner"] for d in missing] == [f"_dmarc.{ZONE}."]
    # the brand domain is served the same by both
    brand = next(z for z in doc["zones"] if z["zone"] == "harbourtrading.hk")
    assert all(n["drift"] == [] for n in brand["nameservers"])
    zone_findings = {(f["check"], f["kind"]) for f in zone["findings"]}
    assert ("delegation", "serial") in zone_findings
    assert ("spf", "void-lookups") in zone_findings  # three includes with no SPF, live
    assert ("mta-sts", "policy") in zone_findings  # testing served, enforce planned
    assert ("mta-sts", "id") in zone_findings  # and the id was not changed with it
    assert zone["spf"][ZONE]["voidLookups"] == 3
    assert markdown.returncode == 1
    assert markdown.stdout.startswith("# Live DNS verification of stack tencent-exmail")
    assert "f1g1ns2.dnspod.net (127.0.0.3)" in markdown.stdout
    assert "DRIFT:" in markdown.stdout


@pytest.mark.integration
def test_unreachable_dns_is_exit_2(world: World) -> None:
    dead = free_port()
    done = subprocess.run(
        [
            str(REPO / "scripts" / "verify"),
            "--stack",
            STACK,
            "--root-server",
            f"127.0.0.1:{dead}",
            "--timeout",
            "0.5",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "DNS could not be read" in done.stderr


@contextlib.contextmanager
def useless_root() -> Iterator[int]:
    """A UDP "root server" that answers every query NOERROR with nothing in it and no AA bit,
    as a captive portal or a broken middlebox does."""
    import socket

    import dns.message

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(data)
            reply = dns.message.make_response(query)
            reply.flags &= ~dns.flags.AA
            sock.sendto(reply.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        sock.close()


@pytest.mark.integration
def test_dns_that_answers_nothing_usable_is_exit_2_not_drift() -> None:
    with useless_root() as port:
        done = subprocess.run(
            [
                str(REPO / "scripts" / "verify"),
                "--stack",
                STACK,
                "--root-server",
                f"127.0.0.1:{port}",
                "--timeout",
                "0.5",
            ],
            capture_output=True,
            text=True,
            timeout=900,
        )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "DNS could not be read" in done.stderr and "no usable DNS from here" in done.stderr
    assert "DRIFT" not in done.stdout + done.stderr


@pytest.mark.integration
def test_record_a_pass_then_the_cutover_is_allowed(world: World, tmp_path: Path) -> None:
    """The runbook's gate: the lowered records verified on every name server, written into the
    stack by --record, is what lets `scripts/migrate plan` accept the cut-over."""
    from hkmail.records.migration import phase_domain
    from tests.support import migration_config as config
    from tests.support import write_migration_project as write_project

    lowered = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    cfg = with_local_policy_host(config("sync", ttlLoweredAt=lowered.isoformat()))
    project = write_project(tmp_path / "project", cfg)
    zones = planned_records(run_in_process(lambda: run(cfg), stack=MIGRATION_STACK))
    texts = {
        z: zone_text(z, recs, provider, pending) for z, (provider, recs, pending) in zones.items()
    }
    spec = read_stack(cfg)
    assert spec.migration is not None
    domain = next(d for d in spec.domains if d.name == ZONE)
    policy = mta_sts_policy(phase_domain(domain, spec.migration))
    assert policy is not None and policy.mode == "testing"
    root = root_zone("127.0.0.9", "v=spf1 ip4:183.3.225.0/24 -all").replace(
        "127.0.0.2", "127.0.0.8"
    )
    root += 'spf.qiye.aliyun.com. 300 IN TXT "v=spf1 ip4:203.0.113.0/24 -all"\n'
    with contextlib.ExitStack() as stack:
        for address, zone_texts in (
            ("127.0.0.8", texts),
            ("127.0.0.9", texts),
            ("127.0.0.7", {".": root}),
        ):
            (tmp_path / address).mkdir()
            stack.enter_context(knot(tmp_path / address, zone_texts, world.port, address))
        world.sts.body["/.well-known/mta-sts.txt"] = policy.to_text()
        try:
            refused = subprocess.run(
                [
                    str(REPO / "scripts" / "migrate"),
                    "plan",
                    "--stack",
                    MIGRATION_STACK,
                    "--project",
                    str(project),
                ],
                capture_output=True,
                text=True,
                timeout=900,
            )
            assert refused.returncode == 0, refused.stdout + refused.stderr  # sync itself is fine
            stack_file = project / "stacks" / f"Pulumi.{MIGRATION_STACK}.yaml"
            cut = stack_file.read_text().replace('phase: "sync"', 'phase: "cutover"')
            stack_file.write_text(cut)
            before = subprocess.run(
                [
                    str(REPO / "scripts" / "migrate"),
                    "plan",
                    "--stack",
                    MIGRATION_STACK,
                    "--project",
                    str(project),
                ],
                capture_output=True,
                text=True,
                timeout=900,
            )
            assert before.returncode == 1 and "hkmail:migration.verified" in before.stdout
            stack_file.write_text(cut.replace('phase: "cutover"', 'phase: "sync"'))
            done = verify_project(world, "127.0.0.7", project, "--record")
        finally:
            world.sts.body["/.well-known/mta-sts.txt"] = world.policy
    assert done.returncode == 0, done.stdout + done.stderr
    assert "recorded in the stack file" in done.stderr
    text = stack_file.read_text()
    assert "# migration stack" in text and "# ttlLoweredAt" in text  # comments kept
    assert "    verified: {at: " in text
    stack_file.write_text(text.replace('phase: "sync"', 'phase: "cutover"'))
    after = subprocess.run(
        [
            str(REPO / "scripts" / "migrate"),
            "plan",
            "--stack",
            MIGRATION_STACK,
            "--project",
            str(project),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert after.returncode == 0, after.stdout + after.stderr
    assert "Phase cutover is safe to apply now." in after.stdout
