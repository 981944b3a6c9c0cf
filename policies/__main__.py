"""hk-mail CrossGuard policy pack (run by `pulumi preview --policy-pack policies` or the gate)."""

from hkmail_policy.pack import serve

serve()
