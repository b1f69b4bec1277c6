#!/usr/bin/env bash
# Installs Debian's headless-capable `chromium` (and its WebDriver, `chromium-driver`)
# when missing. Idempotent. The console's browser test
# (crates/tollgate/tests/console.rs) drives /usr/bin/chromium with Playwright and
# fails, not skips, without it. Never a downloaded browser: Debian's package only.
set -euo pipefail

if [[ -x /usr/bin/chromium ]]; then
  echo "chromium is installed: $(/usr/bin/chromium --version 2>/dev/null || echo unknown version)"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=900 update -qq
apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends chromium fonts-dejavu-core
/usr/bin/chromium --version
