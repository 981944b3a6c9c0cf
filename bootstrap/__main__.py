"""hk-mail bootstrap: the Hong Kong state bucket and the deploy identity (see README.md).

Stack config (namespace ``hk-mail-bootstrap``): ``cloud`` (alicloud | tencentcloud),
``accountId`` (Alibaba account id / Tencent owner UIN), ``appId`` (Tencent only: COS bucket
suffix), ``stateBucket``, ``namePrefix`` (roles and policies the deploy identity may manage),
``domains`` (the mail domains whose DNS the identity may edit).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import guardrail
import pulumi

ALIBABA = "alicloud"
TENCENT = "tencentcloud"


def _alicloud(account: str, bucket_name: str, prefix: str, domains: Sequence[str]) -> None:
    import pulumi_alicloud as alicloud
    from pulumi_alicloud import kms, oss, ram

    provider = alicloud.Provider("alicloud-hk", region=guardrail.ALIBABA_REGION)
    child = pulumi.ResourceOptions(provider=provider)
    # The state of every stack: never deleted by Pulumi, left in place by `pulumi destroy`.
    keep = pulumi.ResourceOptions(provider=provider, protect=True, retain_on_delete=True)

    key = kms.Key(
        "state-cmk",
        description="hk-mail: Pulumi state bucket and its access logs (Hong Kong)",
        key_usage="ENCRYPT/DECRYPT",
        key_spec="Aliyun_AES_256",
        automatic_rotation="Enabled",
        rotation_interval="365d",
        pending_window_in_days=30,
        deletion_protection="Enabled",
        opts=keep,
    )
    sse = oss.BucketServerSideEncryptionRuleArgs(sse_algorithm="KMS", kms_master_key_id=key.id)
    logs = oss.Bucket(
        "state-access-logs",
        bucket=f"{bucket_name}-logs",
        acl="private",
        server_side_encryption_rule=sse,
        versioning=oss.BucketVersioningArgs(status="Enabled"),
        force_destroy=False,
        opts=keep,
    )
    state = oss.Bucket(
        "state",
        bucket=bucket_name,
        acl="private",
        server_side_encryption_rule=sse,
        versioning=oss.BucketVersioningArgs(status="Enabled"),
        logging=oss.BucketLoggingArgs(target_bucket=logs.bucket, target_prefix="state/"),
        force_destroy=False,
        opts=keep,
    )
    for name, bucket in (("state", state), ("state-access-logs", logs)):
        oss.BucketPublicAccessBlock(
            f"{name}-no-public", bucket=bucket.bucket, block_public_access=True, opts=child
        )

    # The deploy identity: a role the account's own principals assume (CI through STS/OIDC).
    role = ram.Role(
        "deploy",
        role_name=f"{prefix}deploy",
        description="hk-mail: runs `pulumi up`; may act only on Hong Kong resources",
        assume_role_policy_document=json.dumps(
            {
                "Version": "1",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "sts:AssumeRole",
                        "Principal": {"RAM": [f"acs:ram::{account}:root"]},
                    }
                ],
            }
        ),
        max_session_duration=3600,
        opts=child,
    )
    document = guardrail.render(guardrail.ram_policy(account, prefix, domains))
    policy = ram.Policy(
        "deploy-hong-kong-only",
        policy_name=f"{prefix}deploy-hong-kong-only",
        description="hk-mail: resource actions only on cn-hongkong resource strings",
        policy_document=document,
        opts=child,
    )
    ram.RolePolicyAttachment(
        "deploy-policy",
        role_name=role.role_name,
        policy_name=policy.policy_name,
        policy_type="Custom",
        opts=child,
    )
    endpoint = f"s3.oss-{guardrail.ALIBABA_REGION}.aliyuncs.com"
    pulumi.export(
        "backendUrl",
        state.bucket.apply(
            lambda b: f"s3://{b}?endpoint=https://{endpoint}&region={guardrail.ALIBABA_REGION}"
        ),
    )
    pulumi.export("deployRoleArn", role.arn)
    pulumi.export("deployPolicy", json.loads(document))
    pulumi.export("stateKeyId", key.id)


def _tencent(uin: str, app_id: str, bucket_name: str, prefix: str, domains: Sequence[str]) -> None:
    import tencentcloud_iac_pulumi as tencentcloud
    from tencentcloud_iac_pulumi import cam, cos, kms

    provider = tencentcloud.Provider("tencentcloud-hk", region=guardrail.TENCENT_REGION)
    child = pulumi.ResourceOptions(provider=provider)
    keep = pulumi.ResourceOptions(provider=provider, protect=True, retain_on_delete=True)

    key = kms.Key(
        "state-cmk",
        alias=f"{prefix}pulumi-state",
        description="hk-mail: Pulumi state bucket and its access logs (Hong Kong)",
        key_usage="ENCRYPT_DECRYPT",
        key_rotation_enabled=True,
        is_enabled=True,
        pending_delete_window_in_days=30,
        opts=keep,
    )
    logs = cos.Bucket(
        "state-access-logs",
        bucket=f"{bucket_name}-logs-{app_id}",
        acl="private",
        encryption_algorithm="KMS",
        kms_id=key.id,
        versioning_enable=True,
        force_clean=False,
        opts=keep,
    )
    state = cos.Bucket(
        "state",
        bucket=f"{bucket_name}-{app_id}",
        acl="private",
        encryption_algorithm="KMS",
        kms_id=key.id,
        versioning_enable=True,
        log_enable=True,
        log_target_bucket=logs.bucket,
        log_prefix="state/",
        force_clean=False,
        opts=keep,
    )

    role = cam.Role(
        "deploy",
        name=f"{prefix}deploy",
        description="hk-mail: runs `pulumi up`; may act only on Hong Kong resources",
        document=json.dumps(
            {
                "version": "2.0",
                "statement": [
                    {
                        "action": "name/sts:AssumeRole",
                        "effect": "allow",
                        "principal": {"qcs": [f"qcs::cam::uin/{uin}:root"]},
                    }
                ],
            }
        ),
        session_duration=3600,
        console_login=False,
        opts=child,
    )
    document = guardrail.render(guardrail.cam_policy(uin, prefix, domains))
    policy = cam.Policy(
        "deploy-hong-kong-only",
        name=f"{prefix}deploy-hong-kong-only",
        description="hk-mail: resource actions only on ap-hongkong resource strings",
        document=document,
        opts=child,
    )
    cam.RolePolicyAttachment("deploy-policy", role_id=role.id, policy_id=policy.id, opts=child)
    endpoint = f"cos.{guardrail.TENCENT_REGION}.myqcloud.com"
    pulumi.export(
        "backendUrl",
        state.bucket.apply(
            lambda b: f"s3://{b}?endpoint=https://{endpoint}&region={guardrail.TENCENT_REGION}"
        ),
    )
    pulumi.export("deployRoleId", role.id)
    pulumi.export("deployPolicy", json.loads(document))
    pulumi.export("stateKeyId", key.id)


def main() -> None:
    config = pulumi.Config()
    cloud = config.require("cloud")
    account = config.require("accountId")
    bucket = config.require("stateBucket")
    prefix = config.get("namePrefix") or "hkmail-"
    domains = list(config.get_object("domains") or [])
    if cloud == ALIBABA:
        _alicloud(account, bucket, prefix, domains)
    elif cloud == TENCENT:
        _tencent(account, config.require("appId"), bucket, prefix, domains)
    else:
        raise pulumi.RunError(
            f"hk-mail-bootstrap:cloud is {cloud!r}; allowed values: {ALIBABA}, {TENCENT}"
        )


main()
