#!/usr/bin/env bash
# Creates .venv with the locked dependencies (uv + uv.lock). Needs Python >= 3.12 on the machine.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
  for candidate in "${OMS_PYTHON:-}" python3.13 python3.12 \
      "$HOME"/.pyenv/versions/3.13*/bin/python3 "$HOME"/.pyenv/versions/3.12*/bin/python3 python3; do
    [ -n "$candidate" ] || continue
    local exe
    exe=$(command -v "$candidate" 2>/dev/null) || continue
    if "$exe" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
      echo "$exe"; return 0
    fi
  done
  return 1
}

PYTHON=$(find_python) || { echo "Python 3.12 or newer is needed (set OMS_PYTHON to its path)." >&2; exit 1; }

if ! command -v uv >/dev/null 2>&1 && [ ! -x .tools/bin/uv ]; then
  echo "==> installing uv into .tools/"
  "$PYTHON" -m venv .tools
  .tools/bin/pip install --quiet --disable-pip-version-check "uv==0.13.9"
fi
UV=$(command -v uv 2>/dev/null || echo .tools/bin/uv)
UV_PYTHON="$PYTHON" UV_PYTHON_DOWNLOADS=never "$UV" sync --frozen --quiet
