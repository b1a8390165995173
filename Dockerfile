# SecretGPT's image: the README's install (the lock, then the app itself without dependencies) on a
# slim Python, run as a user of its own, its data dir a volume, /healthz as the health check.
#
# Not built where SecretGPT is developed (those machines have no Docker engine):
# tests/test_container_recipe.py checks this file against the README and the settings instead.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin secretgpt \
    && mkdir -p /data && chown secretgpt:secretgpt /data && chmod 0700 /data

WORKDIR /app
# The lock first: the dependencies' layer is rebuilt only when the lock changes.
COPY requirements.lock ./
RUN python3 -m venv /app/.venv && /app/.venv/bin/pip install -r requirements.lock
COPY pyproject.toml README.md main.py ./
COPY secretgpt ./secretgpt
RUN /app/.venv/bin/pip install --no-deps .

ENV SECRETGPT_HOST=0.0.0.0 \
    SECRETGPT_PORT=8080 \
    SECRETGPT_DATA_DIR=/data \
    SECRETGPT_LOG_FORMAT=json
VOLUME ["/data"]
USER secretgpt
# Where NiceGUI keeps its own files (and where a .env would be read): the data dir.
WORKDIR /data
EXPOSE 8080

HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/app/.venv/bin/python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('SECRETGPT_PORT', '8080') + '/healthz', timeout=4)"]

CMD ["/app/.venv/bin/python", "/app/main.py"]
