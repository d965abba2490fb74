"""The metered call path: the one way the product calls a vendor.

``metered_call(account, api, images, params, *, camera_id, request_id_prefix)`` sends
``images`` to ``api`` through the account's backend and returns its batches. Around
every attempt (every HTTP request; the clients report each one exactly once):

1. ``MeteredHooks.before``: the quota gate (``billing.gate``) may refuse it, raising
   ``RefusedLocally``; nothing leaves then;
2. ``MeteredHooks.sending``: the attempt's ledger row, ``pending``, written before the
   request leaves, so that a request cut by a crash of this process is still on record
   (``billing.usage.close_interrupted`` closes it later);
3. the client sends the request (retries, breaker and token handling are the client's);
4. ``MeteredHooks.after``: the row gets the attempt's outcome
   (``billing.usage.complete_attempt``): ``success``, ``vendor_error``,
   ``transport_error``, or ``refused`` (a refused call is recorded, never paid, and
   never was pending).

A call that ends with a vendor's stop answer (daily or total limit, credentials, nothing
bought) opens a stop (``monitoring.vendor_stops.record_error``) that the gate then
enforces for every process.

Before anything is opened, the gate is asked once without taking a request slot, so a
call refused for arrears, quota or budget does not even fetch a token.

Backends are opened once per process and account (keyed by the account's id and
``updated_at``, so an edited account gets a new client) with the shared cache as token
store and circuit-breaker store. The local analyzer is metered too, at zero cost: its
analyses are recorded so usage is visible (one row when done: nothing of it is in flight
outside this process), and only a disabled account refuses it.

Request ids: given ``request_id_prefix`` (e.g. ``f"frame-{frame_id}"``), attempt ``n``
of request ``b`` of the call is recorded as ``f"{prefix}:{api}:{b}:{n}"``, so a task
that runs again for the same frame records nothing twice. Without a prefix, each
attempt keeps the client's random request id.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any

from django.core.cache import cache
from django.db import DatabaseError

from billing.gate import QuotaGate, get_gate
from billing.usage import complete_attempt, ledger_request_id, record_attempt
from monitoring import vendor_stops
from monitoring.backends.base import (
    REFUSED,
    AnalysisResult,
    Attempt,
    BackendError,
    CallHooks,
    CircuitBreaker,
    RefusedLocally,
    RequestRecorder,
)
from monitoring.backends.registry import Backend, Batch, open_backend, traits

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallScope:
    """Who one call is for: the account (as the caller loaded it), the camera, the
    request-id prefix, and which request of the call is under way."""

    hooks: MeteredHooks
    account: Any
    camera_id: int | None = None
    request_id_prefix: str | None = None
    batch: int = 0
    # Attempts announced by ``sending`` and not answered yet: client request id -> the
    # attempt as recorded.
    in_flight: dict[str, Attempt] = field(default_factory=dict)
    # A request of the call may be made of several of the same API (the private
    # deployment's body_attr asks the attribute service once per person): client request
    # id -> which of them, and per API how many have started.
    parts: dict[str, int] = field(default_factory=dict)
    started: dict[str, int] = field(default_factory=dict)


_current_scope: ContextVar[CallScope | None] = ContextVar("billing_metered_scope", default=None)


class MeteredHooks(CallHooks):
    """The gate in ``before``, the ledger in ``after``.

    One instance serves one account's backend for every thread: what differs per call
    (camera, request-id prefix, request number) is set with ``scope`` for the current
    thread or task only. Outside a scope, attempts are recorded for the account given
    here, without camera, under the client's request ids.
    """

    def __init__(self, account, *, gate: QuotaGate | None = None):
        self.account = account
        self.gate = gate or get_gate()

    @contextmanager
    def scope(
        self,
        *,
        account: Any = None,
        camera_id: int | None = None,
        request_id_prefix: str | None = None,
        batch: int = 0,
    ) -> Iterator[CallScope]:
        """Attribute the attempts made inside to ``camera_id``, recorded under ids made
        from ``request_id_prefix`` for request number ``batch`` of the call."""
        scope = CallScope(
            hooks=self,
            account=account if account is not None else self.account,
            camera_id=camera_id,
            request_id_prefix=request_id_prefix,
            batch=batch,
        )
        token = _current_scope.set(scope)
        try:
            yield scope
        finally:
            _current_scope.reset(token)

    def current(self) -> CallScope:
        scope = _current_scope.get()
        if scope is not None and scope.hooks is self:
            return scope
        return CallScope(hooks=self, account=self.account)

    def ledger_request_id(self, attempt: Attempt) -> str:
        scope = self.current()
        if not scope.request_id_prefix:
            return attempt.request_id or uuid.uuid4().hex
        part = scope.parts.get(attempt.request_id)
        if part is None:
            started = scope.started.get(attempt.api, 0)
            if attempt.attempt <= 1 or started == 0:  # a new request of this API
                part, scope.started[attempt.api] = started, started + 1
            else:  # another attempt of the latest one
                part = started - 1
            scope.parts[attempt.request_id] = part
        return ledger_request_id(
            scope.request_id_prefix,
            attempt.api,
            scope.batch if part == 0 else f"{scope.batch}.{part}",
            attempt.attempt,
            refused=attempt.outcome == "refused",
        )

    # -- CallHooks

    def before(self, vendor: str, api: str, request_id: str) -> None:
        scope = self.current()
        self.gate.check(scope.account, api, camera_id=scope.camera_id)

    def sending(self, attempt: Attempt) -> None:
        scope = self.current()
        recorded = replace(attempt, request_id=self.ledger_request_id(attempt))
        scope.in_flight[attempt.request_id] = recorded
        try:
            record_attempt(scope.account.pk, recorded, camera_id=scope.camera_id)
        except DatabaseError:
            # ``after`` records the attempt in full when it comes.
            logger.exception(
                "usage ledger: could not record %s request %s of account %s as it left",
                attempt.api,
                recorded.request_id,
                scope.account.pk,
            )

    def after(self, attempt: Attempt) -> None:
        scope = self.current()
        scope.in_flight.pop(attempt.request_id, None)
        recorded = replace(attempt, request_id=self.ledger_request_id(attempt))
        # A refused attempt never left, and an in-process analyzer announces nothing:
        # their row is new. Any other may have its pending row (or not, if writing it
        # failed).
        write = (
            record_attempt
            if attempt.outcome == REFUSED or traits(scope.account.vendor).in_process
            else complete_attempt
        )
        try:
            write(scope.account.pk, recorded, camera_id=scope.camera_id)
        except DatabaseError:
            # The request was made (or refused) either way; failing the call now would
            # only make the caller send it again. The log keeps the missing row visible.
            logger.exception(
                "usage ledger: could not record %s attempt %s of account %s",
                attempt.api,
                recorded.request_id,
                scope.account.pk,
            )

    def abandon_in_flight(self, error: BaseException) -> None:
        """The client raised ``error`` with requests announced but never reported (an
        error of the client itself, after the request left): each is recorded as a
        transport error now, rather than staying pending until it is closed as
        interrupted."""
        scope = self.current()
        while scope.in_flight:
            _request_id, recorded = scope.in_flight.popitem()
            code = f"client_{type(error).__name__}"[:40]
            try:
                complete_attempt(
                    scope.account.pk,
                    replace(recorded, outcome="transport_error", error_code=code),
                    camera_id=scope.camera_id,
                )
            except DatabaseError:
                logger.exception(
                    "usage ledger: could not record %s request %s of account %s",
                    recorded.api,
                    recorded.request_id,
                    scope.account.pk,
                )

    # -- before opening anything

    def precheck(self, api: str, *, images: int = 1) -> None:
        """Ask the gate without taking a request slot; a refusal is recorded and raised."""
        scope = self.current()
        try:
            self.gate.check(scope.account, api, camera_id=scope.camera_id, acquire=False)
        except RefusedLocally as refusal:
            self._record_refusal(api, refusal, images=images)
            raise

    def _record_refusal(self, api: str, refusal: RefusedLocally, *, images: int) -> None:
        self.after(
            Attempt(
                vendor=self.current().account.vendor,
                api=api,
                request_id=uuid.uuid4().hex,
                started_at=time.time(),
                latency_ms=0.0,
                outcome="refused",
                error_code=str(refusal.code or ""),
                attempt=1,
                images=images,
            )
        )


# ---------------------------------------------------------------- backends, per process

_backends: dict[int, tuple[tuple[int, Any], Backend, MeteredHooks]] = {}
_backends_lock = threading.Lock()


def open_metered_backend(account) -> tuple[Backend, MeteredHooks]:
    """The account's backend and its hooks, opened once per process and kept until the
    account changes (``updated_at``)."""
    key = (account.pk, account.updated_at)
    with _backends_lock:
        entry = _backends.get(account.pk)
        if entry is not None and entry[0] == key:
            return entry[1], entry[2]
        hooks = MeteredHooks(account)
        backend = open_backend(
            account.vendor,
            account.client_settings(),
            hooks=hooks,
            store=cache,
            breaker=CircuitBreaker(store=cache),
        )
        # A replaced backend is not closed here: another thread may still be using it.
        _backends[account.pk] = (key, backend, hooks)
        return backend, hooks


def close_backends() -> None:
    """Close and forget every backend this process opened (shutdown, tests)."""
    with _backends_lock:
        entries = list(_backends.values())
        _backends.clear()
    for _key, backend, _hooks in entries:
        backend.close()


# ---------------------------------------------------------------- the call


def metered_call(
    account,
    api: str,
    images: list[bytes],
    params: dict | None = None,
    *,
    camera_id: int | None = None,
    request_id_prefix: str | None = None,
) -> list[Batch]:
    """Send ``images`` to ``api`` of ``account`` (a ``VendorAccount``), gated and
    recorded; the batches are ``Backend.run``'s: which images each request carried and
    its normalized result.

    Raises ``RefusedLocally`` when the gate refuses (recorded as ``refused``, nothing
    sent), or the client's typed error when the vendor call fails (every attempt
    recorded). ``request_id_prefix`` makes the ledger ids deterministic (see the module
    docstring); it should name one unit of work, such as one frame and one analysis.
    """
    backend, hooks = open_metered_backend(account)
    backend.spec(api)  # ``Unsupported`` before anything is asked or recorded
    params = dict(params or {})
    batches: list[Batch] = []
    for number, indices in enumerate(backend.batches(api, len(images))):
        chosen = [images[i] for i in indices]
        with hooks.scope(
            account=account,
            camera_id=camera_id,
            request_id_prefix=request_id_prefix,
            batch=number,
        ):
            hooks.precheck(api, images=len(chosen))
            if backend.traits.in_process:
                result = _run_local(backend, hooks, api, chosen, params)
            else:
                try:
                    result = _run_one(backend, api, chosen, params)
                except Exception as error:
                    hooks.abandon_in_flight(error)
                    if isinstance(error, BackendError) and not isinstance(error, RefusedLocally):
                        # The vendor's stop answers hold the next calls back.
                        vendor_stops.record_error(account, api, error)
                    raise
        batches.append(Batch(indices, result))
    return batches


def _run_one(backend: Backend, api: str, images: list[bytes], params: dict) -> AnalysisResult:
    """One request of the call: ``images`` already fit in a single batch."""
    (batch,) = backend.run(api, images, params)
    return batch.result


def _run_local(
    backend: Backend, hooks: MeteredHooks, api: str, images: list[bytes], params: dict
) -> AnalysisResult:
    """An in-process analyzer has no hooks of its own: its one attempt is reported the
    way the vendor clients report theirs, without the announcement (nothing is in
    flight outside this process)."""
    recorder = RequestRecorder(hooks, vendor=backend.name, api=api, images=len(images))
    recorder.before()
    recorder.start()
    try:
        result = _run_one(backend, api, images, params)
    except BackendError as error:
        recorder.failed(error, code=error.code if error.code is not None else error.kind)
        raise
    recorder.succeeded()
    return result
