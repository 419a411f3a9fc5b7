"""The temporary copy of an attachment (storage without local paths) never outlives its send,
even when the send times out while the file is still being copied."""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from pathlib import Path

import pytest

from apps.senders.driver.session import attachments


def test_a_copy_still_being_made_when_the_send_times_out_is_removed_once_made(monkeypatch):
    made: list[Path] = []
    finished = threading.Event()

    def slow_open(name: str):
        time.sleep(0.3)  # copying a large file
        folder = Path(tempfile.mkdtemp(prefix="chorus-media-test-"))
        (folder / "offer.png").write_bytes(b"x")
        made.append(folder)
        finished.set()
        return attachments.MediaFile(path=folder / "offer.png", name="offer.png", mime="image/png", size=1), folder

    monkeypatch.setattr(attachments, "_media_open", slow_open)

    async def send() -> None:
        async with attachments.stored_media("templates/t/offer.png"):
            pytest.fail("the block must not run: the send timed out first")

    async def scenario() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(send(), timeout=0.05)
        # The copying thread finishes after the timeout; its done-callback runs on this loop.
        while not finished.is_set():
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.05)

    asyncio.run(scenario())

    assert len(made) == 1 and not made[0].exists()
