"""What a value says about where data goes: the shared judgement behind the residency rules.

- `region_value_problems`: a value at a region- or zone-bearing input. Fail closed: at such an
  input, a value that is not recognisably an allowed region (a region id, a zone of one, a numeric
  id of one, an endpoint or location that names one) is a violation, with the reason.
- `mentions`: what every other value (decoded from base64 / gzip+base64 too) names: region ids
  outside the allowed set, service hosts of other regions, of services with no Hong Kong region,
  and of global edges. Free text (names, descriptions, tags) is not placement and is skipped.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from . import commands, endpoints, envjson, regions
from .coverage import not_outbound_paths, region_paths
from .model import Resource
from .values import Leaf, texts, under

_SPLIT = re.compile(r"[,;\s]+")
# A path segment holding words for people, not configuration: region words there (a tag
# "migrated-from: cn-shanghai", a description, a resource name) place nothing.
FREE_TEXT = re.compile(
    r"(?i)^(tags|tagsAll|labels?|description|desc|remarks?|comments?|notes?|title|alias)$"
    r"|^(?!.*host).*name$"
)
# Cheap test before the host table's patterns run on a text.
_HOSTISH = re.compile(
    r"(?i)aliyun|qcloudmail|myqcloud|tencentcs|directmail|dingtalk|weixin|feishu|larksuite|dnsv1"
    r"|dnse|kunlun|cdngslb|tencent"
)


@functools.lru_cache(maxsize=8192)
def is_free_text(shape: str) -> bool:
    return any(FREE_TEXT.search(seg.rstrip("[]")) for seg in shape.split("."))


@functools.lru_cache(maxsize=65536)
def _skipped(type_token: str, shape: str) -> bool:
    """Not scanned for mentions: free text, a region-bearing input (judged on its own), or an
    input that only reads (field_roles.json)."""
    if is_free_text(shape):
        return True
    if type_token.startswith("pulumi:providers:"):
        covered: tuple[str, ...] = ("region",)  # judged by residency-provider-region
    else:
        # region inputs are judged on their own; source/read inputs (a container image, an
        # origin-pull host, a DNS resolution line) take data in or only select: not a flow out
        covered = region_paths().get(type_token, ()) + not_outbound_paths(type_token)
    return any(under(shape, p) for p in covered)


def _allowed(region: str | None, allowed: Sequence[str]) -> bool:
    return region is not None and regions.in_allowed(region, allowed)


def token_problem(token: str, allowed: Sequence[str], strict: bool) -> str | None:
    """Why one token of a region-bearing value is not allowed (None if it is)."""
    low = token.strip().lower()
    if low in regions.REGION_GROUPS:
        return f"'{token}' is a region group spanning several regions, not a Hong Kong region"
    if regions.looks_geographic(low):
        if regions.in_allowed(low, allowed):
            return None
        return f"'{token}' is not an allowed region or a zone of one"
    named = set(regions.embedded_regions(low))
    hosts = list(endpoints.mentions(low)) if _HOSTISH.search(low) else []
    named |= {h.region or f"an unrecognised region ({h.host})" for h in hosts}
    bad = sorted(r for r in named if not _allowed(r, allowed))
    if bad:
        return f"'{token}' names {', '.join(bad)}"
    if strict and not named:
        return (
            f"'{token}' is not recognisably a Hong Kong region (a region-bearing input fails "
            "closed)"
        )
    return None


def region_value_problems(
    leaf: Leaf, package: str, allowed: Sequence[str], *, strict: bool
) -> Iterator[str]:
    """Why a value found at a region/zone-bearing path is not allowed (nothing if it is).

    strict: the leaf IS a region-bearing input (fail closed); otherwise it lies inside an object
    input named for a region, where only values that look like regions are judged."""
    value = leaf.value
    if leaf.unknown:
        if strict:  # fail closed: what cannot be read cannot be shown to be in Hong Kong
            yield (
                "the value is not known before apply (an output of another resource, a "
                "StackReference output or an undecrypted secret), so it cannot be shown to be "
                "an allowed region (a region-bearing input fails closed)"
            )
        return
    if value is None or isinstance(value, bool) or value == "":
        return  # unset: see residency-service-default
    if isinstance(value, int):
        last = leaf.shape.rsplit(".", 1)[-1].lower()
        if "zone" in last:
            if value != 0 and not regions.numeric_zone_allowed(value, allowed):
                yield f"numeric zone id {value} is not a zone of an allowed region"
        elif strict and not regions.numeric_region_allowed(value, allowed):
            known = regions.TENCENT_NUMERIC_REGIONS.get(value)
            what = f" ({known})" if known else " (not recognisably Hong Kong)"
            yield f"numeric region id {value}{what} is not an allowed region"
        return
    if not isinstance(value, str):
        return
    for token in filter(None, _SPLIT.split(value)):
        problem = token_problem(token, allowed, strict)
        if problem:
            yield problem


@dataclass(frozen=True)
class Mention:
    """Something a value names that places data: a region id or a service host."""

    leaf: Leaf
    how: str  # "" or the layers decoded ("base64", "gzip+base64")
    kind: endpoints.Kind
    what: str  # the region id or host
    region: str | None
    service: str = ""

    def where(self) -> str:
        return f" (in its {self.how}-decoded content)" if self.how else ""


_cache = threading.local()


def mentions(resource: Resource, allowed: Sequence[str]) -> list[Mention]:
    """Every region id outside `allowed` and every known service host (other than a regional one
    in an allowed region) in the resource's values outside its region-bearing inputs (those are
    judged by `region_value_problems`), decoded payloads included, free text excluded. The scan
    is done once per resource (the rules that read it run one after another on the same one)."""
    hit = getattr(_cache, "entry", None)
    if hit is not None and hit[0] is resource and hit[1] == resource.urn:
        found: list[Mention] = hit[2]
    else:
        found = list(_scan(resource))
        _cache.entry = (resource, resource.urn, found)
    return [m for m in found if m.kind != "regional" or not _allowed(m.region, allowed)]


def _sending_lines(text: str) -> str:
    """The text without the lines that only read from the hosts they name (downloads, package
    installs, image pulls, NTP servers: data coming in, see commands.py)."""
    if "\n" not in text:
        return "" if commands.reads_only(text) and " " in text.strip() else text
    return "\n".join(line for line in text.splitlines() if not commands.reads_only(line))


def _scan(resource: Resource) -> Iterable[Mention]:
    # a JSON environment string is read variable by variable (envjson.py)
    for leaf in envjson.expanded(resource.type, resource.props):
        if leaf.unknown or not isinstance(leaf.value, str) or not leaf.value:
            continue
        if _skipped(resource.type, leaf.shape):
            continue
        for how, whole in texts(leaf.value):
            text = _sending_lines(whole)
            hosts: set[str] = set()
            for host in endpoints.mentions(text) if _HOSTISH.search(text) else ():
                if host.host not in hosts:
                    hosts.add(host.host)
                    yield Mention(leaf, how, host.kind, host.host, host.region, host.service)
            named: set[str] = set()
            for region in regions.embedded_regions(text):
                # a region inside a host already reported (smtpdm-us-east-1...) is not repeated
                if region in named or any(region in h for h in hosts):
                    continue
                named.add(region)
                yield Mention(leaf, how, "regional", region, region)
