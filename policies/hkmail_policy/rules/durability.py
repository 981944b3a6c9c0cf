"""Data-bearing resources are protected against deletion by `pulumi up` / `pulumi destroy`."""

from __future__ import annotations

from collections.abc import Iterable

from ..model import Context, Finding, Resource, Rule, violation

DATA_BEARING = (
    "alicloud:ecs/disk:Disk",
    "alicloud:ecs/ecsDisk:EcsDisk",
    "alicloud:oss/bucket:Bucket",
    "alicloud:rds/instance:Instance",
    "alicloud:polardb/cluster:Cluster",
    "alicloud:log/project:Project",
    "alicloud:log/store:Store",
    "alicloud:nas/fileSystem:FileSystem",
    "alicloud:kms/key:Key",
    "alicloud:kms/secret:Secret",
    "alicloud:oss/bucketWorm:BucketWorm",
    "tencentcloud:Cbs/storage:Storage",
    "tencentcloud:Cos/bucket:Bucket",
    "tencentcloud:Mysql/instance:Instance",
    "tencentcloud:Postgresql/instance:Instance",
    "tencentcloud:Cls/logset:Logset",
    "tencentcloud:Cls/topic:Topic",
    "tencentcloud:Cfs/fileSystem:FileSystem",
    "tencentcloud:Kms/key:Key",
    "tencentcloud:Ssm/secret:Secret",
    "tencentcloud:Ssm/secretVersion:SecretVersion",
)


def check_protected(resource: Resource, ctx: Context) -> Iterable[Finding]:
    if resource.type in DATA_BEARING and not resource.protect:
        yield violation(
            resource,
            None,
            "holds mail, archives, logs or keys but is not protected",
            "protect=True",
        )


RULES = (
    Rule(
        id="durability-protect-data",
        title="Data-bearing resources protected",
        description="Disks, buckets (and their WORM retention), databases, file systems, log "
        "stores, KMS keys and stored secrets carry protect=True so that a refactor or `pulumi "
        "destroy` cannot delete records or the keys that decrypt them. This is protection "
        "against accidental deletion, not a backup.",
        severity="medium",
        enforcement="mandatory",
        remediation="Pass opts=ResourceOptions(protect=True) (components: forward a protect "
        "flag); deletion then needs an explicit, reviewed `pulumi state unprotect`.",
        # Records kept for the period the law prescribes (SFC Keeping of Records Rules) and
        # protected from loss (ISO 5.33; DPP4(1) "accidental ... erasure, loss").
        controls=("SFC-KRR", "ISO27001-A.5.33", "PDPO-DPP4"),
        check=check_protected,
        types=DATA_BEARING,
    ),
)
