#!/usr/bin/env bash
# Serve the API and web page (gunicorn) and run ENHANCE_WORKERS worker processes, supervised (app/supervise.py);
# the embedded queue and SQLite in ENHANCE_DATA_DIR by default.
# On a fresh machine: creates .venv in the repo root and installs requirements.txt first
# (`./run.sh --install-only` stops there).
set -euo pipefail
cd "$(dirname "$0")"
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "run.sh: creating .venv" >&2
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.runtime-requirements.sha256
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "run.sh: installing requirements.txt" >&2
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
  echo "$want" > "$stamp"
fi
if [ "${1:-}" = "--install-only" ]; then
  echo "run.sh: .venv is ready" >&2
  exit 0
fi
echo "run.sh: weights are looked for in: ${ENHANCE_WEIGHTS_PATH:+$ENHANCE_WEIGHTS_PATH:}$(pwd)/weights" >&2
.venv/bin/flask models >&2 || true
echo "run.sh: serving on http://$HOST:$PORT (data in ${ENHANCE_DATA_DIR:-./data})," \
  "with ${ENHANCE_WORKERS:-the default number of} worker process(es) under supervisord" >&2
# supervisord runs gunicorn (HTTP only) and the `flask worker` processes, and restarts any that dies
export HOST PORT
exec .venv/bin/python -m app.supervise
