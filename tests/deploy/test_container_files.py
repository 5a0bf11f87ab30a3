"""The Dockerfile and docker-compose.yml, checked without a Docker engine.

What runs here: hadolint (from PyPI) on the Dockerfile, and Docker Compose's own parser
(`docker compose config`, the compose plugin from PyPI) on the compose file. What cannot run
here: building the image and starting the stack (no Docker engine on these machines).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import services

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SECRETS = {"POSTGRES_PASSWORD": "pg-test", "MINIO_ROOT_PASSWORD": "minio-test", "SECRET_KEY": "k" * 32}


def _tool(name: str) -> str:
    path = BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if not found:
        services.unavailable(f"{name} is not installed (pip install -r requirements-dev.txt)")
    return str(found)


def _compose_command(tmp_path: Path) -> list[str]:
    """`docker compose` (the CLI with the compose plugin) when the docker CLI exists, else the
    plugin binary itself, which is the same program."""
    plugin = _tool("docker-compose")
    docker = shutil.which("docker")
    if docker is None:
        return [plugin]
    plugins = tmp_path / "docker-config" / "cli-plugins"
    plugins.mkdir(parents=True)
    (plugins / "docker-compose").symlink_to(plugin)
    return [docker, "compose"]


def _compose(tmp_path: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = _compose_command(tmp_path)
    full_env = {
        key: value
        for key, value in os.environ.items()
        if key not in SECRETS and not key.startswith(("APP_", "METRICS_", "PUBLIC_"))
    }
    full_env.update(env, DOCKER_CONFIG=str(tmp_path / "docker-config"))
    return subprocess.run(
        [*command, "--project-directory", str(ROOT), "-f", str(ROOT / "docker-compose.yml"), *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
    )


def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [_tool("hadolint"), "--no-color", "--failure-threshold", "info", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_does_flag_a_bad_dockerfile(tmp_path: Path) -> None:
    """Guard against a linter that silently checks nothing."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y curl\n")
    result = subprocess.run([_tool("hadolint"), "--no-color", str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "DL3007" in result.stdout


def test_dockerfile_contract() -> None:
    text = (ROOT / "Dockerfile").read_text()
    images = re.findall(r"^ARG \w+_IMAGE=(\S+)$", text, re.M)
    assert images, "base images are declared as ARGs"
    for image in images:
        assert re.search(r":\d+(\.\d+)+-", image), f"{image} is not pinned to a version tag"
    stages = re.findall(r"^FROM \S+ AS (\w+)$", text, re.M)
    assert stages[-1] == "runtime" and len(stages) >= 3, "multi-stage, ending in the runtime stage"
    runtime = text.split("AS runtime", 1)[1]
    assert re.search(r"^USER 10001", runtime, re.M), "the runtime runs as a non-root user"
    assert "bun" not in runtime.split("COPY --from=build")[0], "no build tools in the runtime image"
    assert "/healthz/live" in runtime and "HEALTHCHECK" in runtime
    assert 'CMD ["sh", "-c", "python -m app.prestart && exec python -m app.serve"]' in runtime
    assert not re.search(r"(SECRET_KEY|PASSWORD|TOKEN)=", text), "no secret is baked into the image"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".env" in ignored and ".git" in ignored


def test_compose_file_is_valid_and_has_the_production_topology(tmp_path: Path) -> None:
    result = _compose(tmp_path, "config", "--format", "json", env=SECRETS)
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    services_ = config["services"]
    assert {"app", "postgres", "redis", "minio"} <= set(services_)
    for name in ("app", "postgres", "redis", "minio"):
        assert services_[name].get("healthcheck", {}).get("test"), f"{name} has no health check"
    for name in ("app", "postgres", "redis", "minio"):
        assert any(v.get("type") == "volume" for v in services_[name].get("volumes", [])), f"{name} has no volume"
    app = services_["app"]
    environment = app["environment"]
    assert environment["DATABASE_URL"].startswith("postgresql+psycopg://lorastudio:pg-test@postgres:5432/")
    assert environment["REDIS_URL"] == "redis://redis:6379/0"
    assert environment["STORAGE_BACKEND"] == "s3" and environment["S3_ENDPOINT_URL"] == "http://minio:9000"
    assert int(environment["GRANIAN_WORKERS"]) >= 2, "several workers, as in production"
    conditions = {name: dep["condition"] for name, dep in app["depends_on"].items()}
    assert conditions == {
        "postgres": "service_healthy",
        "redis": "service_healthy",
        "minio-init": "service_completed_successfully",
    }
    assert "/healthz/ready" in " ".join(app["healthcheck"]["test"])
    assert app["build"]["context"] == str(ROOT)


def test_compose_refuses_to_start_without_secrets(tmp_path: Path) -> None:
    result = _compose(tmp_path, "config", "--quiet", env={})
    assert result.returncode != 0
    for name in SECRETS:
        assert f"required variable {name} is missing" in result.stderr


@pytest.mark.skipif(shutil.which("docker") is None, reason="the docker CLI is not installed")
def test_docker_compose_plugin_runs_without_an_engine(tmp_path: Path) -> None:
    result = _compose(tmp_path, "version", env={})
    assert result.returncode == 0 and "Docker Compose version" in result.stdout
