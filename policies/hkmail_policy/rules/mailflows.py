"""Residency of the mail itself: every flow of mail data the stack's DNS records set up.

The records say where mail goes, whatever cloud resources the stack creates: MX hands the
domain's inbound mail (its mailboxes) to a system; an SPF include authorises a service to send as
the domain (outbound mail passes through it); DMARC rua/ruf and TLS-RPT rua send reports to a
receiver. Each is a flows.Flow out of Hong Kong whose destination comes from the mail-systems
table; flows.judge decides (attestations on file count; a cross-border transfer is declared by an
exemption on file for the record, which the pack applies to every finding).

Hosts inside the stack's own zones are the stack's own: an MX host whose address comes from a
resource the stack creates through a Hong Kong provider (the private server) is Hong Kong; one
with a literal address is the company's own server, whose location only the company can state
(an attestation on file for that host). Report addresses in the stack's own zones land in its own
mailboxes, which the MX flow already judges.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from .. import attestations, mail_systems, regions
from ..controls import RESIDENCY
from ..exemptions import stack_of
from ..flows import DECLARED_PREFIX, Declarations, Flow, Place, judge
from ..model import ALLOWED_REGIONS_SCHEMA, Context, Finding, Resource, Rule
from ..values import first, leaves, texts
from .mailauth import RECORD_SHAPES, _tags, _txt

HONG_KONG_DOMAIN = Place("the stack's domains", "hong-kong", "the sending domain's own records")


def _record(resource: Resource) -> tuple[str, str, str, str] | None:
    """(zone, host relative to it, type, value) of a DNS record resource with literal inputs."""
    shape = RECORD_SHAPES.get(resource.type)
    if shape is None:
        return None
    fields = [first(resource.props, f) for f in (shape.domain, shape.name, shape.type)]
    value = first(resource.props, shape.value)
    if any(f is None or not isinstance(f.value, str) for f in fields) or value is None:
        return None
    if value.unknown or not isinstance(value.value, str):
        return None
    zone, host, rtype = (str(f.value) for f in fields if f is not None)
    return zone.lower().rstrip("."), host.lower(), rtype.upper(), value.value


_T = TypeVar("_T")


def _per_stack(fn: Callable[[Context], _T]) -> Callable[[Context], _T]:
    """Computed once per stack, not once per record: every record of a stack asks the same
    question of the whole stack (a 1,000-domain stack has ~19,000 resources)."""
    last: list[tuple[Any, _T]] = []  # [(the stack object itself, the answer)], swapped whole

    @functools.wraps(fn)
    def memo(ctx: Context) -> _T:
        held = last[0] if last else None
        if held is not None and held[0] is ctx.stack:
            return held[1]
        answer = fn(ctx)
        last[:] = [(ctx.stack, answer)]
        return answer

    return memo


@_per_stack
def _zones(ctx: Context) -> frozenset[str]:
    return frozenset(r[0] for r in (_record(res) for res in ctx.stack) if r is not None)


def _in_zones(name: str, zones: frozenset[str]) -> bool:
    """`name` is a zone or lies under one: its suffixes looked up in the set, not the set
    scanned (a 1,000-domain stack has 1,000 zones and asks this for every record)."""
    if name in zones:
        return True
    dot = name.find(".")
    while dot != -1:
        if name[dot + 1 :] in zones:
            return True
        dot = name.find(".", dot + 1)
    return False


def _fqdn(zone: str, host: str) -> str:
    return zone if host in ("@", "") else f"{host}.{zone}"


def _hong_kong_provider(resource: Resource, allowed: Sequence[str]) -> bool:
    region = first(resource.provider.props, "region") if resource.provider else None
    return (
        region is not None
        and isinstance(region.value, str)
        and regions.in_allowed(region.value, allowed)
    )


@_per_stack
def _address_records(ctx: Context) -> tuple[dict[str, Resource], dict[str, list[Resource]]]:
    """The stack's resources by URN, and its A/AAAA record resources by the name they give."""
    by_name: dict[str, list[Resource]] = {}
    for res in ctx.stack:
        rec = _record(res) or _deferred(res)
        if rec is not None and rec[2] in ("A", "AAAA"):
            by_name.setdefault(_fqdn(rec[0], rec[1]), []).append(res)
    return {r.urn: r for r in ctx.stack}, by_name


