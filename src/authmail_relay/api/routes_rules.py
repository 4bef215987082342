"""``/v1/approval-rules``: the rules that approve or hold sends at intake (admin scope).

Rules are listed in the order sends try them (the first match wins). Every change is
audited with the caller's key id as actor. A bad condition is ``422 validation_error``
naming the field (``conditions.<name>``) and nothing is stored; more than ``MAX_RULES``
rules is ``409 too_many_rules``; an unknown id is ``404 not_found``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from ..db.rules_store import RulesStore, is_rule_id
from ..exceptions import NotFoundError
from .deps import AdminCaller
from .responses import AUTHENTICATED, problems
from .routing import CountedRoute
from .schemas_rules import RuleCreate, RuleList, RuleUpdate, RuleView, rule_view

router = APIRouter(prefix="/v1/approval-rules", tags=["approval rules"], route_class=CountedRoute)
#: Statuses of routes with a JSON body.
_WITH_BODY = (*AUTHENTICATED, 400, 422)


def get_store(request: Request) -> RulesStore:
    store: RulesStore = request.app.state.rules
    return store


StoreDep = Annotated[RulesStore, Depends(get_store)]


def _rule_id(value: str) -> str:
    if not is_rule_id(value):
        raise NotFoundError(f"no approval rule {value[:40]!r}")
    return value


@router.get(
    "", response_model=RuleList, responses=problems(*AUTHENTICATED), summary="Every rule, in order"
)
async def list_rules(caller: AdminCaller, store: StoreDep) -> RuleList:
    return RuleList(data=[rule_view(rule) for rule in await store.list()])


@router.post(
    "",
    status_code=201,
    response_model=RuleView,
    responses=problems(*_WITH_BODY, 409),
    summary="Create a rule (at the end, or at a position)",
)
async def create_rule(body: RuleCreate, caller: AdminCaller, store: StoreDep) -> RuleView:
    created = await store.create(
        body.action, body.conditions.given(), body.description, body.position, actor=caller.key_id
    )
    return rule_view(created)


@router.get(
    "/{rule_id}",
    response_model=RuleView,
    responses=problems(*AUTHENTICATED, 404),
    summary="One rule",
)
async def get_rule(rule_id: str, caller: AdminCaller, store: StoreDep) -> RuleView:
    return rule_view(await store.get(_rule_id(rule_id)))


@router.patch(
    "/{rule_id}",
    response_model=RuleView,
    responses=problems(*_WITH_BODY, 404),
    summary="Change a rule's action, conditions, description or position",
)
async def update_rule(
    rule_id: str, body: RuleUpdate, caller: AdminCaller, store: StoreDep
) -> RuleView:
    updated = await store.update(
        _rule_id(rule_id),
        action=body.action,
        conditions=None if body.conditions is None else body.conditions.given(),
        description=body.description,
        position=body.position,
        actor=caller.key_id,
    )
    return rule_view(updated)


@router.delete(
    "/{rule_id}",
    status_code=204,
    response_class=Response,
    responses=problems(*AUTHENTICATED, 404),
    summary="Delete a rule (the rules after it move up)",
)
async def delete_rule(rule_id: str, caller: AdminCaller, store: StoreDep) -> Response:
    await store.delete(_rule_id(rule_id), actor=caller.key_id)
    return Response(status_code=204)
