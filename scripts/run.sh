#!/usr/bin/env bash
# make run: the embedded default (SQLite file + filesystem broker), web + worker + beat. Ctrl-C stops all.
set -euo pipefail
cd "$(dirname "$0")/.."
export HUIJIA_INSTANCE_DIR="${HUIJIA_INSTANCE_DIR:-$PWD/instance}"
mkdir -p "$HUIJIA_INSTANCE_DIR"
if [ -z "${HUIJIA_SECRET_KEY:-}" ]; then
  key_file="$HUIJIA_INSTANCE_DIR/secret_key"
  [ -s "$key_file" ] || (umask 077; .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(48))' > "$key_file")
  HUIJIA_SECRET_KEY="$(cat "$key_file")"
  export HUIJIA_SECRET_KEY
fi
# Face templates are encrypted with this key; the app, the CLI and the migrations read the file. Without it the
# stored templates cannot be read: keep a copy, apart from the database backups.
if [ -z "${HUIJIA_TEMPLATE_KEY:-}" ]; then
  template_key_file="$HUIJIA_INSTANCE_DIR/template_key"
  [ -s "$template_key_file" ] || (umask 077; .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))' > "$template_key_file")
fi
export HUIJIA_PORT="${HUIJIA_PORT:-8000}"
export PATH="$PWD/.venv/bin:$PATH"

flask --app service db upgrade
flask --app service bootstrap

pids=()
cleanup() { trap - INT TERM EXIT; kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup INT TERM EXIT

celery -A workers.celery_app worker --beat --loglevel=INFO --concurrency="${HUIJIA_WORKER_CONCURRENCY:-2}" \
  -Q default -n "default@%h" --schedule "$HUIJIA_INSTANCE_DIR/celerybeat-schedule" &
pids+=($!)
# The search worker holds the gallery index in memory: one process, so it is not copied per child.
celery -A workers.celery_app worker --loglevel=INFO --concurrency=1 -Q search -n "search@%h" &
pids+=($!)
# --- search shards: with HUIJIA_SEARCH_SHARDS=N > 1 the `search` worker coordinates and one worker per
# shard k (queue search.<k>) holds the faces with face_id % N == k (service/matching/scatter.py).
shards="${HUIJIA_SEARCH_SHARDS:-1}"
if [ "$shards" -gt 1 ]; then
  for ((k = 0; k < shards; k++)); do
    HUIJIA_SEARCH_SHARD=$k celery -A workers.celery_app worker --loglevel=INFO --concurrency=1 -Q "search.$k" -n "shard$k@%h" &
    pids+=($!)
  done
fi
# --- end search shards
gunicorn --bind "127.0.0.1:${HUIJIA_PORT}" --workers "${HUIJIA_WEB_WORKERS:-2}" --access-logfile - "service:create_app()" &
pids+=($!)
echo "Huijia is serving on http://127.0.0.1:${HUIJIA_PORT}/  (Ctrl-C stops web, worker and beat)"
wait -n "${pids[@]}"
