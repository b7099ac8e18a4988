#!/usr/bin/env bash
# The multi-host test (tests/amm/runtime/test_multihost.py) makes hosts out of network
# namespaces with iproute2's `ip`: install it from Debian's packages when missing. Without
# root the test skips itself (namespaces need root), so nothing is installed then.
set -euo pipefail
if command -v ip >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-netns: iproute2 missing and not root on Debian: the multi-host test will be skipped" >&2
  exit 0
fi
echo "ensure-netns: installing iproute2 from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq iproute2 >/dev/null
