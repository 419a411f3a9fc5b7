"""The simulator's ASGI app: the WhatsApp-Web-like pages, their JSON API and the control API.

Three groups of routes:
- pages: `/` and `/send` (the app shell; JavaScript draws the QR or the logged-in screen),
  `/phone` (a phone-like page to "scan" pending QR codes by hand), assets under /_sim/static/;
- page API under /_sim/api/ (what the page itself calls; authenticated by the session token the
  page keeps in IndexedDB and sends in the `X-Sim-Session` header);
- control and inspection API under /_sim/ for tests, benchmarks and demos (`control.py`).
Slow-network latency applies to pages, assets and the page API, never to the control API.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from apps.simulator.config import ConfigError, SimulatorConfig
from apps.simulator.control import (
    control_account,
    control_accounts,
    control_config,
    control_crash,
    control_flags,
    control_incoming,
    control_link,
    control_media,
    control_messages,
    control_pairings,
    control_reset,
    control_unlink,
    json_body,
)
from apps.simulator.records import MAX_UPLOAD_BYTES, Account, Pairing, SimulatorError, phone_digits, qr_matrix
from apps.simulator.state import SimulatorState, snapshot_write

logger = logging.getLogger(__name__)

WEB = Path(__file__).resolve().parent / "web"
SESSION_HEADER = "x-sim-session"
# An upload names its file here (URI-encoded), as the page's fetch of a File sends no name.
FILENAME_HEADER = "x-sim-filename"
SESSION_COOKIE = "wa_sim_session"
SESSION_COOKIE_MAX_AGE = 400 * 24 * 3600  # the longest a browser keeps a cookie
# A page's long-poll returns at least this often, so dead connections are noticed.
LONG_POLL_S = 20.0
SNAPSHOT_EVERY_S = 1.0
STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}

CRASH_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>WhatsApp</title></head>
<body><div id="sim-crash" data-testid="sim-crash" role="alert" style="font:16px sans-serif;margin:15vh auto;width:420px">
<h1>Aw, Snap!</h1><p>Something went wrong while displaying this webpage.</p><p>Error code: SIM_PAGE_CRASHED</p></div>
<script>%s</script></body></html>"""
CRASH_SCRIPTS = {"blank": 'throw new Error("simulated page crash");', "hang": "for (;;) {}"}


