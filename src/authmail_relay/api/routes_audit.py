"""``/v1/audit``: the audit trail, newest first, and its verification.

Both routes need the ``audit`` scope, or ``admin`` (which includes reading the trail):
:class:`AuditRequirement`. Filters are exact matches (``message``: the entry's subject,
a message id or another id; ``key``: the actor; ``action``: an
:class:`~authmail_relay.vocabulary.AuditAction`) and a time range (``since`` <= at <
``until``, RFC 3339 times as ``GET /v1/messages`` takes them). A bad filter is a ``422``
problem with ``error_code: validation_error``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from ..audit_checkpoints import checkpoint_keys
from ..db.audit_reads import MAX_FILTER_CHARS, MAX_LIST_LIMIT, AuditFilter, list_entries
from ..db.audit_verify import verify_trail
from ..exceptions import PermissionDeniedError
from ..vocabulary import AuditAction, Scope
from .deps import RelayDep, ScopeRequirement, SettingsDep, authenticated
from .responses import AUTHENTICATED, problems
from .routing import CountedRoute
from .schemas_audit import AuditList, AuditVerification, entry_view, verification_view
from .security import Caller

router = APIRouter(prefix="/v1/audit", tags=["audit"], route_class=CountedRoute)
#: Longest cursor (a seq, in decimal).
_CURSOR_CHARS = 19


class AuditRequirement(ScopeRequirement):
    """The caller, if its key has ``audit`` or ``admin``; 403 ``forbidden`` otherwise.
    ``scope`` (read by the scope-matrix test) is ``audit``; ``also`` lists the others."""

    also = (Scope.ADMIN,)

    def __init__(self) -> None:
        super().__init__(Scope.AUDIT)

    async def __call__(self, caller: Annotated[Caller, Depends(authenticated)]) -> Caller:
        if not caller.scopes & {self.scope, *self.also}:
            raise PermissionDeniedError("this API key lacks the audit (or admin) scope")
        return caller


AuditCaller = Annotated[Caller, Depends(AuditRequirement())]


def _ms(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


@router.get(
    "",
    response_model=AuditList,
    responses=problems(*AUTHENTICATED, 422),
    summary="Audit entries, newest first",
)
async def list_audit(
    caller: AuditCaller,
    relay: RelayDep,
    message: Annotated[
        str | None,
        Query(
            max_length=MAX_FILTER_CHARS,
            min_length=1,
            description="Only entries about this id (a message, key, endpoint or rule).",
        ),
    ] = None,
    key: Annotated[
        str | None,
        Query(
            max_length=MAX_FILTER_CHARS,
            min_length=1,
            description="Only entries by this actor (a key id, a rule id, cli or relay).",
        ),
    ] = None,
    action: Annotated[AuditAction | None, Query(description="Only this action.")] = None,
    since: Annotated[datetime | None, Query(description="RFC 3339 time; at >= since.")] = None,
    until: Annotated[datetime | None, Query(description="RFC 3339 time; at < until.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST_LIMIT)] = 50,
    cursor: Annotated[
        str | None,
        Query(
            max_length=_CURSOR_CHARS,
            pattern="^[1-9][0-9]*$",
            description="next_cursor of the previous page.",
        ),
    ] = None,
) -> AuditList:
    wanted = AuditFilter(
        subject=message,
        actor=key,
        action=None if action is None else action.value,
        since=_ms(since),
        until=_ms(until),
    )
    before = None if cursor is None else int(cursor)
    entries = await list_entries(relay.outbox.engine, wanted, limit=limit, before_seq=before)
    next_cursor = str(entries[-1].seq) if len(entries) == limit and entries[-1].seq > 1 else None
    return AuditList(data=[entry_view(e) for e in entries], next_cursor=next_cursor)


@router.get(
    "/verify",
    response_model=AuditVerification,
    responses=problems(*AUTHENTICATED),
    summary="Verify the whole chain and every signed checkpoint",
)
async def verify_audit(
    caller: AuditCaller, relay: RelayDep, settings: SettingsDep
) -> AuditVerification:
    keys = checkpoint_keys(settings, relay.outbox.keys)
    return verification_view(await verify_trail(relay.outbox.engine, keys.verifying))
