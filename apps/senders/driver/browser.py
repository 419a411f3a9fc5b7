"""Launching Chromium for a profile. The path is configurable (CHROMIUM_PATH) so users with
internet can use Playwright's own browser and hosts like Debian servers the system one."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from django.conf import settings

# Flags for headless servers: no GPU, no sandbox when root, and none of Chromium's background
# calls home (they fail on closed networks and waste memory).
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    "--disable-default-apps",
    "--mute-audio",
    "--disable-features=Translate,MediaRouter,OptimizationHints",
    "--renderer-process-limit=2",
]
DEBIAN_CHROMIUM = "/usr/bin/chromium"


def chromium_executable() -> str | None:
    """CHROMIUM_PATH, else None when Playwright's own Chromium is installed (Playwright finds
    it), else the system chromium."""
    if settings.CHROMIUM_PATH:
        return settings.CHROMIUM_PATH
    cache_dir = os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or os.path.expanduser("~/.cache/ms-playwright")
    if os.path.isdir(cache_dir) and any(name.startswith("chromium") for name in os.listdir(cache_dir)):
        return None
    return shutil.which("chromium") or shutil.which("chromium-browser") or DEBIAN_CHROMIUM


def launch_args() -> list[str]:
    """Chromium refuses to run its sandbox as root, and containers under Docker's default
    seccomp profile cannot create the namespaces it needs (CHROMIUM_SANDBOX=0 there)."""
    args = list(CHROMIUM_ARGS)
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    if as_root or not settings.CHROMIUM_SANDBOX:
        args.append("--no-sandbox")
    return args


@dataclass(frozen=True)
class ProxySettings:
    server: str
    username: str | None = None
    password: str | None = None

    def as_playwright(self) -> dict[str, str]:
        proxy = {"server": self.server}
        if self.username:
            proxy["username"] = self.username
            proxy["password"] = self.password or ""
        return proxy


def parse_proxy(url: str) -> ProxySettings | None:
    """`scheme://user:pass@host:port` → Playwright proxy settings (credentials separate)."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "socks5") or not parts.hostname:
        raise ValueError("Proxy must look like http://host:port, https://host:port or socks5://host:port")
    server = f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}"
    return ProxySettings(
        server=server,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )
