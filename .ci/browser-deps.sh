#!/usr/bin/env bash
# What the browser tests (tests/e2e) need: Debian's chromium, driven by the Playwright
# Python package from requirements-dev.txt. Playwright's own browser downloads are never
# used. Installs only what is missing; quiet; as root or through sudo.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${VENV:-.venv}"
if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi

if [ ! -x /usr/bin/chromium ]; then
  echo "Installing chromium (Debian) for the browser tests ..." >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi

# A CJK font for the browser, so Chinese names render (and the README's screenshots show
# them): WenQuanYi Micro Hei (Debian fonts-wqy-microhei, Apache-2.0 or GPL-3 with the font
# exception), 5 MB.
if [ ! -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]; then
  echo "Installing a CJK font (fonts-wqy-microhei) for the browser tests ..." >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq fonts-wqy-microhei >/dev/null
fi

if [ -x "$venv/bin/python" ] && ! "$venv/bin/python" -c 'import playwright' 2>/dev/null; then
  "$venv/bin/pip" install -q "$(grep -E '^playwright==' requirements-dev.txt)"
fi
