"""Look-alike: a Hong Kong HBR replication vault whose source vault is in Shanghai."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

alicloud.hbr.ReplicationVault(
    "mail-backup-replica",
    vault_name="mail-backup-replica",
    replication_source_region_id="cn-shanghai",
    replication_source_vault_id="v-sh0000000000000001",
    opts=pulumi.ResourceOptions(provider=hk, protect=True),
)
