"""hk-mail CrossGuard policy pack: Hong Kong residency and mail-hygiene rules."""
