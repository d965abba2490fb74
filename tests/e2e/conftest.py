"""Browser tests: Debian's chromium, driven by Playwright's sync API, against the whole
ASGI application (HTTP and websockets) served live.

The live server is daphne in a thread of the test process, started once per session (the
Twisted reactor cannot be restarted) and serving ``monitoring.asgi`` with the static files.
Being in the same process, it shares with the test the settings (change them with
pytest-django's ``settings`` fixture), the cache, the in-process channel layer and the test
database. Tests that use it get ``transactional_db``: what a test creates is committed, so
the server sees it, and everything is flushed after the test. On SQLite's in-memory test
database the server's threads use the test's own connection, as Django's
``LiveServerTestCase`` does; on PostgreSQL they open their own connections to the test
database.

For every browser test:

* ``asgi_live_server``: the server, with ``url`` ("http://127.0.0.1:PORT"), ``ws_url``,
  ``host``, ``port``, ``group_send(group, message)`` (a channel-layer send on the server's
  event loop, which works with the in-process layer too) and ``call(async_function, *args)``.
* ``browser``: chromium from /usr/bin/chromium, headless, with a fresh temporary profile,
  one per run of this package (Playwright is stopped after it: its sync API keeps an event
  loop registered in the test thread, which tests of other packages must not inherit);
  every test using it is skipped, with the reason, when that file is absent.
* ``page``: a page in a fresh context (its own cookies and storage, English, a 1280x900
  viewport, ``base_url`` set to the live server, so ``page.goto("/live/")`` works), with a
  10 s default timeout. On failure a screenshot and the page's HTML are saved in the test's
  ``tmp_path``. ``page_errors`` lists the page's uncaught errors and console errors.
* ``login(page, base_url, username, password=PASSWORD)``: signs in through the real login
  page; ``in_thread(function, *args)``: runs product code that needs its own event loop
  (``async_to_sync``, such as a broadcast) outside the test thread, where Playwright's loop
  is. Import them: ``from tests.e2e.conftest import in_thread, login``. While Playwright
  runs, the test thread may use the ORM (``DJANGO_ALLOW_ASYNC_UNSAFE`` is set for the
  package) but not ``async_to_sync``.

Bound each test module's time with ``pytestmark = pytest.mark.timeout(...)``.
"""

from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.db import connections
from django.test.utils import modify_settings, override_settings

from tests.conftest import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
DEFAULT_TIMEOUT_MS = 10_000


# --------------------------------------------------------------------------- live server


class LiveASGIServer:
    """Daphne serving the project's ASGI application in a background thread."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        self.port: int | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._server = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="asgi-live-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def start(self, timeout: float = 30) -> None:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"the live ASGI server did not start within {timeout} s")
        if self._error is not None:
            raise RuntimeError("the live ASGI server failed to start") from self._error

    def _serve(self) -> None:
        try:
            from channels.routing import get_default_application
            from daphne.endpoints import build_endpoint_description_strings
            from daphne.server import Server
            from twisted.internet import reactor

            self._server = Server(
                application=ASGIStaticFilesHandler(get_default_application()),
                endpoints=build_endpoint_description_strings(host=self.host, port=0),
                signal_handlers=False,
                verbosity=0,
            )
            reactor.callLater(0, self._wait_for_port)
            self._server.run()
        except BaseException as error:
            self._error = error
            self._ready.set()

    def _wait_for_port(self) -> None:
        from twisted.internet import reactor

        if self._server.listening_addresses:
            self.port = self._server.listening_addresses[0][1]
            self.loop = asyncio.get_event_loop()
            self._ready.set()
        else:
            reactor.callLater(0.02, self._wait_for_port)

    def stop(self) -> None:
        from twisted.internet import reactor

        if self._thread.is_alive():
            reactor.callFromThread(reactor.stop)
            self._thread.join(10)

    def call(self, async_function, *args, timeout: float = 10):
        """Run ``async_function(*args)`` on the server's event loop and return its result."""
        future = asyncio.run_coroutine_threadsafe(async_function(*args), self.loop)
        return future.result(timeout)

    def group_send(self, group: str, message: dict) -> None:
        """Send ``message`` to a channel-layer group, as the product's broadcasts do."""
        from channels.layers import get_channel_layer

        self.call(get_channel_layer().group_send, group, message)