def _own_host(host: str, ctx: Context) -> Place:
    """An MX host inside the stack's zones: Hong Kong when its A/AAAA record takes its address
    from a resource the stack creates through a Hong Kong provider (an EIP of the server)."""
    by_urn, addresses = _address_records(ctx)
    allowed = ctx.allowed_regions()
    for res in addresses.get(host, ()):
        for urn in res.property_dependencies.get("value", ()):
            source = by_urn.get(urn)
            if source is not None and _hong_kong_provider(source, allowed):
                return Place(
                    host,
                    "hong-kong",
                    f"the stack's own server: its address comes from {source.describe()}, "
                    "created through a Hong Kong provider",
                )
    return Place(
        host,
        "not-published",
        "a host of the stack's own zone with a literal address: where that server stands is "
        "the company's to state (an attestation on file for this host)",
    )


def _deferred(resource: Resource) -> tuple[str, str, str, str] | None:
    """Like _record, for an A record whose value is another resource's output."""
    shape = RECORD_SHAPES.get(resource.type)
    if shape is None:
        return None
    fields = [first(resource.props, f) for f in (shape.domain, shape.name, shape.type)]
    if any(f is None or not isinstance(f.value, str) for f in fields):
        return None
    zone, host, rtype = (str(f.value) for f in fields if f is not None)
    return zone.lower().rstrip("."), host.lower(), rtype.upper(), ""


def _own_ses_identity(domain: str, ctx: Context) -> bool:
    """The stack registers the Tencent SES sending identity for `domain` itself (every Tencent
    resource's region is judged by residency-provider-region, so that identity is Hong Kong's or
    the gate fails there)."""
    return domain in _ses_identities(ctx)


@_per_stack
def _ses_identities(ctx: Context) -> frozenset[str]:
    found = set()
    for r in ctx.stack:
        if not r.type.startswith(mail_systems.TENCENT_SES_TYPE_PREFIX):
            continue
        identity = first(r.props, "emailIdentity")
        if identity is not None:
            found.add(str(identity.value).lower().rstrip("."))
    return frozenset(found)


_HK_RELAY = re.compile(rf"(?<![\w.-]){re.escape(mail_systems.TENCENT_SES_HK_RELAY)}(?![\w-])")


@_per_stack
def _relays_through_ses_hong_kong(ctx: Context) -> str | None:
    """The resource whose values (user data decoded) name Tencent SES's Hong Kong relay host,
    unless a relayhost anywhere in the stack also names another destination (a list, Postfix
    3.5+): then some mail leaves through that one, and the include is not Hong Kong's alone."""
    named = None
    for r in ctx.stack:
        for leaf in leaves(r.props):
            if not isinstance(leaf.value, str):
                continue
            for _, text in texts(leaf.value):
                if any(
                    host != mail_systems.TENCENT_SES_HK_RELAY for _, host, _ in _destinations(text)
                ):
                    return None
                if named is None and _HK_RELAY.search(text):
                    named = r.describe()
    return named


def declarations_for(resource: Resource) -> Declarations:
    """The attestations scoped to the resource's stack (a reviewer signs for one company)."""
    return Declarations(attestations=attestations.for_stack(stack_of(resource.urn)))


def _findings(resource: Resource, ctx: Context, flows: Iterable[Flow]) -> Iterator[Finding]:
    declared = declarations_for(resource)
    for flow in flows:
        j = judge(flow, declared, ctx.today)
        if j.verdict == "declared":
            yield Finding(
                f"{DECLARED_PREFIX}{j.declared_by}] {resource.describe()}: {flow.describe()}: "
                f"{j.reason}",
                resource.urn,
            )
        elif j.blocking:
            yield Finding(f"{resource.describe()}: {j.message()}", resource.urn)


# --- the flows each record sets up ------------------------------------------------------------


def mx_flows(resource: Resource, ctx: Context) -> list[Flow]:
    rec = _record(resource)
    if rec is None or rec[2] != "MX":
        return []
    zone, host, _, value = rec
    target = value.strip().split()[-1].lower().rstrip(".") if value.strip() else ""
    if target in ("", "."):
        return []  # null MX (RFC 7505): no mail is accepted at all
    system = mail_systems.by_mx(target)
    if system is not None:
        dest = system.place(target)
    elif _in_zones(target, _zones(ctx)):
        dest = _own_host(target, ctx)
    else:
        dest = mail_systems.unlisted(target, "MX host")
    domain = _fqdn(zone, host)
    return [
        Flow(
            Place(domain, "hong-kong", "mail addressed to the domain"),
            dest,
            f"mailboxes of {domain} (all inbound mail)",
            f"MX {domain} -> {target}",
            "mail-storage",
        )
    ]


def _is_spf(text: str) -> bool:
    return text.lower().startswith("v=spf1")


