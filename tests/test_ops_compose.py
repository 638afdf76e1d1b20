"""docker-compose.yml, Dockerfile and .dockerignore, checked without a Docker engine:
the structure an operator relies on (services, ordering, health checks, ports, secrets
from the environment) and its consistency with the app (setting names) and with
deploy/nginx.conf (template variables)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.config import Settings
from tests.ops_support import COMPOSE_FILE, NGINX_CONF, ROOT, template_variables

APPS = ("app1", "app2")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())  # resolves the <<: merge keys
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(compose["services"])


def env_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):  # the "KEY=value" list form
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def healthcheck_command(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL"), test
    return " ".join(test[1:])


def test_services(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == {"migrate", *APPS, "redis", "postgres", "proxy"}
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["redis"]["image"].startswith("redis:")
    assert services["proxy"]["image"] == "nginx:stable"
    for name in ("migrate", *APPS):
        assert services[name]["build"] == "."
        assert services[name]["image"] == services["migrate"]["image"], "one image for all"


def test_only_the_proxy_is_published(services: dict[str, dict[str, Any]]) -> None:
    assert services["proxy"]["ports"] == ["8080:80"]
    for name, service in services.items():
        if name != "proxy":
            assert "ports" not in service, f"{name} must be reachable only on the network"


def test_migrations_run_once_before_the_apps(services: dict[str, dict[str, Any]]) -> None:
    migrate = services["migrate"]
    assert migrate["command"] == ["livefeed", "migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in APPS:
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"


def test_apps(services: dict[str, dict[str, Any]]) -> None:
    for name in APPS:
        app = services[name]
        command = app["command"]
        assert command[:2] == ["livefeed", "serve"]
        assert command[command.index("--host") + 1] == "0.0.0.0"
        port = command[command.index("--port") + 1]
        assert "--workers" not in command, "one process per container: scale by replicas"
        assert str(port) in [str(p) for p in app["expose"]]
        assert f"127.0.0.1:{port}/readyz" in healthcheck_command(app)
        assert app["restart"] == "unless-stopped"
        # Docker's SIGKILL must come after the app's own drain bound.
        grace = int(str(app["stop_grace_period"]).rstrip("s"))
        assert grace > float(env_of(app)["LIVEFEED_SHUTDOWN_TIMEOUT_SECONDS"])


def test_app_environment(services: dict[str, dict[str, Any]]) -> None:
    known = {f"LIVEFEED_{name.upper()}" for name in Settings.model_fields}
    for name in ("migrate", *APPS):
        env = env_of(services[name])
        unknown = {k for k in env if k.startswith("LIVEFEED_")} - known
        assert not unknown, f"{name}: not livefeed settings: {unknown}"
        assert env["LIVEFEED_DATABASE_URL"].startswith("postgresql+asyncpg://livefeed:")
        assert "@postgres:5432/livefeed" in env["LIVEFEED_DATABASE_URL"]
    for name in APPS:
        env = env_of(services[name])
        assert env["LIVEFEED_REDIS_URL"] == "redis://redis:6379/0"
        assert env["LIVEFEED_LOG_FORMAT"] == "json"
        assert env["LIVEFEED_PUBLIC_URL"].startswith("${LIVEFEED_PUBLIC_URL:-http")


def test_secrets_come_from_the_environment(services: dict[str, dict[str, Any]]) -> None:
    required = re.compile(r"\$\{(\w+):\?[^}]+\}")
    for name in APPS:
        env = env_of(services[name])
        match = required.fullmatch(env["LIVEFEED_ADMIN_TOKEN"])
        assert match and match.group(1) == "LIVEFEED_ADMIN_TOKEN"
        assert "${POSTGRES_PASSWORD:?" in env["LIVEFEED_DATABASE_URL"]
    pg_env = env_of(services["postgres"])
    match = required.fullmatch(pg_env["POSTGRES_PASSWORD"])
    assert match and match.group(1) == "POSTGRES_PASSWORD"
    # No literal secret anywhere: every password/token value is an interpolation.
    for name, service in services.items():
        for key, value in env_of(service).items():
            if re.search("PASSWORD|TOKEN|SECRET", key):
                assert value.startswith("${"), f"{name}.{key} is a literal secret"


def test_backing_services(services: dict[str, dict[str, Any]]) -> None:
    postgres = services["postgres"]
    assert "pg_isready" in healthcheck_command(postgres)
    assert any(v.split(":")[1] == "/var/lib/postgresql/data" for v in postgres["volumes"])
    assert "redis-cli ping" in healthcheck_command(services["redis"])


def test_proxy(compose: dict[str, Any], services: dict[str, dict[str, Any]]) -> None:
    proxy = services["proxy"]
    for name in APPS:
        assert proxy["depends_on"][name]["condition"] == "service_healthy"
    mounts = [v.split(":") for v in proxy["volumes"]]
    assert ["./deploy/nginx.conf", "/etc/nginx/templates/default.conf.template", "ro"] in mounts
    # The image's envsubst fills exactly the variables the template uses; the upstream
    # servers are the app services on the port they serve.
    env = env_of(proxy)
    assert template_variables(NGINX_CONF.read_text()) == set(env)
    assert env["LIVEFEED_PROXY_LISTEN"] == "80"
    upstreams = sorted(v for k, v in env.items() if k.startswith("LIVEFEED_UPSTREAM_"))
    assert upstreams == [f"{name}:{services[name]['command'][-1]}" for name in APPS]
    assert "pgdata" in compose["volumes"]


def test_nginx_conf_handles_live_connections() -> None:
    conf = NGINX_CONF.read_text()
    locations = dict(re.findall(r"location\s+(/\w+/)\s*\{(.*?)\n    \}", conf, re.S))
    ws, sse = locations["/ws/"], locations["/sse/"]
    assert "proxy_set_header Upgrade $http_upgrade;" in ws
    assert re.search(r"proxy_set_header Connection \$\w+;", ws)
    assert re.search(r"map \$http_upgrade \$\w+ \{", conf)
    assert "proxy_buffering off;" in sse
    for block in (ws, sse):
        assert re.search(r"proxy_read_timeout (\d+h|\d{3,}s?);", block), "long read timeout"
        assert "X-Forwarded-For $proxy_add_x_forwarded_for" in block
        assert "X-Forwarded-Proto $scheme" in block
    assert "proxy_next_upstream error timeout" in conf
    assert "proxy_http_version 1.1;" in conf


def test_dockerfile() -> None:
    text = (ROOT / "Dockerfile").read_text()
    lines = [line.strip() for line in text.splitlines()]
    assert "FROM python:3.11-slim" in lines
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "runs as a non-root user"
    assert re.search(r"pip install (--no-deps )?\.", text)
    healthcheck = text[text.index("HEALTHCHECK") :]
    assert "/healthz" in healthcheck.split("\n\n")[0]
    assert 'CMD ["livefeed", "serve", "--host", "0.0.0.0", "--port", "8000"]' in lines
    assert "EXPOSE 8000" in lines


def test_dockerignore_keeps_the_context_small() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", "an allow-list"
    allowed = {p[1:] for p in patterns if p.startswith("!")}
    assert allowed >= {"pyproject.toml", "app", "web"}
    assert not allowed & {".git", ".venv", "tests", ".env"}
    for path in allowed:
        assert path == "README.md" or (ROOT / path).exists(), path


def test_deployment_doc_covers_operations() -> None:
    doc = (ROOT / "docs" / "deployment.md").read_text()
    for topic in ("docker compose", "pg_dump", ".backup", "livefeed migrate", "/metrics"):
        assert topic in doc, topic
    # Every metric the doc tells operators to watch exists.
    from app.metrics import Metrics

    exported = {m.name for m in Metrics().registry.collect()}
    named = set(re.findall(r"livefeed_[a-z_]+", doc))
    state_series = {
        "livefeed_broker_reconnects",
        "livefeed_broker_connected",
        "livefeed_hub_catchups",
        "livefeed_catchup_store_reads",
        "livefeed_catchup_refused",
        "livefeed_draining",
    }
    for name in named:
        base = re.sub(r"_(total|bucket|count|sum)$", "", name)
        assert base in exported | state_series, f"docs name an unknown metric {name}"


def test_paths_exist() -> None:
    for path in ("Dockerfile", ".dockerignore", "docker-compose.yml", "deploy/nginx.conf"):
        assert Path(ROOT / path).is_file(), path
