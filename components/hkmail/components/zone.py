"""A DNS zone and its records on one provider. The providers differ only in their profile
(how a record is spelled, see dns_providers) and in which SDK classes they create."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pulumi

from hkmail.components.dns_providers import DnsProviderProfile, provider_records
from hkmail.components.tokens import renamed
from hkmail.records.base import DeferredRecord, Record, txt_record


@dataclass(frozen=True)
class DnsZoneArgs:
    zone: str
    records: Sequence[Record]
    # Records whose value is an output of another resource (e.g. SES DKIM), with that output.
    deferred: Sequence[tuple[DeferredRecord, pulumi.Output[str]]] = field(default_factory=tuple)
    # Deleting a zone takes the domain's whole mail routing with it.
    protect_zone: bool = True


class DnsZone(pulumi.ComponentResource):
    TYPE: ClassVar[str]
    OLD_TYPE: ClassVar[str]  # the token before hkmail:index (aliased: nothing is replaced)
    PROFILE: ClassVar[DnsProviderProfile]
    DOMAIN_RESOURCE: ClassVar[Callable[..., pulumi.CustomResource]]
    RECORD_RESOURCE: ClassVar[Callable[..., pulumi.CustomResource]]

    records: pulumi.Output[dict[str, str]]

    def __init__(
        self, name: str, args: DnsZoneArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(self.TYPE, name, None, renamed(opts, self.OLD_TYPE))
        planned, warnings = provider_records(self.PROFILE, args.records)
        for warning in warnings:
            pulumi.log.warn(warning, resource=self)
        self.domain = self._domain(
            f"{args.zone}/domain",
            args.zone,
            pulumi.ResourceOptions(parent=self, protect=args.protect_zone),
        )
        record_opts = pulumi.ResourceOptions(parent=self, depends_on=[self.domain])
        for p in planned:
            self._record(p.resource_name, p.inputs, record_opts)
        for deferred, value in args.deferred:
            checked = value.apply(functools.partial(_checked_deferred, deferred))
            inputs = self.PROFILE.deferred_inputs(
                deferred.zone, deferred.name, deferred.rdtype, deferred.ttl, checked
            )
            self._record(f"{deferred.zone}/{deferred.name}/{deferred.rdtype}", inputs, record_opts)
        self.records = pulumi.Output.from_input(
            {p.resource_name: p.record.to_text() for p in planned}
        )
        self.register_outputs({"records": self.records, "warnings": warnings})

    def _domain(self, name: str, zone: str, opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
        # Both SDKs name the zone input of the domain resource as they do on records.
        return self.DOMAIN_RESOURCE(name, opts=opts, **{self.PROFILE.zone_field: zone})

    def _record(
        self, name: str, inputs: dict[str, Any], opts: pulumi.ResourceOptions
    ) -> pulumi.CustomResource:
        return self.RECORD_RESOURCE(name, opts=opts, **inputs)


def _checked_deferred(deferred: DeferredRecord, value: str) -> str:
    """A value the cloud hands back is still parsed as DNS before it is published."""
    if deferred.rdtype == "TXT":
        txt_record(deferred.zone, deferred.name, value, deferred.ttl, deferred.purpose)
    else:
        Record(deferred.zone, deferred.name, deferred.rdtype, value, deferred.ttl, deferred.purpose)
    return value
