"""config/browser.py: where `make` looks for Chromium before it would install one."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config import browser

ROOT = Path(__file__).resolve().parents[2]


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def no_browser_settings(monkeypatch, tmp_path):
    monkeypatch.delenv("CHROMIUM_PATH", raising=False)
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path / "no-playwright-browsers"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))


def test_chromium_path_wins_over_everything(no_browser_settings, monkeypatch, tmp_path):
    chosen = executable(tmp_path / "opt" / "chrome")
    executable(tmp_path / "playwright" / "chromium-1200" / "chrome")
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path / "playwright"))
    monkeypatch.setenv("CHROMIUM_PATH", str(chosen))

    assert browser.find() == str(chosen)


def test_a_chromium_path_that_is_not_there_is_an_error_not_an_install(no_browser_settings, monkeypatch, tmp_path):
    monkeypatch.setenv("CHROMIUM_PATH", str(tmp_path / "missing" / "chrome"))

    with pytest.raises(browser.BrowserMissing, match="is not an executable file"):
        browser.find()


def test_playwrights_own_chromium_comes_before_the_system_one(no_browser_settings, monkeypatch, tmp_path):
    executable(tmp_path / "playwright" / "chromium_headless_shell-1200" / "chrome")
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path / "playwright"))
    executable(tmp_path / "bin" / "chromium")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))

    assert browser.find() == browser.PLAYWRIGHT


def test_chromium_browser_on_path_is_found(no_browser_settings, monkeypatch, tmp_path):
    found = executable(tmp_path / "bin" / "chromium-browser")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))

    assert browser.find() == str(found)


def test_ensure_installs_nothing_when_a_chromium_is_there(tmp_path):
    chosen = executable(tmp_path / "chrome")
    env = {**os.environ, "CHROMIUM_PATH": str(chosen)}

    result = subprocess.run(
        [sys.executable, "config/browser.py", "ensure"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"[browser] using {chosen}\n"
