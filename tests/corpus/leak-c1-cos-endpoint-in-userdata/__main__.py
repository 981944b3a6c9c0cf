"""A Tencent HK mail host whose user-data backs mailboxes up to a COS bucket in Guangzhou."""

import pulumi
import tencentcloud_iac_pulumi as tencentcloud

hk = tencentcloud.Provider("hk", region="ap-hongkong")
opts = pulumi.ResourceOptions(provider=hk)

SCRIPT = """#!/bin/sh
cat > /etc/cron.daily/mail-backup <<'CRON'
#!/bin/sh
coscli sync /var/mail cos://mail-backup-1250000000/ -e cos.ap-guangzhou.myqcloud.com
CRON
chmod +x /etc/cron.daily/mail-backup
"""

tencentcloud.instance.Instance(
    "mail",
    availability_zone="ap-hongkong-2",
    image_id="img-hk000001",
    instance_type="S5.MEDIUM4",
    user_data_raw=SCRIPT,
    opts=opts,
)
