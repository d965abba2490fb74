"""Browser tests: Playwright driving Debian's chromium against the live ASGI server."""
