"""What each rule does NOT judge, and what each regulatory control's checks cover and leave to
the firm: the pack says exactly what is judged (policies/README.md is generated from this).

tests/test_policy_metadata.py fails when a rule has no entry here, so a new rule states its
limits when it is written."""

from __future__ import annotations

NOT_COVERED: dict[str, str] = {
    "residency-provider-region": "Where a service keeps data behind its API once the resource is "
    "created in Hong Kong (a managed service's backups or logs; a hosted suite's mailboxes are "
    "residency-mail-storage's); "
    "resources created outside Pulumi; a provider configured only by environment variables at "
    "apply time when the program gives none.",
    "residency-resource-region": "Region or zone values a provider computes at apply (they fail "
    "closed, so they block rather than pass); placement inputs the SDKs do not expose; a region "
    "launched after the vocabulary was written outside region-named inputs.",
    "residency-cross-region-copy": "Copies a service makes on its own (provider-side redundancy, "
    "a console-enabled backup), copies made by tools outside Pulumi (scripts, rclone, "
    "imapsync), and the source of a copy into the resource (a flow in: listed, not judged).",
    "residency-embedded-region": "Hosts it does not know (an IP address, a third party's domain), "
    "content fetched at run time (#include URLs, scripts from a bucket), encodings beyond base64, "
    "gzip+base64 (three layers) and MIME multipart; data carried by a read (a GET whose URL "
    "holds data counts as a read); whether an attested host really keeps the data in Hong Kong "
    "(an attestation is taken as filed, not verified).",
    "residency-read-elsewhere": "The read resources themselves: Pulumi's engine hands a "
    "Resource.get() (a ReadResource) to no analyzer, so the pack sees only its provider; what "
    "a read returns, which is judged where the program uses it.",
    "residency-data-sent": "Chat and vendor systems not in hkmail_policy/endpoints.py (see "
    "residency-unknown-recipient), hosts given as IP addresses, and the mail server's notifier "
    "settings (residency-mail-notify judges those).",
    "residency-unknown-recipient": "Hosts that receive data through inputs not named for it (a "
    "configuration line of cloud-config or a free-form config file, a command the pack does not "
    "list as one that sends, a host built at run time, a host a sending line names without a "
    "URL other than ssh / scp / sftp / rsync's user@host or host:path, nc's host and socat's "
    "TCP:host:port, such as a mail recipient's domain), a variable named for a read that is in "
    "fact written to, and where a located host's operator keeps the data behind its API. "
    "Environments given as one JSON string are decoded where the SDK documents the shape (SAE "
    "`envs`, hkmail_policy/envjson.py; what is not of that shape, such as a key other than "
    "name, value and valueFrom or a valueFrom other than {configMapRef: {configMapId, key}}, is "
    "reported, and the rest of the string is read as text only, for region ids and known "
    "hosts); not decoded: a "
    "variable whose value an SAE `valueFrom` takes from a ConfigMap (the ConfigMap's `data` is "
    "read only as text, not as variables), a string environment whose format the SDK does not "
    "publish (EHPC JobTemplate `variables`), and one not known before apply.",
    "residency-no-hk-service": "Services not listed in hkmail_policy/endpoints.py; where a hosted "
    "suite (Alibaba Mail, Tencent Exmail) keeps mailboxes (residency-mail-storage judges the MX "
    "that hands mail to it).",
    "residency-mail-storage": "Where a suite really stores mail beyond what its vendor publishes "
    "or attests (an attestation is taken as filed, not verified); MX records published outside "
    "the stack; mail a suite copies elsewhere on its own (journaling, archiving, backups).",
    "residency-mail-senders": "Services that send as the domain without an SPF include (an ip4/ip6 "
    "range of a third party, a relay configured outside Pulumi), and where the sending service "
    "keeps copies of sent mail.",
    "residency-mail-relay": "Relays named anywhere but Postfix's relayhost line in the "
    "instance's user data (a transport map, a relay set by hand after boot, a sender-dependent "
    "relay), and where a relay host it does not know answers (not published: it blocks).",
    "residency-mail-failure-reports": "Reports receivers request without a ruf address of the "
    "stack (forensic reports some receivers send anyway), and what the receiver does with them.",
    "residency-mail-aggregate-reports": "Where report-processing services the stack's own "
    "mailboxes forward reports to keep them; aggregate reports are advisory by default.",
    "residency-global-edge": "Edge caching a service turns on by itself, and a CDN or "
    "acceleration endpoint configured outside Pulumi.",
    "residency-service-default": "Defaults a service applies without documenting them in its SDK "
    "(only documented defaults are known).",
    "residency-mail-notify": "Notifications sent by anything other than the server's notifier "
    "settings in user data (a mailbox user's own forwarding or client-side rules, a script "
    "added after boot), and what the chat platform does with a message once received.",
    "encryption-at-rest-kms": "Tencent CVM system disks and TencentDB/CLS (no input to check in "
    "tencentcloud-iac-pulumi 0.2.3); who can use the key (KMS key policy); data in transit.",
    "exposure-bucket-public-access": "Access granted by RAM/CAM policies, presigned URLs, bucket "
    "policies written outside Pulumi, and access from inside the VPC.",
    "durability-protect-data": "Backups, their restore tests and retention; protect only stops "
    "a Pulumi delete, not one made in the console or by the provider.",
    "journal-archive-retention": "Whether the journal actually reaches the bucket (the server's "
    "spool, the uploader and its ALARM lines are checked on the instance, not here); a COS "
    "bucket's object lock set in the console; mail that never reaches this server.",
    "secrets-no-plaintext": "Credentials detect-secrets and its plugins do not recognise (a "
    "password with no keyword beside it, e.g. a Postfix sasl_passwd line user:password), "
    "encodings beyond base64 and gzip+base64, content fetched at run time, secrets kept outside "
    "Pulumi (environment, CI variables), and the strength and rotation of a secret.",
    "mailauth-dkim-key-strength": "Keys held by a hosted service and shown only in its console; "
    "key rotation; whether receivers see a valid signature (scripts/verify checks DNS).",
    "mailauth-spf-strict": "Whether the listed senders are the firm's only senders, and records "
    "published outside Pulumi (scripts/verify checks what DNS serves).",
    "mailauth-dmarc-enforced": "Whether aggregate reports are read and acted on; records "
    "published outside Pulumi.",
}

