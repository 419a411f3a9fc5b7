"""Control and inspection API under /_sim/: what tests, benchmarks and the /phone page call.

Each handler checks its input, calls one `SimulatorState` method and answers JSON; refusals are
`SimulatorError`s rendered as `{"error": {"code", "message"}}` with their HTTP status.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from apps.simulator.records import SimulatorError
from apps.simulator.state import SimulatorState

logger = logging.getLogger(__name__)


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise SimulatorError("bad_json", "body must be JSON") from exc
    if not isinstance(data, dict):
        raise SimulatorError("bad_json", "body must be a JSON object")
    return data


async def control_reset(request: Request, state: SimulatorState) -> Response:
    state.reset()
    logger.info("simulator.reset")
    return JSONResponse({"ok": True})


async def control_config(request: Request, state: SimulatorState) -> Response:
    if request.method == "POST":
        state.config.update(await json_body(request))
    return JSONResponse(state.config.as_dict())


async def control_link(request: Request, state: SimulatorState) -> Response:
    data = await json_body(request)
    account, token = state.link(
        payload=str(data.get("ref", "")), phone=str(data.get("phone", "")), name=data.get("name"), now=time.time()
    )
    logger.info("simulator.linked", extra={"phone": account.phone})
    return JSONResponse({"phone": account.phone, "session": token})


async def control_pairings(request: Request, state: SimulatorState) -> Response:
    now = time.time()
    pairings = [
        {"ref": p.payload, "stalled": p.stalled, "refreshes": p.refreshes, "age_s": round(now - p.created_at, 1)}
        for p in state.pairings_pending(now)
    ]
    return JSONResponse({"pairings": pairings})


async def control_crash(request: Request, state: SimulatorState) -> Response:
    data = await json_body(request)
    hit = state.crash(
        mode=str(data.get("mode", "blank")),
        target=str(data.get("target", "open")),
        phone=data.get("phone"),
        count=int(data.get("count", 1)),
    )
    return JSONResponse({"affected": hit})


async def control_accounts(request: Request, state: SimulatorState) -> Response:
    return JSONResponse({"accounts": [a.summary() for a in state.accounts.values()]})


async def control_account(request: Request, state: SimulatorState) -> Response:
    return JSONResponse(state.account(request.path_params["phone"]).summary())


async def control_messages(request: Request, state: SimulatorState) -> Response:
    account = state.account(request.path_params["phone"])
    now = time.time()
    return JSONResponse({"phone": account.phone, "messages": [m.record(now) for m in account.messages]})


async def control_media(request: Request, state: SimulatorState) -> Response:
    """The bytes of a message's attachment exactly as they arrived (404 when it has none, or
    the simulator restarted since: files are not kept in snapshots)."""
    account = state.account(request.path_params["phone"])
    message = account.by_id.get(request.path_params["message_id"])
    if message is None or message.media is None or message.media.data is None:
        raise SimulatorError("media_not_found", "no file for that message", status=404)
    return Response(message.media.data, media_type=message.media.mime)


async def control_incoming(request: Request, state: SimulatorState) -> Response:
    data = await json_body(request)
    message = state.incoming(
        phone=request.path_params["phone"],
        sender=str(data.get("from", "")),
        text=str(data.get("text", "")),
        name=data.get("name"),
        now=time.time(),
    )
    return JSONResponse(message.record(time.time()))


async def control_unlink(request: Request, state: SimulatorState) -> Response:
    data = await json_body(request)
    removed = state.unlink(phone=request.path_params["phone"], token=data.get("session"))
    logger.info("simulator.unlinked", extra={"phone": request.path_params["phone"], "sessions": removed})
    return JSONResponse({"unlinked_sessions": removed})


async def control_flags(request: Request, state: SimulatorState) -> Response:
    data = await json_body(request)
    account = state.flags_set(
        phone=request.path_params["phone"], banned=data.get("banned"), rate_limited=data.get("rate_limited")
    )
    return JSONResponse(account.summary())
