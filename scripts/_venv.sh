# Sourced by the scripts in this folder: make sure the repo's virtualenv exists and holds what the
# caller needs, then activate it. Needs only python3 (3.11+) and the package registry.
#
#   source scripts/_venv.sh        the test environment: requirements.lock (runtime + test tools)
#                                  (any argument other than "tools" means this)
#   source scripts/_venv.sh tools  what the tools run on: requirements-tools.txt (all `pulumi up`
#                                  installs, the pack's runtime, jsonschema); no mypy, ruff,
#                                  zizmor, hypothesis or pytest
# A test environment serves the tools as well (the lock holds both sets).
set -euo pipefail
HKMAIL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HKMAIL_VENV="${HKMAIL_VENV:-$HKMAIL_ROOT/.venv}"
_hkmail_mode="${1:-dev}"
_lock="$HKMAIL_ROOT/requirements.lock"
_dev_stamp="$HKMAIL_VENV/.hkmail-lock.sha256"
_tools_stamp="$HKMAIL_VENV/.hkmail-tools.sha256"
_dev_want="$(sha256sum "$_lock" | cut -d' ' -f1)"
_tools_want="$(cat "$_lock" "$HKMAIL_ROOT/requirements.txt" "$HKMAIL_ROOT/requirements-tools.txt" \
  | sha256sum | cut -d' ' -f1)"
_hkmail_have() { [[ -x "$HKMAIL_VENV/bin/python" && -f "$1" && "$(cat "$1")" == "$2" ]]; }
_hkmail_install() {
  # cwd: the requirement files name the mail library as ./components (as the CLI installs
  # requirements.txt). It takes minutes on a fresh machine: pip's progress lines are shown.
  echo "hk-mail: preparing virtualenv $HKMAIL_VENV ($1) ..." >&2
  python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "hk-mail needs Python 3.11 or newer")'
  [[ -x "$HKMAIL_VENV/bin/python" ]] || python3 -m venv "$HKMAIL_VENV"
  shift
  (cd "$HKMAIL_ROOT" && "$HKMAIL_VENV/bin/python" -m pip install --disable-pip-version-check \
      --progress-bar off "$@" 2>&1 \
    | grep --line-buffered -E '^(Collecting|Obtaining|Installing collected|Successfully installed|ERROR)' \
    | sed -u 's/^/hk-mail:   /' >&2; exit "${PIPESTATUS[0]}")
}
# Only the word "tools" selects the smaller set: a script that sources this file without an
# argument passes its own arguments on (scripts/test -k zone), and those mean the test set.
if [[ "$_hkmail_mode" == tools ]]; then
  if ! _hkmail_have "$_dev_stamp" "$_dev_want" && ! _hkmail_have "$_tools_stamp" "$_tools_want"; then
    _hkmail_install "requirements-tools.txt: what the tools run on" -r requirements-tools.txt
    echo "$_tools_want" > "$_tools_stamp"
  fi
elif ! _hkmail_have "$_dev_stamp" "$_dev_want"; then
  _hkmail_install "requirements.lock: runtime and test tools" -r "$_lock"
  echo "$_dev_want" > "$_dev_stamp"
  echo "$_tools_want" > "$_tools_stamp"
fi
unset -f _hkmail_have _hkmail_install
# shellcheck disable=SC1091
source "$HKMAIL_VENV/bin/activate"
export PYTHONPATH="$HKMAIL_ROOT/components:$HKMAIL_ROOT${PYTHONPATH:+:$PYTHONPATH}"
