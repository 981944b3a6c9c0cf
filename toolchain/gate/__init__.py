"""The CI policy gate: a Pulumi program (or a deployed state) through a CrossGuard policy pack."""
