"""Linking a device: the pairing QR code on screen (reloaded when it expired) and, once the
phone scanned it, the linked account's own number."""

from __future__ import annotations

import re

from playwright.async_api import Error as PlaywrightError

from apps.senders.driver import selectors as S
from apps.senders.driver.session.errors import BrowserCrashed
from apps.senders.driver.session.page import PageSession


class Linking(PageSession):
    """Pairing: the QR code to scan and the number that scanned it."""

    async def qr_payload(self) -> str | None:
        """The pairing payload on the QR screen; clicks "reload" when the code expired."""
        page = self._page()
        try:
            reload_button = page.locator(S.QR_RELOAD_BUTTON)
            if await reload_button.count():
                await reload_button.first.click()
            container = page.locator(S.QR_CONTAINER)
            if not await container.count():
                return None
            return await container.first.get_attribute("data-ref") or None
        except PlaywrightError as exc:
            raise BrowserCrashed(str(exc)) from exc

    async def own_number(self) -> str:
        """The linked account's phone (digits), from the page's local storage."""
        page = self._page()
        try:
            raw = await page.evaluate(
                "(keys) => { for (const k of keys) { const v = localStorage.getItem(k); if (v) return v; } return ''; }",
                list(S.OWN_NUMBER_STORAGE_KEYS),
            )
        except PlaywrightError as exc:
            raise BrowserCrashed(str(exc)) from exc
        digits = re.match(r"^\"?(\d+)", raw or "")
        return digits.group(1) if digits else ""
