"""Leak: remote backup copies of a Hong Kong database in Shanghai."""

import pulumi
import tencentcloud_iac_pulumi as tencentcloud

hk = tencentcloud.Provider("hk", region="ap-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

tencentcloud.mysql.RemoteBackupConfig(
    "mail-db-remote-backup",
    instance_id="cdb-hk000001",
    remote_backup_save="on",
    remote_binlog_save="on",
    remote_regions=["ap-shanghai"],
    expire_days=7,
    opts=opts,
)
