"""Leak: a Shanghai HBR replication vault copying the Hong Kong vault."""

import pulumi
import pulumi_alicloud as alicloud

hk = alicloud.Provider("hk", region="cn-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

sh = alicloud.Provider("sh", region="cn-shanghai")
alicloud.hbr.ReplicationVault(
    "mail-backup-offsite",
    vault_name="mail-backup-offsite",
    replication_source_region_id="cn-hongkong",
    replication_source_vault_id="v-hk0000000000000001",
    opts=pulumi.ResourceOptions(provider=sh, protect=True),
)
