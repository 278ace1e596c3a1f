#!/usr/bin/env bash
# make test: the whole suite against real PostgreSQL and Redis (also run directly: scripts/test.sh [pytest args]).
# Uses HUIJIA_TEST_DATABASE_URL / HUIJIA_TEST_REDIS_URL (defaults: 127.0.0.1:5432 db test, 127.0.0.1:6379/15);
# when nothing answers there, starts throwaway servers from the installed binaries.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export HUIJIA_TEST_DATABASE_URL="${HUIJIA_TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}"
export HUIJIA_TEST_REDIS_URL="${HUIJIA_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"
export HUIJIA_FACES="${HUIJIA_FACES:-$(cd .. && pwd)/shared/faces}"
tmp="$(mktemp -d /tmp/huijia-test.XXXXXX)"
chmod 755 "$tmp"
cleanup() {
  [ -n "${PG_STARTED:-}" ] && $RUNAS "$PG_BIN/pg_ctl" -D "$tmp/pg" -m immediate stop >/dev/null 2>&1
  [ -n "${REDIS_STARTED:-}" ] && redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

pg_alive() { $PY -c "import sqlalchemy as sa,sys; sa.create_engine(sys.argv[1]).connect().close()" "$1" >/dev/null 2>&1; }
redis_alive() { $PY -c "import redis,sys; redis.Redis.from_url(sys.argv[1], socket_connect_timeout=1).ping()" "$1" >/dev/null 2>&1; }
spare_port() { $PY -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }

if ! pg_alive "$HUIJIA_TEST_DATABASE_URL"; then
  PG_BIN="$(dirname "$(command -v initdb 2>/dev/null || ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | tail -1)")"
  if [ -x "$PG_BIN/initdb" ]; then
    RUNAS=""
    if [ "$(id -u)" = 0 ]; then  # PostgreSQL refuses to run as root
      pg_user="$(id -u postgres >/dev/null 2>&1 && echo postgres || echo nobody)"
      chown "$pg_user" "$tmp"; RUNAS="runuser -u $pg_user --"
    fi
    PG_PORT="$(spare_port)"
    echo "PostgreSQL not reachable at the default address: starting a throwaway server on port $PG_PORT"
    $RUNAS "$PG_BIN/initdb" -D "$tmp/pg" -U postgres -A trust >/dev/null && \
      $RUNAS "$PG_BIN/pg_ctl" -D "$tmp/pg" -o "-p $PG_PORT -k $tmp -c listen_addresses=127.0.0.1" -l "$tmp/pg.log" -w start >/dev/null && PG_STARTED=1
    export HUIJIA_TEST_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/postgres"
  fi
  pg_alive "$HUIJIA_TEST_DATABASE_URL" || { echo "FATAL: no PostgreSQL at $HUIJIA_TEST_DATABASE_URL and no initdb/pg_ctl binaries to start one (apt-get install postgresql)"; exit 2; }
fi

if ! redis_alive "$HUIJIA_TEST_REDIS_URL"; then
  if command -v redis-server >/dev/null; then
    REDIS_PORT="$(spare_port)"
    echo "Redis not reachable at the default address: starting a throwaway server on port $REDIS_PORT"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes --dir "$tmp" --logfile "$tmp/redis.log" >/dev/null && REDIS_STARTED=1
    sleep 0.5
    export HUIJIA_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/15"
  fi
  redis_alive "$HUIJIA_TEST_REDIS_URL" || { echo "FATAL: no Redis at $HUIJIA_TEST_REDIS_URL and no redis-server binary to start one (apt-get install redis-server)"; exit 2; }
fi

# Page tests expect Chinese: compile the catalogs when one is missing or older than its .po (fast; a no-op
# after `make test`, whose install-dev has just compiled them).
for po in service/translations/*/LC_MESSAGES/messages.po; do
  if [ "$po" -nt "${po%.po}.mo" ]; then
    .venv/bin/pybabel -q compile -d service/translations || { echo "FATAL: pybabel compile failed"; exit 2; }
    break
  fi
done

# Browser tests drive Debian's Chromium (never Playwright's own download).
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's chromium and fonts-noto-cjk for the browser tests"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk) >"$tmp/apt.log" 2>&1 \
    || echo "WARNING: could not install chromium (see below); browser tests will be skipped" && tail -3 "$tmp/apt.log"
fi

$PY -m pytest "$@"
