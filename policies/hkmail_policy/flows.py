"""The one flow model: which data moves from where to where, and whether that is declared.

A reviewer signs a verdict about data leaving Hong Kong, not about where a region word appears.
Every rule that finds data moving (region fields, hosts in values, mail systems, notifications)
describes it as a `Flow` and asks `judge` for the verdict, so the wording of findings and the flow
list in plans and reports come from one place.

- A flow INTO Hong Kong (source elsewhere, destination Hong Kong) is not a leak.
- A two-way flow (e.g. bidirectional sync) is two `Flow` objects.
- A destination not known before apply fails closed (`leaves_hong_kong is None`).
- A flow out is blocked unless declared: an attestation on file that the destination system
  keeps the data in Hong Kong, or the stack's cross-border declaration for that destination.
  Exemptions (policies/exemptions.yaml) are applied by the pack to every finding, flow findings
  included (pack._report), so they are not repeated here.

Pure Python: no pulumi imports (the gate, plan and report tools import this too).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from . import regions

Jurisdiction = Literal["hong-kong", "outside", "not-published", "unknown"]
# How a region- or endpoint-bearing input relates to data (generated table, see
# policies/tools/field_roles.py): where the resource itself stores data ("placement"), where it
# sends data ("destination"), where it takes data from ("source"), both ways ("both"), or a
# region it only reads from / selects ("read": a filter, a scope, a DNS resolution line).
FieldRole = Literal["placement", "destination", "source", "both", "read"]
FIELD_ROLES: tuple[FieldRole, ...] = ("placement", "destination", "source", "both", "read")

# Words of `Flow.kind` used by this pack (others may add theirs; the kind is shown, not matched).
KINDS = (
    "placement",  # the resource stores data in that place
    "replication",  # copies of stored data (replicas, backup copies, DR, sync)
    "export",  # data shipped out (log delivery, data export, dumps)
    "mail-storage",  # where mailboxes live
    "mail-relay",  # mail passing through a relay on its way
    "report",  # DMARC / TLS-RPT reports sent to a receiver
    "notification",  # a message to a chat webhook, an SMS or mail notification
    "api-call",  # data sent to an API (an AI model endpoint, a webhook)
    "edge",  # data cached or carried by points of presence (CDN, acceleration)
)

Verdict = Literal["stays", "inbound", "declared", "blocked", "unknown"]


@dataclass(frozen=True)
class Place:
    """A region, a system or a host, with the jurisdiction its data is in and why we say so."""

    name: str  # "cn-hangzhou", "Tencent Exmail (mxbiz1.qq.com)", "oapi.dingtalk.com"
    jurisdiction: Jurisdiction
    fact: str  # "region cn-hangzhou: Mainland China (Alibaba Cloud regions page)"

    def shown(self) -> str:
        return f"{self.name} ({_JURISDICTION_TEXT[self.jurisdiction]})"


_JURISDICTION_TEXT: dict[Jurisdiction, str] = {
    "hong-kong": "Hong Kong",
    "outside": "outside Hong Kong",
    "not-published": "storage location not published",
    "unknown": "not known before apply",
}


@dataclass(frozen=True)
class Flow:
    """Data moving one way. `data` is what moves in words a reviewer signs; `via` is the input
    path or record that sets it up; `kind` one of KINDS (or another word a rule module adds)."""

    source: Place
    destination: Place
    data: str
    via: str
    kind: str

    @property
    def leaves_hong_kong(self) -> bool | None:
        """True: the destination is outside Hong Kong or not published; None: not known (callers
        fail closed); False: the destination is Hong Kong (whatever the source: a flow in is not
        a leak)."""
        j = self.destination.jurisdiction
        if j == "unknown":
            return None
        return j != "hong-kong"

    @property
    def inbound(self) -> bool:
        """Into Hong Kong from elsewhere (not a leak; shown in flow lists as inbound)."""
        return (
            self.destination.jurisdiction == "hong-kong" and self.source.jurisdiction != "hong-kong"
        )

    def describe(self) -> str:
        """One line a reviewer reads: what, from where to where, set up by what, and why."""
        facts = [self.destination.fact]
        if self.source.fact and self.source.fact != self.destination.fact:
            facts.append(self.source.fact)
        return (
            f"{self.kind} flow of {self.data}: {self.source.shown()} -> "
            f"{self.destination.shown()} via {self.via} ({'; '.join(facts)})"
        )


@dataclass(frozen=True)
class Attestation:
    """A vendor's written confirmation that a system keeps the data in Hong Kong.

    Loaded and validated by the attestations module (h25's file); `system` is a glob matched
    against `Place.name`."""

    id: str
    system: str
    confirmed_by: str  # who at the vendor confirmed it
    document: str  # document or contract clause
    confirmed_on: date
    expires: date
    # the stacks (names or globs) whose flows it covers: a reviewer signs for one company's
    # contract (the attestations file requires the list; "*" is every stack)
    stacks: tuple[str, ...] = ("*",)

    def applies_to(self, stack: str) -> bool:
        return any(fnmatch.fnmatchcase(stack, g) for g in self.stacks)

    def covers(self, place: Place, today: date) -> bool:
        return today <= self.expires and fnmatch.fnmatchcase(
            place.name.lower(), self.system.lower()
        )


@dataclass(frozen=True)
class CrossBorder:
    """A stack's cross-border declaration (like DirectMail's `crossBorder`): this data goes to
    that destination on purpose, under a safeguard, with an exemption on file."""

    destination: str  # glob matched against Place.name (a region id or a host)
    destination_country: str
    transfer_safeguard: str
    exemption: str  # the exemption id in policies/exemptions.yaml
    kinds: tuple[str, ...] = ()  # flow kinds it covers; empty: any

    def covers(self, flow: Flow) -> bool:
        return fnmatch.fnmatchcase(flow.destination.name.lower(), self.destination.lower()) and (
            not self.kinds or flow.kind in self.kinds
        )


@dataclass(frozen=True)
class Declarations:
    attestations: tuple[Attestation, ...] = ()
    cross_border: tuple[CrossBorder, ...] = ()


NO_DECLARATIONS = Declarations()
DECLARED_PREFIX = "[declared: "  # the pack reports such findings at the advisory level


@dataclass(frozen=True)
class Judgement:
    flow: Flow
    verdict: Verdict
    # what declares it (attestation or cross-border declaration), or why it is blocked
    reason: str = ""
    declared_by: str | None = None

    @property
    def blocking(self) -> bool:
        return self.verdict in ("blocked", "unknown")

    @property
    def reported(self) -> bool:
        """Worth a finding: blocked, unknown, or declared (shown as advisory)."""
        return self.verdict in ("blocked", "unknown", "declared")

    def message(self) -> str:
        """The finding text (blocked / unknown), or the advisory text of a declared flow."""
        text = self.flow.describe()
        if self.verdict == "declared":
            return f"{DECLARED_PREFIX}{self.declared_by}] {text}: {self.reason}"
        if self.verdict == "unknown":
            return (
                f"{text}: the destination is not known before apply (another resource's output, "
                "a StackReference output or a secret), so it cannot be shown to stay in Hong "
                "Kong (fails closed)"
            )
        if self.verdict == "blocked":
            return f"{text}: {self.reason}"
        return text


HOW_TO_DECLARE = (
    "keep the destination in Hong Kong; or declare the flow: an attestation on file (the "
    "vendor's written confirmation of Hong Kong storage), a cross-border declaration in the "
    "stack, or a reviewed exemption in policies/exemptions.yaml"
)


def judge(flow: Flow, declarations: Declarations, today: date) -> Judgement:
    """The verdict on one flow. Unknown destinations fail closed; an attestation makes a
    not-published or outside destination count as Hong Kong storage; a cross-border declaration
    makes a flow out declared (reported, not blocked)."""
    out = flow.leaves_hong_kong
    if out is None:
        return Judgement(flow, "unknown")
    if not out:
        return Judgement(flow, "inbound" if flow.inbound else "stays")
    for a in declarations.attestations:
        if a.covers(flow.destination, today):
            return Judgement(
                flow,
                "declared",
                f"attested Hong Kong storage by {a.confirmed_by} ({a.document}, "
                f"{a.confirmed_on.isoformat()}, until {a.expires.isoformat()})",
                f"attestation {a.id}",
            )
    for c in declarations.cross_border:
        if c.covers(flow):
            return Judgement(
                flow,
                "declared",
                f"cross-border to {c.destination_country} declared in the stack (safeguard "
                f"{c.transfer_safeguard}; exemption {c.exemption})",
                f"crossBorder {c.exemption}",
            )
    why = (
        "the destination's storage location is not published"
        if flow.destination.jurisdiction == "not-published"
        else "the data leaves Hong Kong"
    )
    return Judgement(flow, "blocked", f"{why}; allowed: {HOW_TO_DECLARE}")


def judge_all(flows: Iterable[Flow], declarations: Declarations, today: date) -> list[Judgement]:
    return [judge(f, declarations, today) for f in flows]


def region_place(region: str, allowed: Sequence[str]) -> Place:
    """A region or zone id as a Place (an allowed region is Hong Kong; anything else, a region
    group or an unrecognised name included, is outside: fail closed)."""
    known = regions.region_of(region)
    if regions.in_allowed(region, allowed):
        return Place(region, "hong-kong", f"region {region}: an allowed (Hong Kong) region")
    if region.strip().lower() in regions.REGION_GROUPS:
        return Place(region, "outside", f"{region}: a region group spanning several regions")
    if known is None:
        return Place(region, "outside", f"{region}: not recognisably a Hong Kong region")
    return Place(region, "outside", f"region {known}: {regions.country_of(known)}")


def unknown_place(what: str) -> Place:
    return Place(what, "unknown", "not known before apply")
