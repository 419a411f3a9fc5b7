"""A standalone imitation of WhatsApp Web for development, demos and tests.

Not a Django app: it has its own ASGI app (`apps.simulator.app:app`), its own port and its own
in-memory state, so the sender driver can be exercised end to end without a phone. Nothing in
Chorus imports it; the driver keeps its own selectors and talks to it only through a browser.
Run it with `python -m apps.simulator --port 8001`.
"""
