"""The WhatsApp Web driver (Playwright). Selectors live in `selectors.py` only."""
