#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine, then runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
[ -d /usr/share/datasets/fashion-mnist ] || need+=(dataset-fashion-mnist)
command -v chromium >/dev/null || need+=(chromium chromium-driver)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q "${need[@]}"
  else echo "Missing Debian packages (install them as root): ${need[*]}" >&2; fi
fi
python3 -m pip install -q -r requirements-dev.txt
python3 -m pytest "$@"
