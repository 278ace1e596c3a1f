#!/usr/bin/env bash
# make run: the embedded default (SQLite file + filesystem broker): web, worker, search worker and beat,
# each its own process under scripts/supervise.py, which restarts one that dies (and says so) and stops
# everything, loudly, when one keeps dying. Ctrl-C stops all.
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

# --- search shards: with HUIJIA_SEARCH_SHARDS=N > 1 the `search` worker coordinates and one worker per
# shard k (queue search.<k>) holds the faces with face_id % N == k (service/matching/scatter.py). Solo pool: the
# search runs in the process that took the message (a prefork child is one more hop: bench/results/shards.md).
shard_procs=()
for ((k = 0; k < ${HUIJIA_SEARCH_SHARDS:-1} && ${HUIJIA_SEARCH_SHARDS:-1} > 1; k++)); do
  shard_procs+=("shard$k=env HUIJIA_SEARCH_SHARD=$k celery -A workers.celery_app worker --loglevel=INFO --pool=solo -Q search.$k -n shard$k@%h")
done
# --- end search shards

echo "Huijia is serving on http://127.0.0.1:${HUIJIA_PORT}/  (Ctrl-C stops web, workers and beat)"
# The search worker holds the gallery index in memory: one process, so it is not copied per child.
# Beat is its own process (not `worker --beat`): a worker killed does not take the schedule with it.
exec python scripts/supervise.py --watch "http://127.0.0.1:${HUIJIA_PORT}/readyz" \
  "web=gunicorn --bind 127.0.0.1:${HUIJIA_PORT} --workers ${HUIJIA_WEB_WORKERS:-2} --access-logfile - service:create_app()" \
  "worker=celery -A workers.celery_app worker --loglevel=INFO --concurrency=${HUIJIA_WORKER_CONCURRENCY:-2} -Q default -n default@%h" \
  "search=celery -A workers.celery_app worker --loglevel=INFO --concurrency=1 -Q search -n search@%h" \
  "beat=celery -A workers.celery_app beat --loglevel=INFO --schedule $(printf %q "$HUIJIA_INSTANCE_DIR/celerybeat-schedule")" \
  ${shard_procs[@]+"${shard_procs[@]}"}
