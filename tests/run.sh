#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine, then runs them all: the fast default
# (what `python -m pytest` runs), then the slow and browser tests. Arguments go to both runs
# (e.g. -x); it fails if either run fails.
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
status=0
run() { python3 -m pytest "$@" || { rc=$?; [ $rc = 5 ] || status=$rc; }; }  # 5: no test of that kind in the paths given
run -m "not slow and not browser" "$@"
run -m "slow or browser" "$@"
exit $status
