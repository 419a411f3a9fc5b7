"""The attach flow: the Attach button, its hidden file inputs, the preview pane with a caption and
its own Send button, the bubble (image thumbnail or document chip) with its ticks, and what the
inspection API says about the file — its name, size, type and sha256, and its exact bytes."""

from __future__ import annotations

import hashlib
import json
import struct
import time
import urllib.error
import urllib.request
import zlib

from tests.conftest import stop
from tests.simulator.conftest import LINKED_PHONE, page_link, simulator_start

CONTACT = "447700900123"
COMPOSE = '#main footer div[contenteditable="true"][data-tab="10"]'
ATTACH = '#main footer button[title="Attach"]'
PHOTOS_INPUT = 'input[type="file"][accept^="image/"]'
DOCUMENT_INPUT = 'input[type="file"][accept="*"]'
EDITOR = 'div[data-testid="media-editor"]'
CAPTION = f'{EDITOR} div[contenteditable="true"][aria-label="Add a caption"]'
MEDIA_SEND = f'{EDITOR} div[role="button"][aria-label="Send"]'


def png_bytes(width: int = 4, height: int = 3, rgb: tuple[int, int, int] = (200, 30, 90)) -> bytes:
    """A real (tiny) PNG, so the page can draw its thumbnail."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def open_chat(simulator, page, phone: str = CONTACT) -> None:
    page.goto(f"{simulator.base_url}/send?phone={phone}")
    page.locator(COMPOSE).wait_for()


def wait_records(simulator, count: int, timeout: float = 5.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records = simulator.messages(LINKED_PHONE)
        if len(records) >= count:
            return records
        time.sleep(0.05)
    raise AssertionError(f"expected {count} messages, got {simulator.messages(LINKED_PHONE)}")


def raw_media(simulator, message_id: str) -> bytes:
    url = f"{simulator.base_url}/_sim/accounts/{LINKED_PHONE}/messages/{message_id}/media"
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def session_token(simulator) -> str:
    """A linked session for the page API, without a browser: start a pairing and "scan" it."""
    status, pairing = simulator.request("POST", "/_sim/api/pairing", {})
    assert status == 200
    return simulator.link(pairing["ref"], LINKED_PHONE)["session"]


def page_api(simulator, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(simulator.base_url + path, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_an_image_with_a_caption_arrives_once_with_its_exact_bytes_and_walks_every_tick(simulator, linked_page):
    simulator.configure(ack_delay_ms=500, deliver_delay_ms=500, read_delay_ms=500)
    image = png_bytes()
    open_chat(simulator, linked_page)

    linked_page.locator(ATTACH).click()
    linked_page.locator(PHOTOS_INPUT).set_input_files(
        files=[{"name": "offer.png", "mimeType": "image/png", "buffer": image}]
    )
    caption = linked_page.locator(CAPTION)
    caption.wait_for()
    assert linked_page.locator(f"{EDITOR} img.media-preview-image").get_attribute("alt") == "offer.png"
    assert simulator.messages(LINKED_PHONE) == []  # nothing goes before Send
    caption.press_sequentially("Spring sale 🌸")
    linked_page.locator(MEDIA_SEND).click()

    assert linked_page.locator(EDITOR).count() == 0
    bubble = linked_page.locator("div.message-out")
    bubble.locator('span[data-icon="msg-time"]').wait_for(timeout=1000)
    bubble.locator('span[data-icon="msg-check"]').wait_for(timeout=3000)
    bubble.locator('span[data-icon="msg-dblcheck"][aria-label=" Read "]').wait_for(timeout=3000)
    assert bubble.locator("div.copyable-text span.selectable-text").inner_text() == "Spring sale 🌸"
    thumb = bubble.locator('div[data-testid="image-thumb"] img')
    assert thumb.evaluate("img => img.complete && img.naturalWidth") == 4

    (record,) = wait_records(simulator, 1)
    assert (record["chat"], record["text"], record["status"]) == (CONTACT, "Spring sale 🌸", "read")
    assert record["media"] == {
        "name": "offer.png",
        "mime": "image/png",
        "size": len(image),
        "sha256": hashlib.sha256(image).hexdigest(),
        "kind": "image",
    }
    assert bubble.get_attribute("data-id") == record["data_id"]
    assert raw_media(simulator, record["id"]) == image
    assert record["sent_at"] < record["delivered_at"] < record["read_at"]


def test_a_document_without_a_caption_shows_as_a_chip_and_in_the_chat_list_by_its_name(simulator, linked_page):
    document = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
    open_chat(simulator, linked_page)

    linked_page.locator(ATTACH).click()
    linked_page.locator(DOCUMENT_INPUT).set_input_files(
        files=[{"name": "price list.pdf", "mimeType": "application/pdf", "buffer": document}]
    )
    linked_page.locator(f"{EDITOR} .media-preview-document").wait_for()
    linked_page.locator(CAPTION).press("Enter")

    chip = linked_page.locator('div.message-out div[data-testid="document-thumb"]')
    chip.wait_for()
    assert chip.locator("span.doc-name").inner_text() == "price list.pdf"
    assert linked_page.locator("div.message-out span.selectable-text").count() == 0
    linked_page.locator(
        'div.message-out span[data-icon="msg-check"], div.message-out span[data-icon="msg-dblcheck"]'
    ).first.wait_for()
    row = linked_page.locator(f'#pane-side div[role="listitem"][data-chat="{CONTACT}"]')
    row.locator('span[data-icon="status-document"]').wait_for()
    assert row.locator('[data-testid="last-msg-status"] span[title]').get_attribute("title") == "price list.pdf"

    (record,) = wait_records(simulator, 1)
    assert record["text"] == ""
    assert (record["media"]["kind"], record["media"]["size"]) == ("document", len(document))
    assert raw_media(simulator, record["id"]) == document


def test_a_caption_keeps_its_lines_and_closing_the_preview_sends_nothing(simulator, linked_page):
    image = png_bytes(rgb=(10, 120, 10))
    open_chat(simulator, linked_page)

    linked_page.locator(ATTACH).click()
    linked_page.locator(PHOTOS_INPUT).set_input_files(
        files=[{"name": "a.png", "mimeType": "image/png", "buffer": image}]
    )
    linked_page.locator(CAPTION).wait_for()
    linked_page.locator(f'{EDITOR} div[role="button"][aria-label="Close"]').click()
    assert linked_page.locator(EDITOR).count() == 0
    linked_page.locator(COMPOSE).wait_for()

    linked_page.locator(ATTACH).click()
    linked_page.locator(PHOTOS_INPUT).set_input_files(
        files=[{"name": "b.png", "mimeType": "image/png", "buffer": image}]
    )
    caption = linked_page.locator(CAPTION)
    caption.press_sequentially("line one")
    caption.press("Shift+Enter")
    caption.press_sequentially("line two")
    caption.press("Enter")

    records = wait_records(simulator, 1)
    # Only the second file went: closing the preview of the first sent nothing.
    assert [(m["text"], m["media"]["name"]) for m in records] == [("line one\nline two", "b.png")]
    assert linked_page.locator("div.message-out").count() == 1


def test_the_page_api_refuses_uploads_without_a_session_and_unknown_uploads_record_nothing(simulator):
    image = png_bytes()
    headers = {"Content-Type": "image/png", "X-Sim-Filename": "offer.png"}

    status, body = page_api(simulator, "POST", "/_sim/api/media", image, headers)
    assert (status, body["error"]["code"]) == (401, "logged_out")

    token = session_token(simulator)
    status, body = page_api(
        simulator,
        "POST",
        "/_sim/api/messages",
        b'{"id": "3EB0AAAABBBBCCCCDDDD", "chat": "447700900123", "text": "x", "media": "nope"}',
        {"Content-Type": "application/json", "X-Sim-Session": token},
    )
    assert (status, body["error"]["code"]) == (404, "upload_not_found")
    status, body = page_api(simulator, "POST", "/_sim/api/media", b"", {**headers, "X-Sim-Session": token})
    assert (status, body["error"]["code"]) == (400, "empty")
    assert simulator.messages(LINKED_PHONE) == []

    status, upload = page_api(simulator, "POST", "/_sim/api/media", image, {**headers, "X-Sim-Session": token})
    assert status == 200
    assert (upload["name"], upload["size"], upload["sha256"]) == (
        "offer.png",
        len(image),
        hashlib.sha256(image).hexdigest(),
    )
    message = (
        b'{"id": "3EB0AAAABBBBCCCCDDDE", "chat": "447700900123", "text": "", "media": "%s"}' % upload["id"].encode()
    )
    status, sent = page_api(
        simulator, "POST", "/_sim/api/messages", message, {"Content-Type": "application/json", "X-Sim-Session": token}
    )
    assert (status, sent["media"]["kind"]) == (200, "image")
    # An upload goes with one message only.
    again = message.replace(b"DDDE", b"DDDF")
    status, body = page_api(
        simulator, "POST", "/_sim/api/messages", again, {"Content-Type": "application/json", "X-Sim-Session": token}
    )
    assert (status, body["error"]["code"]) == (404, "upload_not_found")
    assert [m["media"]["sha256"] for m in simulator.messages(LINKED_PHONE)] == [hashlib.sha256(image).hexdigest()]


def test_a_restart_keeps_what_was_sent_but_not_the_file(tmp_path, new_context):
    state_file = tmp_path / "sim-state.json"
    first = simulator_start(args=["--state-file", str(state_file)])
    port = int(first.base_url.rsplit(":", 1)[1])
    image = png_bytes()
    try:
        page = new_context().new_page()
        page_link(first, page, LINKED_PHONE)
        open_chat(first, page)
        page.locator(ATTACH).click()
        page.locator(PHOTOS_INPUT).set_input_files(
            files=[{"name": "offer.png", "mimeType": "image/png", "buffer": image}]
        )
        page.locator(CAPTION).press_sequentially("Kept")
        page.locator(MEDIA_SEND).click()
        (before,) = wait_records(first, 1)
        page.context.close()
    finally:
        stop(first.process)

    second = simulator_start(args=["--state-file", str(state_file)], port=port)
    try:
        (after,) = second.messages(LINKED_PHONE)
        assert (after["id"], after["text"], after["media"]) == (before["id"], "Kept", before["media"])
        status, body = second.request("GET", f"/_sim/accounts/{LINKED_PHONE}/messages/{after['id']}/media")
        assert (status, body["error"]["code"]) == (404, "media_not_found")
    finally:
        stop(second.process)
