"""Make sure a Chromium exists for the sender workers and the browser tests (`make run`, `make test`).

    python config/browser.py ensure    find one, or install one
    python config/browser.py where     print what would be used ("playwright" for its own build)

Looks where the driver looks (apps/senders/driver/browser.py, chromium_executable()): CHROMIUM_PATH,
else Playwright's own Chromium under ~/.cache/ms-playwright (or PLAYWRIGHT_BROWSERS_PATH), else
`chromium` / `chromium-browser` on PATH. When none is found it installs one: the distribution's
package with apt-get when running as root (works without access to Playwright's download
servers), otherwise `playwright install chromium`. Imports nothing from Django, like
config/devservices.py, so it runs before the database exists.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config.devservices import load_dotenv

PLAYWRIGHT = "playwright"  # "use Playwright's own build" (the driver passes no executable path)
SYSTEM_NAMES = ("chromium", "chromium-browser")
APT_PACKAGE = "chromium"
DEBIAN_CHROMIUM = "/usr/bin/chromium"


class BrowserMissing(RuntimeError):
    pass


def log(message: str) -> None:
    print(f"[browser] {message}", flush=True)  # noqa: T201


def playwright_cache() -> Path:
    return Path(os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or Path.home() / ".cache" / "ms-playwright")


def find() -> str | None:
    """The Chromium the driver would launch: a path, PLAYWRIGHT, or None when there is none.
    A CHROMIUM_PATH that does not exist is an error, not a reason to install another one."""
    configured = os.environ.get("CHROMIUM_PATH", "")
    if configured:
        if not os.access(configured, os.X_OK):
            raise BrowserMissing(f"CHROMIUM_PATH={configured} is not an executable file")
        return configured
    cache = playwright_cache()
    if cache.is_dir() and any(entry.name.startswith("chromium") for entry in cache.iterdir()):
        return PLAYWRIGHT
    for name in SYSTEM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    # The driver's last resort, which may be installed without being on this PATH.
    return DEBIAN_CHROMIUM if os.access(DEBIAN_CHROMIUM, os.X_OK) else None


def _run(cmd: list[str]) -> bool:
    log("$ " + " ".join(cmd))
    return subprocess.run(cmd, check=False).returncode == 0  # noqa: S603 - fixed commands


def install() -> None:
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    apt = shutil.which("apt-get")
    if is_root and apt:
        os.environ.setdefault("DEBIAN_FRONTEND", "noninteractive")
        log(f"installing the {APT_PACKAGE} package")
        if _run([apt, "update", "-qq"]) and _run([apt, "install", "-y", "-qq", APT_PACKAGE]) and find():
            return
        log(f"apt-get could not install {APT_PACKAGE}; trying Playwright's own build")
    # The Python package's CLI (requirements/base.txt pins playwright); needs internet access.
    if _run([sys.executable, "-m", "playwright", "install", "chromium"]) and find():
        return
    raise BrowserMissing(
        "no Chromium could be installed; install one (apt-get install chromium) "
        "or point CHROMIUM_PATH at a Chromium/Chrome executable"
    )


def ensure() -> str:
    found = find()
    if found is None:
        log("no Chromium found (CHROMIUM_PATH, Playwright's browsers, chromium on PATH)")
        install()
        found = find()
    log("using Playwright's own Chromium" if found == PLAYWRIGHT else f"using {found}")
    return found or ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["ensure", "where"])
    args = parser.parse_args()
    load_dotenv()
    try:
        if args.command == "ensure":
            ensure()
        else:
            print(find() or "none")  # noqa: T201
    except BrowserMissing as exc:
        log(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
