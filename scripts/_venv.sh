# Sourced by the scripts in this folder: make sure the repo's virtualenv exists and matches
# requirements.lock (generated from requirements.txt + requirements-dev.txt), then activate it.
# Needs only python3 (3.11+) and the package registry.
set -euo pipefail
HKMAIL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HKMAIL_VENV="${HKMAIL_VENV:-$HKMAIL_ROOT/.venv}"
_lock="$HKMAIL_ROOT/requirements.lock"
_stamp="$HKMAIL_VENV/.hkmail-lock.sha256"
_want="$(sha256sum "$_lock" | cut -d' ' -f1)"
if [[ ! -x "$HKMAIL_VENV/bin/python" || ! -f "$_stamp" || "$(cat "$_stamp")" != "$_want" ]]; then
  echo "hk-mail: preparing virtualenv $HKMAIL_VENV from requirements.lock ..." >&2
  python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "hk-mail needs Python 3.11 or newer")'
  [[ -x "$HKMAIL_VENV/bin/python" ]] || python3 -m venv "$HKMAIL_VENV"
  # cwd: the lock names the mail library as ./components (as the CLI installs requirements.txt).
  # It takes minutes on a fresh machine: pip's progress lines are shown as they come.
  (cd "$HKMAIL_ROOT" && "$HKMAIL_VENV/bin/python" -m pip install --disable-pip-version-check \
      --progress-bar off -r "$_lock" 2>&1 \
    | grep --line-buffered -E '^(Collecting|Obtaining|Installing collected|Successfully installed|ERROR)' \
    | sed -u 's/^/hk-mail:   /' >&2; exit "${PIPESTATUS[0]}")
  echo "$_want" > "$_stamp"
fi
# shellcheck disable=SC1091
source "$HKMAIL_VENV/bin/activate"
export PYTHONPATH="$HKMAIL_ROOT/components:$HKMAIL_ROOT${PYTHONPATH:+:$PYTHONPATH}"
