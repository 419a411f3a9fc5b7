"""Production settings refuse to start without their secrets and log JSON."""

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


def load_prod_settings(env_overrides: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in SECRETS and k != "DJANGO_SETTINGS_MODULE"}
    env.update(env_overrides)
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings.prod'; django.setup();"
        "from django.conf import settings; print(settings.LOGGING['handlers']['console']['formatter'], settings.DEBUG)"
    )
    # cwd without a .env file so nothing leaks in from a developer's checkout
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


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
