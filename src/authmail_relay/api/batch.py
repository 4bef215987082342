"""``POST /v1/messages/batch``: each entry validated, stored and answered on its own.

An entry's failure — invalid input, a limit, the database, or an unexpected bug — is
that entry's result (its problem body and status); the other entries go on. Entries
commit one by one, so under an ``Idempotency-Key`` every entry also gets a key of its
own, derived from the batch's key, the batch's request hash and the entry's index, and
stored in the same transaction as its message. A batch that is run again after its
answer was lost (the process died, or the answer could not be stored) then answers the
entries already stored with their original results, and stores only the others.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

import pydantic
from fastapi import Request

from ..db.idempotency import (
    KEY_IN_USE,
    IdempotencyLink,
    IdempotencyStore,
    Recovered,
    Replay,
    Started,
)
from ..exceptions import RelayError, ValidationError
from ..mail.message_request import MessageRequest
from ..relay import Relay
from .problems import field_of, problem, problem_for, request_id_of
from .routes_send import stamped
from .schemas import BatchItem, MessageCreate
from .security import Caller
from .views import accepted_view

log = logging.getLogger("authmail_relay.api")


@dataclass
class EntryKeys:
    """Where the entries of one keyed batch keep their own idempotency keys."""

    store: IdempotencyStore
    batch: IdempotencyLink
    batch_hash: str
    ttl_ms: int
    lock_ms: int

    @functools.cached_property
    def _prefix(self) -> str:
        digest = hashlib.sha256(f"{self.batch.key}\n{self.batch_hash}".encode()).hexdigest()
        return f"batch-entry:{digest[:40]}"

    def key(self, index: int) -> str:
        return f"{self._prefix}:{index}"


@dataclass
class BatchRun:
    """One run of a batch; ``committed`` turns true once an entry is stored (or found
    stored by an earlier run), after which the batch's key must never be forgotten."""

    relay: Relay
    request: Request
    caller: Caller
    dry_run: bool
    keys: EntryKeys | None = None
    committed: bool = False

    async def entry(self, index: int, item: dict[str, Any]) -> BatchItem:
        """The result of entry *index*; never raises for the entry's own failure."""
        try:
            message = self._parse(item)
            if self.dry_run:
                await self.relay.preview(message)
                return BatchItem(index=index, status=200)
            if self.keys is None:
                return self._accepted(index, await self.relay.submit(message))
            return await self._keyed(index, message, self.keys)
        except RelayError as exc:
            return _failed(index, problem_for(exc, request_id_of(self.request)))
        except Exception:
            # A bug must not turn into a 500 for the whole batch, whose earlier entries
            # may already be stored: this entry reports it, the others go on.
            log.exception("unexpected error in batch entry %d", index)
            response = problem(
                500, "internal_error", "unexpected error", request_id=request_id_of(self.request)
            )
            return _failed(index, response)

    def _parse(self, item: dict[str, Any]) -> MessageRequest:
        try:
            parsed = MessageCreate.model_validate(item)
        except pydantic.ValidationError as exc:
            fields = ", ".join(dict.fromkeys(field_of(e) for e in exc.errors()[:5]))
            raise ValidationError(f"invalid fields: {fields}", field=fields or "body") from None
        return stamped(parsed.to_request(), self.request, self.caller)

    def _accepted(self, index: int, accepted: Any) -> BatchItem:
        self.committed = True
        return BatchItem(index=index, status=202, message=accepted_view(accepted))

    async def _keyed(self, index: int, message: MessageRequest, keys: EntryKeys) -> BatchItem:
        begun = await keys.store.begin(
            keys.batch.scope,
            keys.key(index),
            f"{keys.batch_hash}:{index}",
            ttl_ms=keys.ttl_ms,
            lock_ms=keys.lock_ms,
        )
        if isinstance(begun, Replay):
            self.committed = True
            return BatchItem.model_validate_json(begun.body)
        if isinstance(begun, Recovered):
            result = self._accepted(index, await self.relay.outbox.get_message(begun.message_id))
        elif isinstance(begun, Started):
            try:
                accepted = await self.relay.submit(message, idempotency=begun.link)
            except BaseException:
                await keys.store.abandon(begun.link)
                raise
            result = self._accepted(index, accepted)
        else:  # InFlight or Mismatch: another run of this batch holds the entry
            detail = "another request with this Idempotency-Key is storing this entry"
            return _failed(
                index, problem(409, KEY_IN_USE, detail, request_id=request_id_of(self.request))
            )
        try:
            await keys.store.complete(
                begun.link, status=result.status, body=result.model_dump_json(exclude_none=True)
            )
        except RelayError as exc:
            # The entry is stored and linked to its key; a later run recovers it.
            log.error("could not record batch entry %d: %s", index, exc.message)
        return result


def _failed(index: int, response: Any) -> BatchItem:
    return BatchItem(index=index, status=response.status_code, problem=json.loads(response.body))
