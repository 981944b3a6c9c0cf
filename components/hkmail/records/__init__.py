"""Provider-neutral mail DNS records. Every record is parsed by dnspython when it is made."""

from hkmail.records.base import DeferredRecord, Record, RecordSet, txt_record, txt_value
from hkmail.records.mail import domain_records, mta_sts_policy, stack_records

__all__ = [
    "DeferredRecord",
    "Record",
    "RecordSet",
    "domain_records",
    "mta_sts_policy",
    "stack_records",
    "txt_record",
    "txt_value",
]