def spf_flows(resource: Resource, ctx: Context) -> list[Flow]:
    txt = _txt(resource)
    if txt is None or not _is_spf(txt.text):
        return []
    domain = _fqdn(txt.domain.lower().rstrip("."), txt.host.lower())
    zones = _zones(ctx)
    out = []
    for term in txt.text.split()[1:]:
        m = re.fullmatch(r"[+~?-]?include:(\S+)", term, re.IGNORECASE)
        if m is None:
            continue  # ip4/ip6/a/mx: the domain's own addresses
        include = m.group(1).lower().rstrip(".")
        if _in_zones(include, zones):
            continue
        system = mail_systems.by_spf_include(include)
        ses = system is not None and system.id == "tencent-ses"
        relay = _relays_through_ses_hong_kong(ctx) if ses else None
        if ses and _own_ses_identity(domain, ctx):
            dest = Place(f"Tencent SES ({include})", "hong-kong", mail_systems.TENCENT_SES_HK_FACT)
        elif ses and relay is not None:
            fact = f"{mail_systems.TENCENT_SES_RELAY_FACT}, in {relay}"
            dest = Place(f"Tencent SES ({include})", "hong-kong", fact)
        elif system is not None:
            dest = system.place(include)
        else:
            dest = mail_systems.unlisted(include, "SPF include")
        out.append(
            Flow(
                HONG_KONG_DOMAIN,
                dest,
                f"outgoing mail sent as {domain} (message content and recipients)",
                f"SPF {domain} include:{include}",
                "mail-relay",
            )
        )
    return out


def _report_host(uri: str) -> str | None:
    uri = uri.strip()
    if uri.lower().startswith("mailto:"):
        address = uri[len("mailto:") :].split("!")[0]
        return address.rsplit("@", 1)[-1].lower() if "@" in address else None
    m = re.match(r"https://([^/:]+)", uri, re.IGNORECASE)
    return m.group(1).lower() if m else None


def _report_flows(resource: Resource, ctx: Context, label: str, tag: str, data: str) -> list[Flow]:
    txt = _txt(resource)
    if txt is None:
        return []
    tags = _tags(txt.text)
    version = tags.get("v", "").upper()
    if (label == "_dmarc" and version != "DMARC1") or (
        label == "_smtp._tls" and version != "TLSRPTV1"
    ):
        return []
    domain = _fqdn(txt.domain.lower().rstrip("."), txt.host.lower())
    zones = _zones(ctx)
    out = []
    for uri in tags.get(tag, "").split(","):
        host = _report_host(uri)
        if not host or _in_zones(host, zones):
            continue  # the stack's own mailboxes: the MX flow judges where they are
        out.append(
            Flow(
                HONG_KONG_DOMAIN,
                mail_systems.unlisted(host, "report receiver"),
                data,
                f"{label.upper() if label == '_dmarc' else 'TLS-RPT'} {domain} {tag}={uri.strip()}",
                "report",
            )
        )
    return out


def failure_report_flows(resource: Resource, ctx: Context) -> list[Flow]:
    return _report_flows(
        resource, ctx, "_dmarc", "ruf",
        "DMARC failure reports (message headers, possibly content: personal data)",
    )  # fmt: skip


def aggregate_report_flows(resource: Resource, ctx: Context) -> list[Flow]:
    return [
        *_report_flows(
            resource, ctx, "_dmarc", "rua",
            "DMARC aggregate reports (sending IPs and counts, no message content)",
        ),
        *_report_flows(
            resource, ctx, "_smtp._tls", "rua",
            "TLS-RPT aggregate reports (sending MTAs and TLS results, no message content)",
        ),
    ]  # fmt: skip


# Postfix's relayhost line as the mail server's user data renders it ("relayhost = [host]:port";
# the brackets turn off MX lookups, RFC 5321 5.1): the smarthost all outgoing mail goes through.
# postconf(5): the value is one or more destinations (Postfix 3.5+; Debian ships 3.7), "domain
# name, hostname, hostname:port, [hostname]:port, [hostaddress] or [hostaddress]:port, separated
# by comma or whitespace"; a line indented deeper than it continues it (main.cf's rule, kept
# relative because the file sits indented inside cloud-init YAML).
_RELAYHOST = re.compile(r"(?P<indent>[ \t]*)relayhost[ \t]*=(?P<value>.*)")
_DESTINATION = re.compile(
    r"^(?:\[(?:ipv6:)?(?P<bracketed>[A-Za-z0-9.:-]+)\]|(?P<host>[A-Za-z0-9.-]+))"
    r"(?::(?P<port>[A-Za-z0-9-]+))?$",
    re.IGNORECASE,
)
SERVER = Place("the stack's mail server", "hong-kong", "the private server, in a Hong Kong zone")
RELAY_TYPES = ("tencentcloud:Instance/instance:Instance", "alicloud:ecs/instance:Instance")
_RELAY_DATA = "outgoing mail the server relays (message content and recipients)"


