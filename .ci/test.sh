#!/usr/bin/env bash
# The whole test suite against real PostgreSQL and Redis: lint, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${VENV:-.venv}"
eval "$(bash .ci/services.sh start)"
trap 'bash .ci/services.sh stop' EXIT
export DATA_DIR="${DATA_DIR:-$(mktemp -d /tmp/ssd-test-data.XXXXXX)}"
export DJANGO_DEBUG=true
echo "== ruff"
"$venv/bin/ruff" check .
"$venv/bin/ruff" format --check .
echo "== migrations"
"$venv/bin/python" manage.py makemigrations --check --dry-run
echo "== pytest (PostgreSQL and Redis)"
"$venv/bin/pytest" "$@"
