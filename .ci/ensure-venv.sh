#!/usr/bin/env bash
# Create the virtual environment, installing Debian's venv support first if it is missing.
set -euo pipefail
python="${1:-python3}"
venv="${2:-.venv}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "Python 3.11 or newer is needed; $python is $("$python" --version 2>&1)." >&2
  exit 1
fi
if ! "$python" -m venv "$venv" 2>/dev/null; then
  rm -rf "$venv"
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  echo "Installing python3-venv (Debian) ..."
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq python3-venv
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --upgrade pip
