# Sourced by scripts/test: install the Debian packages the tests run for real (a DNS server,
# postfix/dovecot/opendkim, cloud-init, ...) when some are missing. Their services must not start
# (tests start their own daemons on loopback ports): a policy-rc.d that denies every start is put in
# place for the install, and removed afterwards only if this script created it.
_policy_rc_d="${HKMAIL_POLICY_RC_D:-/usr/sbin/policy-rc.d}"
mapfile -t _wanted < <(grep -Ev '^\s*(#|$)' "$ROOT/scripts/ci-apt-packages.txt")
_missing=()
for _pkg in "${_wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$_pkg" 2>/dev/null | grep -q "install ok installed" || _missing+=("$_pkg")
done
if ((${#_missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "scripts/test: missing Debian packages: ${_missing[*]}; run as root or apt-get install them" >&2
    exit 1
  fi
  # what and why, before minutes of quiet apt work
  echo "scripts/test: installing ${#_missing[@]} Debian packages the tests run for real (DNS," \
    "mail and web servers, cloud-init, chromium; scripts/ci-apt-packages.txt): ${_missing[*]}" >&2
  echo "scripts/test: this takes a few minutes on a fresh machine; if another apt or dpkg holds" \
    "its lock, apt-get waits for it (up to 10 minutes) instead of failing" >&2
  _created_policy_rc_d=0
  if [[ ! -e "$_policy_rc_d" ]]; then
    printf '#!/bin/sh\nexit 101\n' > "$_policy_rc_d" && chmod +x "$_policy_rc_d"
    _created_policy_rc_d=1
    trap 'rm -f "$_policy_rc_d"' EXIT
  else
    # the machine's own file: used as it is, never removed
    echo "scripts/test: keeping the existing $_policy_rc_d" >&2
  fi
  # apt-get update has no lock timeout of its own: retry while another apt holds the lists lock
  for _try in $(seq 60); do
    apt-get update -q -o DPkg::Lock::Timeout=600 >/dev/null 2>/tmp/hkmail-apt-update.err && break
    if ! grep -q "Could not get lock" /tmp/hkmail-apt-update.err; then
      cat /tmp/hkmail-apt-update.err >&2
      exit 1
    fi
    echo "scripts/test: waiting for another apt to release its lock ($_try/60)" >&2
    sleep "${HKMAIL_APT_RETRY_SECONDS:-10}"
  done
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    -o DPkg::Lock::Timeout=600 "${_missing[@]}" >/dev/null
  echo "scripts/test: Debian packages installed" >&2
  if ((_created_policy_rc_d)); then
    rm -f "$_policy_rc_d"
    trap - EXIT
  fi
fi