def relayhost_values(text: str) -> list[str]:
    """Each relayhost setting's whole value, continuation lines joined (empty: direct delivery)."""
    out: list[str] = []
    if "relayhost" not in text:
        return out  # most values: skip the line scan
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = _RELAYHOST.match(line)
        if m is None:
            continue
        value = [m["value"]]
        for more in lines[i + 1 :]:
            if not more.strip() or len(more) - len(more.lstrip()) <= len(m["indent"]):
                break
            value.append(more)
        out.append(" ".join(v.strip() for v in value).strip())
    return out


def _relay_place(host: str) -> Place:
    system = mail_systems.by_relay(host)
    if host == mail_systems.TENCENT_SES_HK_RELAY:
        return Place(f"Tencent SES ({host})", "hong-kong", mail_systems.TENCENT_SES_RELAY_FACT)
    if system is not None:
        return system.place(host)
    return mail_systems.unlisted(host, "SMTP relay")


def _destinations(text: str) -> Iterator[tuple[str, str | None, str]]:
    """(as written, host or None when it is not a destination, ":port" or "") for each
    destination of each relayhost setting in the text."""
    for value in relayhost_values(text):
        for token in (t for t in re.split(r"[\s,]+", value) if t):
            m = _DESTINATION.match(token)
            if m is None:
                yield token, None, ""
            else:
                host = (m["bracketed"] or m["host"]).lower().rstrip(".")
                yield token, host, f":{m['port']}" if m["port"] else ""


def relay_flows(resource: Resource, ctx: Context) -> list[Flow]:
    """The smarthosts the private server relays outbound mail through (relay.host of the spec):
    one flow per destination of each relayhost list; a value that is not destinations (a
    $parameter, a template) is a relay whose place is not published (fail closed)."""
    out: list[Flow] = []
    for leaf in leaves(resource.props):
        if not isinstance(leaf.value, str):
            continue
        for _, text in texts(leaf.value):
            for token, host, port in _destinations(text):
                if host is None:
                    dest = Place(
                        token,
                        "not-published",
                        f"relayhost destination {token!r} is not a host this pack can read "
                        "(postconf(5): host, host:port, [host] or [host]:port), so where it "
                        "relays to is not known",
                    )
                    where = f"relayhost {token} of {resource.describe()}"
                else:
                    dest = _relay_place(host)
                    where = f"relayhost {host}{port} of {resource.describe()}"
                out.append(Flow(SERVER, dest, _RELAY_DATA, where, "mail-relay"))
    return out


def check_mail_relay(resource: Resource, ctx: Context) -> Iterable[Finding]:
    return _findings(resource, ctx, relay_flows(resource, ctx))


def check_mail_storage(resource: Resource, ctx: Context) -> Iterable[Finding]:
    return _findings(resource, ctx, mx_flows(resource, ctx))


def check_mail_senders(resource: Resource, ctx: Context) -> Iterable[Finding]:
    return _findings(resource, ctx, spf_flows(resource, ctx))


def check_failure_reports(resource: Resource, ctx: Context) -> Iterable[Finding]:
    return _findings(resource, ctx, failure_report_flows(resource, ctx))


def check_aggregate_reports(resource: Resource, ctx: Context) -> Iterable[Finding]:
    return _findings(resource, ctx, aggregate_report_flows(resource, ctx))


def all_flows(resource: Resource, ctx: Context) -> list[Flow]:
    """Every mail flow one record sets up (plans and reports list them)."""
    return [
        *mx_flows(resource, ctx),
        *spf_flows(resource, ctx),
        *failure_report_flows(resource, ctx),
        *aggregate_report_flows(resource, ctx),
    ]


# Each rule and the flows it judges (plans list them without a pack run: toolchain/planflows.py).
FLOWS_BY_RULE: dict[str, Callable[[Resource, Context], list[Flow]]] = {
    "residency-mail-storage": mx_flows,
    "residency-mail-senders": spf_flows,
    "residency-mail-failure-reports": failure_report_flows,
    "residency-mail-aggregate-reports": aggregate_report_flows,
    "residency-mail-relay": relay_flows,
}


_DECLARE = (
    "an attestation on file in policies/attestations.yaml (the vendor's written confirmation of "
    "Hong Kong storage: who, document or clause, date, expiry), or a cross-border transfer "
    "declared by a reviewed exemption in policies/exemptions.yaml for this record (destination "
    "country, transfer safeguard and reference in its reason/reference)"
)
_RECORD_TYPES = tuple(RECORD_SHAPES)

