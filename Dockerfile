# GPU image of the service: gunicorn (HTTP) and worker processes under supervisord; weights on a volume.
# Not built in this project's CI (no Docker engine there); linted with hadolint in the tests.
FROM nvidia/cuda:13.0.0-cudnn-runtime-ubuntu24.04

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    ENHANCE_DATA_DIR=/data \
    ENHANCE_WEIGHTS_PATH=/weights \
    ENHANCE_DEVICE=auto

# Ubuntu's archive drops old package versions, so pinning them would break future builds.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv curl \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 enhance \
    && mkdir -p /app /data /weights \
    && chown enhance:enhance /app /data /weights

WORKDIR /app
COPY --chown=enhance:enhance requirements.txt ./
RUN python3 -m venv /app/.venv \
    && /app/.venv/bin/pip install -r requirements.txt
COPY --chown=enhance:enhance . .

USER 10001
VOLUME ["/data", "/weights"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD ["curl", "-fsS", "http://127.0.0.1:8000/healthz"]
# supervisord runs gunicorn (HTTP only) and ENHANCE_WORKERS `flask worker` processes (app/supervise.py)
ENV HOST=0.0.0.0 PORT=8000
ENTRYPOINT ["/app/.venv/bin/python", "-m", "app.supervise"]