#: The gate's own rules (toolchain/gate), which judge the project rather than its resources.
GATE_NOT_COVERED: dict[str, str] = {
    "residency-state-backend": "Copies of state made outside the backend (stack exports, local "
    "caches, CI artifacts) and where the backend's bucket replicates on its own.",
    "residency-secrets-provider": "Where the passphrase itself is kept (a CI secret store is "
    "outside Hong Kong unless the firm runs its own), and secrets never put into Pulumi.",
    "residency-state-declared": "Whether the declared backend and secrets provider are the ones "
    "actually used at deploy time.",
    "residency-environment-placement": "Placement read from a file, a web service, or a variable "
    "not named like a region or zone.",
}

#: control id -> (what the pack's checks cover of it, what they leave to the firm)
CONTROL_SCOPE: dict[str, tuple[str, str]] = {
    "SFC-EDS-2019": (
        "That the resources the program creates (and their copies) are placed in Hong Kong "
        "regions, which supports keeping regulatory records in a Hong Kong data centre.",
        "SFC approval of the premises (s.130 SFO), the two managers-in-charge with access, the "
        "EDSP's undertaking or the managers' undertakings, and records kept outside this stack.",
    ),
    "SFC-KRR": (
        "That data-bearing resources carry Pulumi's protect flag (no accidental delete by Pulumi), "
        "and that a private mail server journals every message to a bucket of the stack whose "
        "OSS retention policy lasts at least the declared period (minimumRetentionDays).",
        "Which records the Rules require and for how long (the declared period is the "
        "reviewer's), the ability to produce records promptly, immutability on COS, backups and "
        "their restore tests.",
    ),
    "HKMA-SA-2": (
        "The placement of the resources the program creates with its cloud provider.",
        "The outsourcing assessment, the contract (data location, access and audit rights, "
        "confidentiality), notifying the HKMA, and oversight of the service provider.",
    ),
    "HKMA-CLOUD-2022": (
        "Placement in Hong Kong, encryption at rest with a KMS key, no public buckets, no plain "
        "secrets in inputs: the configuration the program states.",
        "Cloud governance, risk assessment, key management and access control, monitoring, "
        "exit planning, and the provider's audit and access rights.",
    ),
    "HKMA-TM-G-1": (
        "Encryption at rest, no public exposure of buckets, secrets not in plain inputs, mail "
        "authentication records (SPF, DKIM, DMARC).",
        "Access control and privileged-access management, patching, logging and monitoring, "
        "incident response, and controls on systems outside this stack.",
    ),
    "PDPO-DPP4": (
        "Configuration the program states: placement, encryption, exposure, secrets.",
        "All other practicable steps (people, access, processes) and the contractual means with "
        "each processor that DPP4(2) requires.",
    ),
}
