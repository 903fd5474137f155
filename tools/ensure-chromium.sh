#!/usr/bin/env bash
# The browser tests drive Debian's chromium through Playwright (no browser
# download): install it when it is missing. Needs root (CI runs as root).
set -euo pipefail
chromium="${CHORUS_CHROMIUM:-/usr/lib/chromium/chromium}"
[ -x "$chromium" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "browser: $chromium is missing; install Debian's chromium (sudo apt-get install chromium)" >&2
  exit 1
fi
echo "browser: installing Debian's chromium (first run only)..."
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
