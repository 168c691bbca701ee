#!/usr/bin/env bash
# `make test`: throwaway PostgreSQL, Redis and Celery worker on free ports (or DATABASE_URL / REDIS_URL
# when given), then ruff, mypy, import-linter and the whole pytest suite (browser tests included).
# Everything it started is stopped on exit, also when a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=.venv/bin/python
pids=()
tmp=$(mktemp -d /tmp/oms-test.XXXXXX)
chmod 755 "$tmp"

cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ -n "${PGDATA_DIR:-}" ] && [ -d "$PGDATA_DIR" ]; then
    as_postgres "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m immediate stop >/dev/null 2>&1 || true
  fi
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
  exit $status
}
trap cleanup EXIT INT TERM

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing $* with apt-get"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "Missing: $*. Install them (Debian/Ubuntu: sudo apt-get install $*) and run make test again." >&2
    exit 1
  fi
}

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# --- PostgreSQL ---------------------------------------------------------------------------------------------
if [ -z "${DATABASE_URL:-}" ]; then
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
    apt_install postgresql
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  PGDATA_DIR="$tmp/pg"
  PG_PORT=$(free_port)
  mkdir -p "$PGDATA_DIR"
  [ "$(id -u)" = 0 ] && chown postgres "$PGDATA_DIR"
  as_postgres "$PG_BIN/initdb" -D "$PGDATA_DIR" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
  # fsync off: a throwaway cluster, speed over durability. A session idle in a transaction for 2 min is a hung
  # test or task: PostgreSQL ends it, so the others it blocks go on (and the failure says where).
  # Autovacuum off: tests flush their tables over and over, and a vacuum of a just-emptied table records it as
  # empty; a test that then fills it inside its own transaction (invisible to any analyze) got nested-loop plans
  # fit for empty tables, and one pick-list query over 200 fulfilments ran for minutes. Without it the planner
  # keeps its default size estimates, the same in every run. A statement running 2 min, or waiting 1 min for a
  # lock, is a bug: it fails with PostgreSQL's error instead of holding the suite until CI's limit.
  as_postgres "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$PGDATA_DIR/server.log" -w \
    -o "-p $PG_PORT -k $PGDATA_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c idle_in_transaction_session_timeout=120s -c autovacuum=off -c statement_timeout=120s -c lock_timeout=60s" \
    start >/dev/null
  export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/oms"
  echo "==> PostgreSQL on port $PG_PORT"
fi

# --- Redis --------------------------------------------------------------------------------------------------
if [ -z "${REDIS_URL:-}" ]; then
  command -v redis-server >/dev/null || apt_install redis-server
  REDIS_PORT=$(free_port)
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$tmp" \
    --logfile "$tmp/redis.log" &
  pids+=($!)
  export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  echo "==> Redis on port $REDIS_PORT"
fi

# --- Chromium for the browser tests -------------------------------------------------------------------------
if [ -z "${CHROMIUM_PATH:-}" ]; then
  CHROMIUM_PATH=$(command -v chromium || command -v chromium-browser || true)
  if [ -z "$CHROMIUM_PATH" ]; then apt_install chromium; CHROMIUM_PATH=$(command -v chromium); fi
  export CHROMIUM_PATH
fi

export DJANGO_SETTINGS_MODULE=oms.settings.test
export OMS_VAR_DIR="$tmp/var"
# The test database: pytest-django creates it; the worker is pointed at it from the start.
export TEST_DATABASE_NAME="oms_test"

# --- Static checks ------------------------------------------------------------------------------------------
# (OMS_SKIP_STATIC=1 skips them while iterating on tests; CI never sets it.)
if [ -z "${OMS_SKIP_STATIC:-}" ]; then
  echo "==> ruff"
  .venv/bin/ruff check .
  .venv/bin/ruff format --check .
  echo "==> import-linter"
  .venv/bin/lint-imports --no-cache
  echo "==> mypy"
  .venv/bin/mypy .
fi

# --- Celery worker ------------------------------------------------------------------------------------------
WORKER_DB_URL="${DATABASE_URL%/*}/$TEST_DATABASE_NAME"
DATABASE_URL="$WORKER_DB_URL" DB_POOL=0 PGAPPNAME=celery-worker .venv/bin/celery -A oms worker --loglevel=WARNING --concurrency=2 \
  --hostname="test-worker@%h" --without-gossip --without-mingle >"$tmp/worker.log" 2>&1 &
pids+=($!)
echo "==> Celery worker started (log: $tmp/worker.log)"

# --- Tests --------------------------------------------------------------------------------------------------
echo "==> pytest"
set +e
# A hang that even pytest-timeout cannot interrupt ends here, with pytest's traceback, well inside CI's limit.
PGAPPNAME=pytest timeout --signal=INT --kill-after=60 4200 .venv/bin/pytest "$@"
status=$?
set -e
if [ $status -ne 0 ]; then
  echo "---- last lines of the worker log ----"; tail -n 40 "$tmp/worker.log" || true
fi
exit $status
