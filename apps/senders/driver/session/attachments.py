"""Sending a file with a caption through WhatsApp Web's attach flow.

The file is the ledger row's `media`: a name in Django's default storage. It is read before the
browser does anything: a file that is gone or unreadable is `MediaMissing` (final — a retry
would meet the same missing file), never a retry loop. Storage without local paths (object
storage) is copied to a temporary file, removed once the page has taken the file.

In the page: the composer's Attach button, the file set on the menu's hidden input (photos and
videos get a thumbnail, anything else goes as a document), the personalised text typed as the
caption, then the preview's Send button. From there on it is a text message's path: the bubble
the page shows on its clock is tracked until its sent tick, and a message whose tick does not
come is reconciled, not resent. A message with an attachment is always sent on its own (the
caller does not pipeline it). Neither the file's content nor the caption is logged."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mimetypes
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import default_storage
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from apps.senders.driver import selectors as S
from apps.senders.driver.session.errors import BrowserCrashed, DriverError, MediaMissing, StepTimeout
from apps.senders.driver.session.sending import SUBMITTED_ID_JS, WATCH_SUBMIT_JS, Sending, SubmitNote
from apps.senders.driver.session.ticks import TRACKER_CONFIG, SendReceipt, Submission

logger = logging.getLogger(__name__)

# Sent with a thumbnail (the photos & videos input); any other type goes as a document.
THUMBNAIL_KINDS = frozenset({"image", "video"})


@dataclass(frozen=True)
class MediaFile:
    """The attachment as a local file the browser can read."""

    path: Path
    name: str
    mime: str
    size: int

    @property
    def kind(self) -> str:
        major = self.mime.split("/", 1)[0]
        return major if major in THUMBNAIL_KINDS else "document"


def _media_open(name: str) -> tuple[MediaFile, Path | None]:
    """The stored file `name` as a local file, and the temporary folder to remove afterwards
    (None when storage has the file on local disk). Blocking: run it in a thread."""
    basename = PurePosixPath(name).name
    if not basename:
        raise MediaMissing("the message names no attachment file")
    mime = mimetypes.guess_type(basename)[0] or "application/octet-stream"
    try:
        if not default_storage.exists(name):
            raise MediaMissing("the attachment is no longer in storage")
        try:
            local: Path | None = Path(default_storage.path(name))
        except NotImplementedError:
            local = None
        if local is not None and not local.is_file():
            # A path that is not on this disk (in-memory storage, another host's): copy it instead.
            local = None
        if local is not None:
            with local.open("rb") as handle:  # readable by this process?
                handle.read(1)
            folder = None
        else:
            folder = Path(tempfile.mkdtemp(prefix="chorus-media-"))
            local = folder / basename
            try:
                with default_storage.open(name, "rb") as source, local.open("wb") as target:
                    shutil.copyfileobj(source, target)
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise
        size = local.stat().st_size
    except (OSError, SuspiciousFileOperation) as exc:
        raise MediaMissing(f"the attachment cannot be read ({type(exc).__name__})") from exc
    if not size:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        raise MediaMissing("the attachment is empty")
    return MediaFile(path=local, name=basename, mime=mime, size=size), folder


@contextlib.asynccontextmanager
async def stored_media(name: str) -> AsyncIterator[MediaFile]:
    """The attachment `name` as a local file while the block runs (MediaMissing when it cannot
    be read)."""
    opening = asyncio.ensure_future(asyncio.to_thread(_media_open, name))
    try:
        media, folder = await asyncio.shield(opening)
    except asyncio.CancelledError:
        # Timed out while copying: the thread finishes anyway; its copy is removed when it does.
        opening.add_done_callback(_discard_copy)
        raise
    try:
        yield media
    finally:
        if folder is not None:
            await asyncio.to_thread(shutil.rmtree, folder, True)


def _discard_copy(opening: asyncio.Future) -> None:
    if opening.cancelled() or opening.exception() is not None:
        return
    _media, folder = opening.result()
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


class Attachments(Sending):
    """Sending a file with a caption: the attach flow, then a text message's tick tracking."""

    async def send_media(
        self,
        digits: str,
        caption: str,
        media: str,
        *,
        typing_delay_ms: int = 0,
        before_submit: Callable[[SubmitNote], Awaitable[None]] | None = None,
    ) -> SendReceipt:
        """Send the stored file `media` to the chat with `digits`, `caption` as its text; returns
        once the sent tick shows (`submit_media`, then `wait_sent` for it)."""
        submission = await self.submit_media(
            digits, caption, media, typing_delay_ms=typing_delay_ms, before_submit=before_submit
        )
        (result,) = await self.wait_sent([submission])
        if isinstance(result, DriverError):
            raise result
        return result

    async def submit_media(
        self,
        digits: str,
        caption: str,
        media: str,
        *,
        typing_delay_ms: int = 0,
        before_submit: Callable[[SubmitNote], Awaitable[None]] | None = None,
    ) -> Submission:
        """Attach the stored file `media` in the chat with `digits`, type `caption`, press the
        preview's Send and return once the page shows the message's bubble. MediaMissing before
        anything is opened when the file cannot be read; otherwise failures before Send are
        retryable and after it the message may be out, exactly as in `submit_text`."""
        self.submitted = False
        async with stored_media(media) as file:
            await self.open_chat(digits)
            page = self._page()
            try:
                await self._attach(file)
                await self._type_lines(caption, typing_delay_ms)
                send = page.locator(S.MEDIA_SEND_BUTTON).first
                await send.wait_for(state="visible")
                anchor = await page.evaluate(WATCH_SUBMIT_JS, TRACKER_CONFIG)
                if before_submit is not None:
                    await before_submit(SubmitNote(anchor=anchor or ""))
            except (PlaywrightError, DriverError) as exc:
                # The preview may still cover the chat: the next message opens its chat afresh.
                self._open_chat = None
                if isinstance(exc, DriverError):
                    raise
                if isinstance(exc, PlaywrightTimeout):
                    raise StepTimeout(f"attaching timed out: {exc}") from exc
                raise BrowserCrashed(f"attaching failed: {exc}") from exc
            # From here on the message may be out: no plain retries.
            self.submitted = True
            loop = asyncio.get_running_loop()
            submitted_at = loop.time()
            wa_id = ""
            try:
                await send.click()
                wa_id = await page.evaluate(SUBMITTED_ID_JS, self.sent_tick_timeout_ms)
            except PlaywrightError as exc:
                raise await self._after_submit_failure(f"no bubble after Send: {exc}", "") from exc
            if not wa_id:
                raise await self._after_submit_failure("the page showed no bubble for the message", "")
        logger.info("driver.media_submitted", extra={"kind": file.kind, "size": file.size})
        return Submission(
            wa_message_id=wa_id,
            digits=digits,
            submitted_at=submitted_at,
            deadline=submitted_at + self.sent_tick_timeout_ms / 1000,
        )

    async def _attach(self, file: MediaFile) -> None:
        """Attach → the menu's hidden input for the file's kind → the preview with its caption
        box focused for typing."""
        page = self._page()
        await page.locator(S.ATTACH_BUTTON).first.click()
        field = S.ATTACH_MEDIA_INPUT if file.kind in THUMBNAIL_KINDS else S.ATTACH_DOCUMENT_INPUT
        await page.locator(field).first.set_input_files(file.path)
        caption_box = page.locator(S.MEDIA_CAPTION_BOX).first
        await caption_box.click()
