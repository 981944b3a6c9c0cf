"""SPF (RFC 7208): build records, parse them, and count their DNS lookups.

RFC 7208 4.6.4: evaluating a record may cause at most 10 DNS-querying terms (include, a, mx, ptr,
exists, redirect), counted through every nested include; and at most 2 of those lookups may be
"void" (no answer). Our own record's direct terms are counted offline; the nested cost needs DNS,
so :func:`evaluate` walks includes through any resolver (a live one, or the stack's own zones).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hkmail.errors import RecordError

MAX_LOOKUPS = 10
MAX_VOID_LOOKUPS = 2
LOOKUP_MECHANISMS = frozenset({"include", "a", "mx", "ptr", "exists"})
LOOKUP_MODIFIERS = frozenset({"redirect"})
MECHANISMS = frozenset({"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"})


@dataclass(frozen=True)
class SpfTerm:
    qualifier: str  # "+", "-", "~", "?"
    name: str  # mechanism or modifier name, lower case
    value: str | None  # text after ":" / "=" (or "/" cidr for a and mx)
    modifier: bool

    def to_text(self) -> str:
        if self.modifier:
            return f"{self.name}={self.value}"
        q = "" if self.qualifier == "+" else self.qualifier
        if self.value is None:
            return f"{q}{self.name}"
        sep = "" if self.value.startswith("/") else ":"
        return f"{q}{self.name}{sep}{self.value}"

    @property
    def causes_lookup(self) -> bool:
        return self.name in (LOOKUP_MODIFIERS if self.modifier else LOOKUP_MECHANISMS)


@dataclass(frozen=True)
class SpfRecord:
    terms: tuple[SpfTerm, ...]

    @classmethod
    def from_text(cls, text: str) -> SpfRecord:
        parts = text.split()
        if not parts or parts[0].lower() != "v=spf1":
            raise RecordError(f"SPF record must start with v=spf1: {text!r}")
        terms = []
        for part in parts[1:]:
            terms.append(_parse_term(part, text))
        return cls(tuple(terms))

    def to_text(self) -> str:
        return " ".join(["v=spf1", *(t.to_text() for t in self.terms)])

    @property
    def lookup_terms(self) -> tuple[SpfTerm, ...]:
        return tuple(t for t in self.terms if t.causes_lookup)

    @property
    def all_term(self) -> SpfTerm | None:
        return next((t for t in self.terms if t.name == "all" and not t.modifier), None)


def _parse_term(part: str, text: str) -> SpfTerm:
    lowered = part.lower()
    qualifier = "+"
    if lowered[0] in "+-~?":
        qualifier, lowered, part = lowered[0], lowered[1:], part[1:]
    for sep in (":", "/", "="):
        if sep in lowered:
            name, _, _ = lowered.partition(sep)
            value = part[len(name) + (0 if sep == "/" else 1) :]
            if sep == "=":
                if qualifier != "+" or name in MECHANISMS:
                    break
                return SpfTerm("+", name, value, modifier=True)
            if name in MECHANISMS and name not in ("all",):
                return SpfTerm(qualifier, name, value, modifier=False)
            break
    else:
        if lowered in MECHANISMS:
            return SpfTerm(qualifier, lowered, None, modifier=False)
    raise RecordError(f"SPF term {part!r} is not an RFC 7208 mechanism or modifier in {text!r}")


def build(
    *,
    includes: Sequence[str] = (),
    ip4: Sequence[str] = (),
    ip6: Sequence[str] = (),
    a: bool = False,
    mx: bool = False,
    all_qualifier: str = "-",
    what: str = "SPF",
) -> SpfRecord:
    """An SPF record from its parts; refuses more than 10 lookup terms in the record itself."""
    terms: list[SpfTerm] = []
    if a:
        terms.append(SpfTerm("+", "a", None, False))
    if mx:
        terms.append(SpfTerm("+", "mx", None, False))
    terms += [SpfTerm("+", "ip4", v, False) for v in ip4]
    terms += [SpfTerm("+", "ip6", v, False) for v in ip6]
    seen: set[str] = set()
    for inc in includes:
        if inc not in seen:
            seen.add(inc)
            terms.append(SpfTerm("+", "include", inc, False))
    terms.append(SpfTerm(all_qualifier, "all", None, False))
    record = SpfRecord(tuple(terms))
    count = len(record.lookup_terms)
    if count > MAX_LOOKUPS:
        listed = ", ".join(t.to_text() for t in record.lookup_terms)
        raise RecordError(
            f"{what} has {count} DNS-lookup terms ({listed});"
            f" RFC 7208 4.6.4 allows at most {MAX_LOOKUPS}, counted through nested includes"
        )
    return record


# A resolver answers (name, "TXT"|"A"|"AAAA"|"MX") with the record texts, [] for "no answer"
# (a void lookup), or None when it cannot know (a name outside what it serves).
Resolver = Callable[[str, str], "list[str] | None"]


@dataclass(frozen=True)
class SpfCost:
    lookups: int
    void_lookups: int
    unknown: tuple[str, ...]  # names the resolver could not answer for; their cost is not counted
    chain: tuple[str, ...]  # every term that cost a lookup, as "domain: term"

    @property
    def within_limits(self) -> bool:
        return self.lookups <= MAX_LOOKUPS and self.void_lookups <= MAX_VOID_LOOKUPS


def evaluate(domain: str, resolve: Resolver) -> SpfCost:
    """Count the lookups evaluating ``domain``'s SPF record causes, through every include.

    The count follows RFC 7208 4.6.4: each include/a/mx/ptr/exists/redirect term costs one lookup
    wherever it appears; a lookup that returns no records is void.
    """
    lookups = 0
    void = 0
    unknown: list[str] = []
    chain: list[str] = []
    visiting: set[str] = set()

    def spf_of(name: str) -> SpfRecord | None:
        nonlocal void
        texts = resolve(name, "TXT")
        if texts is None:
            unknown.append(name)
            return None
        spf = [t for t in texts if t.lower().startswith("v=spf1")]
        if not spf:
            void += 1
            return None
        if len(spf) > 1:
            raise RecordError(f"{name} publishes {len(spf)} SPF records; RFC 7208 3.2 allows one")
        return SpfRecord.from_text(spf[0])

    def walk(name: str, record: SpfRecord) -> None:
        nonlocal lookups, void
        if name in visiting:
            raise RecordError(f"SPF include loop through {name}")
        visiting.add(name)
        for term in record.lookup_terms:
            lookups += 1
            chain.append(f"{name}: {term.to_text()}")
            target = term.value if term.value and not term.value.startswith("/") else name
            if term.name in ("include", "redirect"):
                nested = spf_of(target)
                if nested is not None:
                    walk(target, nested)
            elif term.name in ("a", "mx", "exists"):
                rdtype = "MX" if term.name == "mx" else "A"
                answer = resolve(target, rdtype)
                if answer is None:
                    unknown.append(target)
                elif not answer:
                    void += 1
        visiting.discard(name)

    top = spf_of(domain)
    if top is not None:
        walk(domain, top)
    return SpfCost(lookups, void, tuple(dict.fromkeys(unknown)), tuple(chain))
