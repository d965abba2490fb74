"""The live websocket: authenticate, join the user's site groups, relay events.

Anything published to a site's group with ``type: "live.event"`` reaches every browser
of a user of that site; the consumer adds nothing and decides nothing.

A browser that reconnects says which event it saw last (``?last_event_id=N`` in the URL,
or a ``{"type": "resume", "last_event_id": N}`` message) and first gets the events of its
sites it missed, in id order, or ``{"type": "resync", "last_event_id": M}`` when it
missed too many to replay (see ``alerts.events.replay``). No event is sent twice on one
connection. The protocol is described in docs/alerts.md.

A live event is encoded once by its publisher (``alerts.events.live_message``): every browser of the
site is sent that same text.

A socket lives only as long as the access it was opened with. It joins its user's group
(``alerts.events.user_group``) too; ``alerts.access`` sends an ``access.check`` there when the user
signs out, loses or gains a site or a role, or is deactivated, and the consumer checks
again at once. It also checks every ``LIVE_ACCESS_RECHECK_SECONDS`` (30 s), for what no
signal announces (a session that expired, a change written straight into the database).
It closes with ``CLOSE_UNAUTHENTICATED`` (the session ended, the user is gone or
deactivated), ``CLOSE_FORBIDDEN`` (the roles no longer include watching) or
``CLOSE_SITES_CHANGED`` (the sites changed: a reconnect gets the new ones). Refusals at
connect are sent the same way, after accepting, so that the browser gets the code (a
refusal before accepting reaches it as an HTTP 403 and close code 1006).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import deque
from importlib import import_module
from types import SimpleNamespace
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from alerts import events
from alerts.events import event_text, site_group, user_group
from cameras import roles

# Close codes in the 4000-4999 range are the application's own (docs/alerts.md).
CLOSE_UNAUTHENTICATED = 4401  # not signed in, signed out, session ended, deactivated
CLOSE_FORBIDDEN = 4403  # the roles do not include watching
CLOSE_SITES_CHANGED = 4409  # the user's sites changed: reconnect to get the new ones
# Ids of the events already sent on a connection that are remembered to skip duplicates.
REMEMBERED_IDS = 2000


def recheck_seconds() -> float:
    return float(getattr(settings, "LIVE_ACCESS_RECHECK_SECONDS", 30))


def _site_ids_of(user) -> list[int] | None:
    """The ids of the sites ``user`` may watch, or None when their roles do not include
    watching."""
    if not user.has_perm(roles.WATCH):
        return None
    return list(roles.sites_for(user).values_list("id", flat=True))


_allowed_site_ids = database_sync_to_async(_site_ids_of)


def _session_user(session_key: str):
    """The user the session ``session_key`` signs in now, read afresh from the session
    store: anonymous once it was signed out, expired, or its user was deactivated or
    changed their password."""
    from django.contrib.auth import get_user

    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key)
    return get_user(SimpleNamespace(session=store))


@database_sync_to_async
def _access_now(user_id: int, session_key: str | None) -> tuple[int | None, list[int]]:
    """(close code or None, the site ids the user may watch now)."""
    from django.contrib.auth import get_user_model

    if session_key is not None:
        user = _session_user(session_key)
        if not user.is_authenticated or user.pk != user_id:
            return CLOSE_UNAUTHENTICATED, []
    else:  # a socket opened without a session (tests, other authentication)
        user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
        if user is None:
            return CLOSE_UNAUTHENTICATED, []
    site_ids = _site_ids_of(user)
    if site_ids is None:
        return CLOSE_FORBIDDEN, []
    return None, site_ids


@database_sync_to_async
def _replay(site_ids: list[int], last_event_id: int):
    return events.replay(site_ids, last_event_id)


def _event_id(value) -> int | None:
    """A resume point: a whole number >= 0 (as a number or text), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, int) and value >= 0:
        return value
    return None


class _RecentIds:
    """The last ``size`` ids seen, for membership tests."""

    def __init__(self, size: int):
        self._order: deque[int] = deque()
        self._ids: set[int] = set()
        self._size = size

    def __contains__(self, value: int) -> bool:
        return value in self._ids

    def add(self, value: int) -> None:
        self._order.append(value)
        self._ids.add(value)
        if len(self._order) > self._size:
            self._ids.discard(self._order.popleft())


