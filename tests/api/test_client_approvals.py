"""The Python client's approval calls (both twins) against the real running app: a send
held for the env key (OVERSIGHT_DEFAULT=gated) is listed, approved, rejected and decided
in a batch by a stored approver key."""

from __future__ import annotations

import pytest

pytest.importorskip("httpx")

from datetime import timedelta

from authmail_relay.client import DecisionResult, Message, MessagePage
from authmail_relay.db.api_keys_store import ApiKeyStore
from authmail_relay.exceptions import ConflictError, PermissionDeniedError, ValidationError
from authmail_relay.vocabulary import MessageStatus, OversightMode
from tests.api.conftest import Api
from tests.api.test_client_sdk import MAIL, ApiFactory, Twin

pytestmark = pytest.mark.slow


@pytest.fixture(params=["async", "sync"])
def twin(request: pytest.FixtureRequest) -> Twin:
    return Twin(blocking=request.param == "sync")


async def _approver(api: Api) -> str:
    store = ApiKeyStore(api.relay.outbox.engine)
    created = await store.create(name="approver", scopes=["approve"], actor="cli")
    return created.token


async def test_held_sends_are_listed_and_decided(api_factory: ApiFactory, twin: Twin) -> None:
    async with api_factory(oversight_default=OversightMode.GATED) as api:
        token = await _approver(api)
        async with twin.open(api) as sender, twin.open(api, token) as approver:
            outcome = await sender.send(**MAIL)
            assert (outcome.sent, outcome.status) == (False, "held")
            ids = [(await sender.create_message(**MAIL)).id for _ in range(3)]
            page = await approver.list_approvals(older_than=timedelta(0), limit=10)
            with pytest.raises(PermissionDeniedError) as own:
                await sender.approve(outcome.id)
            approved = await approver.approve(outcome.id, reason="expected")
            with pytest.raises(ConflictError) as again:
                await approver.approve(outcome.id)
            rejected = await approver.reject(ids[0], reason="not ours")
            results = await approver.decide(
                [
                    {"id": ids[1], "action": "approve"},
                    {"id": ids[2], "action": "reject"},
                ]
            )
            with pytest.raises(ValidationError):
                await approver.decide([])
            with pytest.raises(ValidationError):
                await approver.reject(ids[2], reason="x" * 501)
        record = await api.relay.wait_for_outcome(outcome.id, 5)
    assert isinstance(page, MessagePage)
    assert {m.id for m in page.messages} == {outcome.id, *ids}
    assert own.value.error_code == "self_approval"
    assert isinstance(approved, Message)
    assert approved.status is MessageStatus.QUEUED
    assert approved.decision_reason == "expected"
    assert again.value.error_code == "not_held"
    assert rejected.status is MessageStatus.REJECTED
    assert all(isinstance(r, DecisionResult) for r in results)
    assert [(r.status, r.error_code) for r in results] == [(200, None), (422, "reason_required")]
    assert results[0].message is not None
    assert results[0].message.status is MessageStatus.QUEUED
    assert record.status is MessageStatus.SENT