@contextmanager
def _server_threads_share_in_memory_databases():
    """Give the server's threads the test's connection to an in-memory SQLite database:
    another connection would see the same data but fail on SQLite's shared-cache table
    locks whenever two threads write."""
    shared = {
        connection.alias: connection
        for connection in connections.all()
        if connection.vendor == "sqlite" and connection.is_in_memory_db()
    }
    if not shared:
        yield
        return
    create_connection = connections.create_connection

    def shared_or_new(alias):
        return shared[alias] if alias in shared else create_connection(alias)

    for connection in shared.values():
        connection.inc_thread_sharing()
    connections.create_connection = shared_or_new
    try:
        yield
    finally:
        del connections.create_connection
        for connection in shared.values():
            connection.dec_thread_sharing()


@pytest.fixture(scope="session")
def _asgi_live_server_session(django_db_setup, django_db_blocker):
    server = LiveASGIServer()
    with django_db_blocker.unblock():
        server.start()
    yield server
    server.stop()


@pytest.fixture
def asgi_live_server(_asgi_live_server_session, transactional_db):
    """The live server, for one test, with a committed and afterwards flushed database."""
    plain_http = override_settings(
        SESSION_COOKIE_SECURE=False, CSRF_COOKIE_SECURE=False, SECURE_SSL_REDIRECT=False
    )
    our_host = modify_settings(ALLOWED_HOSTS={"append": LiveASGIServer.host})
    with plain_http, our_host, _server_threads_share_in_memory_databases():
        yield _asgi_live_server_session


# --------------------------------------------------------------------------- browser


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, for the ``page`` fixture's teardown."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="package")
def _playwright():
    """Playwright for the browser tests only: while it runs, the test thread has an event
    loop registered, which would break later tests that run their own loop."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"browser tests need Debian's chromium at {CHROMIUM}: "
            "run .ci/browser-deps.sh (apt-get install -y chromium)"
        )
    from playwright.sync_api import sync_playwright

    # That loop also makes Django refuse ORM calls from the test thread as if they came
    # from async code; the test thread runs no async code of the product meanwhile.
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            yield playwright
    finally:
        if before is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture(scope="package")
def browser(_playwright):
    """Headless chromium; Playwright gives it a new temporary profile, removed on close."""
    browser = _playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture
def page_errors() -> list[str]:
    return []


@pytest.fixture
def page(browser, asgi_live_server, page_errors, request, tmp_path):
    context = browser.new_context(
        base_url=asgi_live_server.url,
        locale="en-US",
        viewport={"width": 1280, "height": 900},
    )
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    page.on("pageerror", lambda error: page_errors.append(f"uncaught: {error}"))
    page.on(
        "console",
        lambda message: (
            page_errors.append(f"console: {message.text}") if message.type == "error" else None
        ),
    )
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        try:
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            (tmp_path / "failure.html").write_text(page.content(), encoding="utf-8")
            print(f"\nbrowser state saved in {tmp_path}{os.sep} (failure.png, failure.html)")
        except Exception as error:  # the page may be gone
            print(f"\nno screenshot: {error}")
        if page_errors:
            print("errors in the page:\n  " + "\n  ".join(page_errors))
    context.close()


def login(page, base_url: str, username: str, password: str = PASSWORD) -> None:
    """Sign in through the login page; fails with the page's message if refused."""
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.press("#id_password", "Enter")
    if "/accounts/login/" in page.url:
        refusal = page.locator("[role=alert]")
        reason = refusal.inner_text() if refusal.count() else "no reason shown"
        raise AssertionError(f"login as {username!r} was refused: {reason}")


def in_thread(function, *args, timeout: float = 30, **kwargs):
    """Call ``function`` in a new thread and return its result (or raise its error).

    For product code that runs an event loop of its own (``async_to_sync``, e.g. a
    broadcast to the live pages), which it cannot do in the test thread while Playwright
    runs there."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args, **kwargs).result(timeout)
