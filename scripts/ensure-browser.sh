#!/usr/bin/env bash
# The console's browser test drives Debian's chromium through chromedriver (Selenium): install
# both from Debian's packages when missing (nothing downloads a browser build of its own).
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-browser: chromium/chromedriver missing and not root on Debian: the browser test will be skipped" >&2
  exit 0
fi
echo "ensure-browser: installing chromium and chromium-driver from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq chromium chromium-driver >/dev/null
