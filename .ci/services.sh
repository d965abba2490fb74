#!/usr/bin/env bash
# Start (installing from Debian's packages if missing) a throwaway PostgreSQL and Redis on
# loopback for the test suite. `services.sh start` prints the environment to use;
# `services.sh stop` stops them. Data lives under $SERVICES_DIR (default /tmp/ssd-test-$UID).
set -euo pipefail
action="${1:-start}"
dir="${SERVICES_DIR:-/tmp/ssd-test-$(id -u)}"
pg_port="${TEST_PG_PORT:-55432}"
redis_port="${TEST_REDIS_PORT:-56379}"
if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi

need_packages=()
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ] || need_packages+=(postgresql)
command -v redis-server >/dev/null || need_packages+=(redis-server)

as_pg_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$action" in
  start)
    if [ ${#need_packages[@]} -gt 0 ]; then
      echo "Installing ${need_packages[*]} ..." >&2
      $sudo apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_packages[@]}" >&2
      # Debian starts its own cluster and server on install; the tests use their own.
      $sudo service postgresql stop >/dev/null 2>&1 || true
      $sudo service redis-server stop >/dev/null 2>&1 || true
      pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    fi
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir" && chmod 755 "$dir"
    if [ ! -f "$dir/pg/PG_VERSION" ]; then
      as_pg_owner "$pg_bin/initdb" -D "$dir/pg" -U postgres --auth=trust -E UTF8 >/dev/null
    fi
    if ! as_pg_owner "$pg_bin/pg_ctl" -D "$dir/pg" status >/dev/null 2>&1; then
      as_pg_owner "$pg_bin/pg_ctl" -D "$dir/pg" -w -l "$dir/pg.log" -o \
        "-p $pg_port -c listen_addresses=127.0.0.1 -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >&2
    fi
    if ! redis-cli -p "$redis_port" ping >/dev/null 2>&1; then
      redis-server --port "$redis_port" --bind 127.0.0.1 --daemonize yes \
        --dir "$dir" --save "" --appendonly no --logfile "$dir/redis.log" \
        --pidfile "$dir/redis.pid" >&2
      for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    fi
    echo "export DATABASE_URL=postgres://postgres@127.0.0.1:$pg_port/ssd"
    echo "export REDIS_URL=redis://127.0.0.1:$redis_port/0"
    ;;
  stop)
    [ -n "$pg_bin" ] && as_pg_owner "$pg_bin/pg_ctl" -D "$dir/pg" -m fast stop >/dev/null 2>&1 || true
    redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
