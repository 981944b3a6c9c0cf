"""Fixture: a program that keeps working after its first registration (an apply that takes time)."""

import time

import tencentcloud_iac_pulumi as tencentcloud


def slowly(value: str) -> str:
    time.sleep(1.5)
    return value + "; p=reject"


first = tencentcloud.dnspod.Record(
    "first",
    domain="example.hk",
    sub_domain="@",
    record_type="TXT",
    record_line="默认",
    value="v=DMARC1",
)
tencentcloud.dnspod.Record(
    "second",
    domain="example.hk",
    sub_domain="_dmarc",
    record_type="TXT",
    record_line="默认",
    value=first.value.apply(slowly),
)
