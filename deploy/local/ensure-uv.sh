#!/usr/bin/env bash
# Print the path of a working `uv`, installing it from PyPI with pip when it is missing.
set -euo pipefail
find_uv() {
  command -v uv 2>/dev/null && return 0
  for candidate in "$HOME/.local/bin/uv" "$(python3 -m site --user-base 2>/dev/null)/bin/uv"; do
    [ -x "$candidate" ] && { echo "$candidate"; return 0; }
  done
  return 1
}
if ! find_uv; then
  python3 -m pip install --quiet --user uv >&2 2>/dev/null || python3 -m pip install --quiet uv >&2
  hash -r
  find_uv || { echo "could not install uv" >&2; exit 1; }
fi
