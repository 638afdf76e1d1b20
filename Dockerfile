# syntax=docker/dockerfile:1
# livefeed app image: `livefeed serve` on port 8000 as an unprivileged user.
#
#   docker build -t livefeed .
#   docker run --rm -p 8000:8000 -e LIVEFEED_ADMIN_TOKEN=… livefeed            (SQLite, 1 process)
#   docker compose up                                (2 replicas + PostgreSQL + Redis + nginx)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LIVEFEED_LOG_FORMAT=json

RUN groupadd --system --gid 10001 livefeed \
    && useradd --system --uid 10001 --gid livefeed --home-dir /var/lib/livefeed \
        --create-home --shell /usr/sbin/nologin livefeed \
    # Uploaded media (docker-compose mounts a shared volume here; it inherits the owner).
    && mkdir -p /srv/livefeed/media && chown livefeed:livefeed /srv/livefeed/media

WORKDIR /opt/livefeed

# Dependencies first, in their own layer: code changes do not reinstall them.
COPY pyproject.toml ./
RUN mkdir app && touch app/__init__.py \
    && pip install . \
    && pip uninstall -y livefeed \
    && rm -rf app build *.egg-info

COPY . .
# Installed as a package (web/ templates and assets are package data), then run from
# elsewhere so nothing is imported from the source tree.
# The UI catalogs are compiled first (app/locale/*/LC_MESSAGES/messages.mo) and shipped with
# their .po files.
RUN pybabel compile -d app/locale \
    && pip install --no-deps . \
    && rm -rf build *.egg-info \
    && cd / \
    && python -c "from app.pages import STATIC_DIR, TEMPLATES_DIR; \
assert TEMPLATES_DIR.is_dir() and STATIC_DIR.is_dir(), TEMPLATES_DIR" \
    && python -c "from app.i18n import ui_strings; assert ui_strings('fr')['live'] == 'En direct'" \
    && livefeed --help > /dev/null

USER livefeed:livefeed
# The default SQLite file (single-container use without LIVEFEED_DATABASE_URL) lands here.
WORKDIR /var/lib/livefeed
EXPOSE 8000

# Liveness only: /readyz (database + broker) is for the proxy and the orchestrator's
# routing decisions, and would mark every replica unhealthy while Redis restarts.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]

# SIGTERM drains: /readyz turns 503, live clients get 1012 and reconnect elsewhere,
# in-flight requests finish within LIVEFEED_SHUTDOWN_TIMEOUT_SECONDS.
STOPSIGNAL SIGTERM
CMD ["livefeed", "serve", "--host", "0.0.0.0", "--port", "8000"]
