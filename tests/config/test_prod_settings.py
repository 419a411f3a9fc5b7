"""Production settings refuse to start without their secrets and log JSON (Django, Celery, uvicorn)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {
    "SECRET_KEY": "s" * 50,
    "FIELD_ENCRYPTION_KEY": "k" * 44,
    "DATABASE_URL": "postgres://u@127.0.0.1:1/x",
    "REDIS_URL": "redis://127.0.0.1:1/0",
}
# Variables of a developer's shell that would change what these tests observe.
IGNORED_ENV = {*SECRETS, "DJANGO_SETTINGS_MODULE", "LOG_JSON", "LOG_LEVEL"}
SERVER_LOGGERS = ("celery", "celery.task", "uvicorn", "uvicorn.error", "uvicorn.access")


def run_with_prod_settings(
    env_overrides: dict[str, str], code: str, *, before_setup: str = ""
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in IGNORED_ENV}
    # A developer's .env (DEBUG, LOG_JSON, their own secrets) must not leak into these checks.
    env["CHORUS_READ_DOTENV"] = "0"
    env.update(env_overrides)
    setup = "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings.prod'; django.setup();"
    return subprocess.run(
        [sys.executable, "-c", before_setup + setup + code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def load_prod_settings(env_overrides: dict[str, str]) -> subprocess.CompletedProcess:
    return run_with_prod_settings(
        env_overrides,
        "from django.conf import settings; print(settings.LOGGING['handlers']['console']['formatter'], settings.DEBUG)",
    )


def test_prod_starts_with_all_secrets_and_logs_json():
    result = load_prod_settings(SECRETS)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "json False"


def test_prod_refuses_to_start_without_each_secret():
    for missing in SECRETS:
        env = {k: v for k, v in SECRETS.items() if k != missing}
        result = load_prod_settings(env)
        assert result.returncode != 0
        assert f"Missing required environment variables: {missing}" in result.stderr


def test_settings_read_dotenv_unless_told_not_to():
    """The switch these tests stand on: with CHORUS_READ_DOTENV=0 the settings never open .env."""
    count_reads = (
        "import environ; reads = [];"
        "environ.Env.read_env = classmethod(lambda cls, *args, **kwargs: reads.append(args));"
    )
    told_not_to = run_with_prod_settings(SECRETS, "print(len(reads))", before_setup=count_reads)
    by_default = run_with_prod_settings(
        {**SECRETS, "CHORUS_READ_DOTENV": "1"}, "print(len(reads))", before_setup=count_reads
    )

    assert (told_not_to.stdout.strip(), by_default.stdout.strip()) == ("0", "1"), told_not_to.stderr + by_default.stderr


def test_celery_and_uvicorn_log_json_through_the_console_handler():
    code = (
        "import logging; from django.conf import settings; from config.celery import app;"
        "print(app.conf.worker_hijack_root_logger, flush=True);"
        f"[logging.getLogger(name).warning('probe %s', name) for name in {SERVER_LOGGERS!r}]"
    )
    result = run_with_prod_settings(SECRETS, code)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    probes = [(line["name"], line["message"]) for line in lines if line["message"].startswith("probe ")]
    assert probes == [(name, f"probe {name}") for name in SERVER_LOGGERS]