RULES = (
    Rule(
        id="residency-mail-storage",
        title="Mailboxes in Hong Kong",
        description="Each domain's MX hands all its inbound mail, and so its mailboxes, to a "
        "system; that system must keep the mail in Hong Kong. A hosted suite's location is what "
        "its vendor publishes (policies/hkmail_policy/mail_systems.py: Tencent Exmail and Alibaba "
        "Mail publish none), an MX host outside the stack's zones that the table does not list "
        "is not published, and a host of the stack's own zone is Hong Kong only when its "
        "address comes from a server the stack creates through a Hong Kong provider. Not "
        "published counts as leaving Hong Kong (fail closed) until attested or declared.",
        severity="critical",
        enforcement="mandatory",
        remediation="Use the private server (suite private), or get the vendor's written "
        "confirmation that your tenant's mail is stored in Hong Kong and file it as " + _DECLARE,
        controls=RESIDENCY,
        check=check_mail_storage,
        scope="stack",
        types=_RECORD_TYPES,
        config_schema=ALLOWED_REGIONS_SCHEMA,
    ),
    Rule(
        id="residency-mail-senders",
        title="Outgoing mail through Hong Kong services",
        description="Each SPF include authorises a service to send as the domain, so outgoing "
        "mail (content and recipients) passes through it. Tencent SES is Hong Kong when the "
        "stack registers its sending identity through the Hong Kong provider, or when its server "
        "relays through SES's Hong Kong endpoint smtp.qcloudmail.com and no relayhost names "
        "another destination; Alibaba DirectMail "
        "has no Hong Kong region; Tencent Exmail and Alibaba Mail publish no location; any "
        "other include is not published until attested or declared.",
        severity="critical",
        enforcement="mandatory",
        remediation="Send through Tencent SES in ap-hongkong or the private server, or file "
        + _DECLARE,
        controls=RESIDENCY,
        check=check_mail_senders,
        scope="stack",
        types=_RECORD_TYPES,
        config_schema=ALLOWED_REGIONS_SCHEMA,
    ),
    Rule(
        id="residency-mail-relay",
        title="The mail server relays outgoing mail through Hong Kong",
        description="The private mail server hands all outgoing mail (content and recipients) "
        "to the SMTP relays its Postfix relayhost names (the spec's relay.host, rendered into the "
        "instance's user data; a list, Postfix 3.5+, is judged host by host, and a value that is "
        "not host, host:port, [host] or [host]:port is not published), so each relay is a flow "
        "of mail data: Tencent SES's Hong Kong "
        "endpoint smtp.qcloudmail.com is Hong Kong; its Guangzhou and Singapore endpoints and "
        "Alibaba DirectMail's are outside; a hosted suite's SMTP host publishes no location; any "
        "other host or address is not published until attested or declared.",
        severity="critical",
        enforcement="mandatory",
        remediation="Relay through Tencent SES's Hong Kong endpoint (smtp.qcloudmail.com), or "
        "file " + _DECLARE,
        controls=RESIDENCY,
        check=check_mail_relay,
        types=RELAY_TYPES,
        config_schema=ALLOWED_REGIONS_SCHEMA,
    ),
    Rule(
        id="residency-mail-failure-reports",
        title="DMARC failure reports stay in Hong Kong",
        description="DMARC ruf addresses outside the stack's own domains receive failure "
        "reports, which carry message headers and may carry content: personal data handed to "
        "that receiver. Mandatory, like the mailboxes.",
        severity="high",
        enforcement="mandatory",
        remediation="Send ruf to a mailbox of your own domain (or drop ruf), or file " + _DECLARE,
        controls=RESIDENCY,
        check=check_failure_reports,
        scope="stack",
        types=_RECORD_TYPES,
        config_schema=ALLOWED_REGIONS_SCHEMA,
    ),
    Rule(
        id="residency-mail-aggregate-reports",
        title="Aggregate mail reports to outside receivers",
        description="DMARC rua and TLS-RPT rua destinations outside the stack's own domains "
        "receive aggregate reports: sending IP addresses, counts and TLS results, no message "
        "content. Advisory by default (set it to mandatory in the policy config where the "
        "sending infrastructure itself is confidential).",
        severity="low",
        enforcement="advisory",
        remediation="Send aggregate reports to a mailbox of your own domain, or file " + _DECLARE,
        controls=RESIDENCY,
        check=check_aggregate_reports,
        scope="stack",
        types=_RECORD_TYPES,
        config_schema=ALLOWED_REGIONS_SCHEMA,
    ),
)