class Assets:
    """The page files, read once and served with a content hash so browsers cache them."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {p.name: p.read_bytes() for p in (WEB / "static").iterdir() if p.is_file()}
        digest = hashlib.sha256(b"".join(self.files[name] for name in sorted(self.files))).hexdigest()[:12]
        self.shell = self._page("shell.html", digest)
        self.phone = self._page("phone.html", digest)

    @staticmethod
    def _page(name: str, digest: str) -> str:
        return (WEB / name).read_text().replace("{{v}}", digest)


def create_app(config: SimulatorConfig | None = None) -> ASGIApp:
    """Build a simulator with its own state; `config` defaults to the `SIM_*` environment."""
    state = SimulatorState(config or SimulatorConfig.from_env())
    assets = Assets()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.load()
        saver = asyncio.create_task(_save_periodically(state))
        logger.info("simulator.started", extra={"accounts": len(state.accounts)})
        try:
            yield
        finally:
            saver.cancel()
            state.save()

    async def shell(request: Request) -> Response:
        return _shell(state, assets)

    async def phone(request: Request) -> Response:
        return HTMLResponse(assets.phone, headers={"Cache-Control": "no-store"})

    async def static(request: Request) -> Response:
        return _static(request.path_params["name"], assets)

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def favicon(request: Request) -> Response:
        return Response(status_code=204)

    routes = [
        Route("/", shell),
        Route("/send", shell),
        Route("/phone", phone),
        Route("/_sim/static/{name}", static),
        Route("/favicon.ico", favicon),
        # page API
        Route("/_sim/api/pairing", _bound(state, api_pairing_start), methods=["POST"]),
        Route("/_sim/api/pairing/{pairing_id}", _bound(state, api_pairing_poll)),
        Route("/_sim/api/pairing/{pairing_id}/reload", _bound(state, api_pairing_reload), methods=["POST"]),
        Route("/_sim/api/session", _bound(state, api_session)),
        Route("/_sim/api/poll", _bound(state, api_poll)),
        Route("/_sim/api/contact", _bound(state, api_contact)),
        Route("/_sim/api/chats", _bound(state, api_chats)),
        Route("/_sim/api/messages", _bound(state, api_send), methods=["POST"]),
        Route("/_sim/api/media", _bound(state, api_upload), methods=["POST"]),
        Route("/_sim/api/media/{message_id}", _bound(state, api_media)),
        # control and inspection API
        Route("/_sim/health", health),
        Route("/_sim/reset", _bound(state, control_reset), methods=["POST"]),
        Route("/_sim/config", _bound(state, control_config), methods=["GET", "POST"]),
        Route("/_sim/link", _bound(state, control_link), methods=["POST"]),
        Route("/_sim/pairings", _bound(state, control_pairings)),
        Route("/_sim/crash", _bound(state, control_crash), methods=["POST"]),
        Route("/_sim/accounts", _bound(state, control_accounts)),
        Route("/_sim/accounts/{phone}", _bound(state, control_account)),
        Route("/_sim/accounts/{phone}/messages", _bound(state, control_messages)),
        Route("/_sim/accounts/{phone}/messages/{message_id}/media", _bound(state, control_media)),
        Route("/_sim/accounts/{phone}/incoming", _bound(state, control_incoming), methods=["POST"]),
        Route("/_sim/accounts/{phone}/unlink", _bound(state, control_unlink), methods=["POST"]),
        Route("/_sim/accounts/{phone}/flags", _bound(state, control_flags), methods=["POST"]),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={SimulatorError: _simulator_error, ConfigError: _config_error},
    )
    app.state.sim = state
    return SlowNetwork(app, state)


class SlowNetwork:
    """ASGI middleware: delay page, asset and page-API requests by the configured latency."""

    def __init__(self, app: ASGIApp, state: SimulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        latency = self.state.config.latency_ms
        if latency and scope["type"] == "http":
            path = scope["path"]
            if not path.startswith("/_sim/") or path.startswith(("/_sim/api/", "/_sim/static/")):
                await asyncio.sleep(latency / 1000)
        await self.app(scope, receive, send)


async def _save_periodically(state: SimulatorState) -> None:
    while True:
        await asyncio.sleep(SNAPSHOT_EVERY_S)
        if state.dirty and state.config.state_file:
            state.dirty = False
            await asyncio.to_thread(snapshot_write, state.config.state_file, state.snapshot())


def _bound(state: SimulatorState, handler: Any) -> Any:
    async def endpoint(request: Request) -> Response:
        return await handler(request, state)

    return endpoint


async def _simulator_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SimulatorError)
    return JSONResponse({"error": {"code": exc.code, "message": str(exc)}}, status_code=exc.status)


async def _config_error(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": {"code": "bad_config", "message": str(exc)}}, status_code=400)


# --- pages ------------------------------------------------------------------------------------


def _shell(state: SimulatorState, assets: Assets) -> Response:
    crash = state.crash_page_load()
    if crash:
        logger.info("simulator.page_crashed", extra={"mode": crash})
        return HTMLResponse(CRASH_PAGE % CRASH_SCRIPTS[crash], headers={"Cache-Control": "no-store"})
    return HTMLResponse(assets.shell, headers={"Cache-Control": "no-store"})


def _static(name: str, assets: Assets) -> Response:
    body = assets.files.get(name)
    if body is None:
        return Response(status_code=404)
    return Response(
        body,
        media_type=STATIC_TYPES.get(Path(name).suffix, "application/octet-stream"),
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )


# --- page API ---------------------------------------------------------------------------------


def _pairing_view(pairing: Pairing, known: str | None) -> dict[str, Any]:
    view: dict[str, Any] = {"id": pairing.id, "ref": pairing.payload, "stalled": pairing.stalled}
    if pairing.payload != known:
        view["matrix"] = qr_matrix(pairing.payload)
    return view


async def api_pairing_start(request: Request, state: SimulatorState) -> Response:
    pairing = state.pairing_start(time.time())
    return JSONResponse(_pairing_view(pairing, None))


async def api_pairing_poll(request: Request, state: SimulatorState) -> Response:
    pairing = state.pairing_poll(request.path_params["pairing_id"], time.time())
    if pairing.linked_token:
        token, phone = pairing.linked_token, pairing.linked_phone
        state.pairing_finish(pairing.id)
        response = JSONResponse({"linked": True, "token": token, "phone": phone})
        response.set_cookie(SESSION_COOKIE, token, max_age=SESSION_COOKIE_MAX_AGE, path="/", samesite="lax")
        return response
    return JSONResponse(_pairing_view(pairing, request.query_params.get("known")))


async def api_pairing_reload(request: Request, state: SimulatorState) -> Response:
    pairing = state.pairing_reload(request.path_params["pairing_id"], time.time())
    return JSONResponse(_pairing_view(pairing, None))


def _page_account(request: Request, state: SimulatorState, *, cookie: bool = False) -> Account:
    """The account of the page's session (its header; `cookie`: or its cookie, for what the page
    loads by URL, like an image in a bubble)."""
    token = request.headers.get(SESSION_HEADER)
    if token is None and cookie:
        token = request.cookies.get(SESSION_COOKIE)
    account = state.account_for(token)
    if account is None:
        raise SimulatorError("logged_out", "this device is not linked", status=401)
    return account


def _me(account: Account) -> dict[str, Any]:
    return {
        "phone": account.phone,
        "name": account.name,
        "banned": account.banned,
        "rate_limited": account.rate_limited,
    }


async def api_session(request: Request, state: SimulatorState) -> Response:
    return JSONResponse(_me(_page_account(request, state)))


async def api_poll(request: Request, state: SimulatorState) -> Response:
    """Long-poll: answer at once when the page is behind, else when something changes."""
    params = request.query_params
    token = request.headers.get(SESSION_HEADER) or ""
    chat = phone_digits(params.get("chat"))
    try:
        since = float(params.get("since") or 0) / 1000
        # When the page last got the chat list: ticks shown in it since then are news.
        list_since = float(params.get("lsince") or 0) / 1000
        known_version = int(params.get("version") or 0)
    except ValueError as exc:
        raise SimulatorError("bad_params", "since, lsince and version are numbers") from exc
    deadline = time.time() + (LONG_POLL_S if params.get("wait") == "1" else 0)
    while True:
        now = time.time()
        account = state.account_for(token)
        if account is None:
            return JSONResponse({"logged_out": True}, status_code=401)
        session = account.sessions[token]
        if session.crash_mode:
            mode, session.crash_mode = session.crash_mode, None
            logger.info("simulator.page_crashed", extra={"mode": mode, "phone": account.phone})
            return JSONResponse({"crash": mode})
        if chat:
            state.chat_seen(account=account, chat=chat, now=now)
        messages = state.chat_changes(account=account, chat=chat, since=since, now=now) if chat else []
        list_changed = list_since > 0 and state.chat_list_changed(account=account, since=list_since, now=now)
        if messages or account.version != known_version or list_changed or now >= deadline:
            body: dict[str, Any] = {
                "now": int(now * 1000),
                "version": account.version,
                "me": _me(account),
                "messages": [m.bubble(now) for m in messages],
            }
            if account.version != known_version or list_changed:
                body["chats"] = state.chat_list(account=account, now=now)
            return JSONResponse(body)
        changes = [
            state.chat_next_change(account=account, chat=chat, now=now) if chat else None,
            state.chat_list_next_change(account=account, now=now),
        ]
        wake_at = min([deadline, *(t for t in changes if t is not None)])
        if await _wait_for_change(account.changed, wake_at - now, request):
            return Response(status_code=204)


async def _wait_for_change(event: asyncio.Event, timeout: float, request: Request) -> bool:
    """Wait for `event` or the timeout; True when the page went away meanwhile, so abandoned
    long-polls (a page navigating per message) do not pile up."""
    changed = asyncio.ensure_future(event.wait())
    gone = asyncio.ensure_future(_disconnected(request))
    done, pending = await asyncio.wait({changed, gone}, timeout=max(timeout, 0.0), return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    return gone in done


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def api_contact(request: Request, state: SimulatorState) -> Response:
    account = _page_account(request, state)
    raw = request.query_params.get("phone", "")
    phone = phone_digits(raw)
    on = state.on_whatsapp(raw)
    chat = account.chats.get(phone)
    return JSONResponse({"phone": phone, "on_whatsapp": on, "title": chat.title if chat else "+" + phone})


async def api_chats(request: Request, state: SimulatorState) -> Response:
    account = _page_account(request, state)
    chats = state.chat_list(account=account, now=time.time(), query=request.query_params.get("q", ""))
    return JSONResponse({"chats": chats})


async def api_send(request: Request, state: SimulatorState) -> Response:
    account = _page_account(request, state)
    data = await json_body(request)
    message = state.send(
        account=account,
        message_id=str(data.get("id", "")),
        chat=phone_digits(data.get("chat")),
        text=str(data.get("text", "")),
        now=time.time(),
        media_id=str(data.get("media") or ""),
    )
    # The account's version once it holds the message: a chat list of that version or later
    # shows it (the page keeps its own row for the chat until then).
    return JSONResponse({**message.bubble(time.time()), "version": account.version})


async def api_upload(request: Request, state: SimulatorState) -> Response:
    """The page uploads the file of a message it is about to send (the body is the file)."""
    account = _page_account(request, state)
    data = await _read_limited(request, MAX_UPLOAD_BYTES)
    upload_id, attachment = state.upload(
        account=account,
        name=unquote(request.headers.get(FILENAME_HEADER, "")),
        mime=request.headers.get("content-type", "").split(";", 1)[0].strip(),
        data=data,
    )
    logger.info("simulator.uploaded", extra={"phone": account.phone, "size": attachment.size})
    return JSONResponse({"id": upload_id, **attachment.record()})


async def api_media(request: Request, state: SimulatorState) -> Response:
    """The file of one of the account's messages, for its bubble (an image's thumbnail)."""
    account = _page_account(request, state, cookie=True)
    message = account.by_id.get(request.path_params["message_id"])
    if message is None or message.media is None or message.media.data is None:
        raise SimulatorError("media_not_found", "no file for that message", status=404)
    return Response(message.media.data, media_type=message.media.mime, headers={"Cache-Control": "private"})


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise SimulatorError("too_large", "the file is too large", status=413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise SimulatorError("too_large", "the file is too large", status=413)
        chunks.append(chunk)
    return b"".join(chunks)


app = create_app()
