"""`python -m apps.simulator [--host H] [--port P] [--state-file F]` serves the simulator."""

from __future__ import annotations

import argparse
import os

import uvicorn

from apps.simulator.app import create_app
from apps.simulator.config import SimulatorConfig

SHUTDOWN_GRACE_S = 1


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m apps.simulator", description="WhatsApp Web simulator")
    parser.add_argument("--host", default=os.environ.get("SIM_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("SIM_PORT", "8001")))
    parser.add_argument("--state-file", default=None, help="JSON snapshot that keeps accounts across restarts")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()
    config = SimulatorConfig.from_env()
    if args.state_file:
        config.update({"state_file": args.state_file}, allow_fixed=True)
    uvicorn.run(
        create_app(config),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=False,
        # Open pages hold long-polls; do not wait for them to end before stopping.
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )


if __name__ == "__main__":
    main()