class LiveConsumer(AsyncJsonWebsocketConsumer):
    ended = False  # closed by the server: nothing more is relayed

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self._refuse(CLOSE_UNAUTHENTICATED)
            return
        site_ids = await _allowed_site_ids(user)
        if site_ids is None:
            await self._refuse(CLOSE_FORBIDDEN)
            return
        self.user_id = user.pk
        session = self.scope.get("session")
        self.session_key = getattr(session, "session_key", None)
        self.site_ids = site_ids
        self.sent = _RecentIds(REMEMBERED_IDS)
        self.site_groups = [site_group(site_id) for site_id in site_ids] + [user_group(user.pk)]
        # Joined before the replay: what is published meanwhile waits in the channel and
        # is relayed after it, minus what the replay already sent.
        for group in self.site_groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        self.rechecks = asyncio.create_task(self._recheck_periodically())
        await self.send_json({"type": "hello", "sites": site_ids})
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        if "last_event_id" in query:
            last_event_id = _event_id(query["last_event_id"][-1])
            if last_event_id is None:
                await self._bad_request("last_event_id must be a whole number")
            else:
                await self._resume(last_event_id)

    async def dispatch(self, message):
        # Relaying a live event uses no database: it skips the check for stale database
        # connections that every other message gets (a call on the database thread, per
        # browser and event). The queries of this consumer check around each call.
        if message.get("type") == "live.event":
            await self.live_event(message)
        else:
            await super().dispatch(message)

    async def disconnect(self, code):
        rechecks = getattr(self, "rechecks", None)
        if rechecks is not None and rechecks is not asyncio.current_task():
            rechecks.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await rechecks
        for group in getattr(self, "site_groups", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def _refuse(self, code: int) -> None:
        """Refuse the connection with ``code``: accepted first, so the code reaches the
        browser."""
        await self.accept()
        await self.close(code=code)

    async def access_check(self, message):
        """The user's access changed (``alerts.access``): a session that was signed out
        closes at once; otherwise access is checked again."""
        ended = message.get("ended_session")
        if ended is not None and ended == self.session_key:
            await self._end(CLOSE_UNAUTHENTICATED)
            return
        await self._recheck()

    async def _recheck(self) -> None:
        if self.ended:
            return
        code, site_ids = await _access_now(self.user_id, self.session_key)
        if code is None and set(site_ids) != set(self.site_ids):
            code = CLOSE_SITES_CHANGED
        if code is not None:
            await self._end(code)

    async def _recheck_periodically(self) -> None:
        while not self.ended:
            # Spread over time: sockets opened together (a reload of every browser after a
            # restart) do not all query at once.
            await asyncio.sleep(recheck_seconds() * random.uniform(0.75, 1.25))  # noqa: S311
            await self._recheck()

    async def _end(self, code: int) -> None:
        """Close with ``code`` and stop relaying: nothing more is sent on this socket."""
        if self.ended:
            return
        self.ended = True
        for group in self.site_groups:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.site_groups = []
        await self.close(code=code)

    async def receive_json(self, content, **kwargs):
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "ping":
            await self.send_json({"type": "pong"})
        elif kind == "resume":
            last_event_id = _event_id(content.get("last_event_id"))
            if last_event_id is None:
                await self._bad_request("last_event_id must be a whole number")
            else:
                await self._resume(last_event_id)
        else:
            await self._bad_request("unknown message type; send ping or resume")

    async def live_event(self, message):
        text = message.get("text")
        if isinstance(text, str):
            await self._relay_text(message.get("id"), text)
        else:
            await self._relay(message["event"])

    async def _resume(self, last_event_id: int) -> None:
        replay = await _replay(self.site_ids, last_event_id)
        if replay.resync:
            await self.send_json({"type": "resync", "last_event_id": replay.last_event_id})
        for event in replay.events:
            await self._relay(event)

    async def _relay(self, event: dict) -> None:
        if not self.ended and self._first_time(event.get("id")):
            await self.send(text_data=event_text(event))

    async def _relay_text(self, event_id, text: str) -> None:
        if not self.ended and self._first_time(event_id):
            await self.send(text_data=text)

    def _first_time(self, event_id) -> bool:
        """Whether the event ``event_id`` is not sent yet on this connection (it counts
        as sent from now on)."""
        if isinstance(event_id, int):
            if event_id in self.sent:
                return False
            self.sent.add(event_id)
        return True

    async def _bad_request(self, detail: str) -> None:
        await self.send_json({"type": "error", "detail": detail})
