"""The client's approval-rule calls and ``set_key_oversight``, with both twins, against the
real running app."""

from __future__ import annotations

import pytest

pytest.importorskip("httpx")

from authmail_relay.client import ApiKeyInfo, ApprovalRule, AuthmailClient
from authmail_relay.exceptions import NotFoundError, PermissionDeniedError, ValidationError
from authmail_relay.vocabulary import OversightMode, RuleAction
from tests.api.conftest import Api
from tests.api.test_api_keys_api import create_key
from tests.api.test_client_sdk import Twin, info_of

pytestmark = pytest.mark.slow


@pytest.fixture(params=["async", "sync"])
def twin(request: pytest.FixtureRequest) -> Twin:
    return Twin(blocking=request.param == "sync")


def test_the_new_calls_are_documented() -> None:
    for name in ("list_rules", "get_rule", "create_rule", "update_rule", "delete_rule"):
        assert getattr(AuthmailClient, name).__doc__, name
    assert AuthmailClient.set_key_oversight.__doc__


async def test_rule_crud(api: Api, twin: Twin) -> None:
    async with twin.open(api) as client:
        assert await client.list_rules() == ()
        held = await client.create_rule("hold", {"tags": ["signup"]}, description="new people")
        assert isinstance(held, ApprovalRule)
        assert held.action is RuleAction.HOLD
        assert held.conditions == {"tags": ("signup",)}
        first = await client.create_rule(RuleAction.APPROVE, position=1)
        assert first.conditions == {}
        assert [r.id for r in await client.list_rules()] == [first.id, held.id]
        moved = await client.update_rule(held.id, position=1, conditions={"kinds": ["otp"]})
        assert (moved.position, moved.conditions) == (1, {"kinds": ("otp",)})
        assert await client.get_rule(held.id) == moved
        assert await client.delete_rule(first.id) is None
        with pytest.raises(NotFoundError):
            await client.get_rule(first.id)
        with pytest.raises(ValidationError) as refused:
            await client.create_rule("hold", {"colour": ["red"]})
        assert refused.value.field == "conditions.colour"
        assert info_of(refused.value).status == 422
        with pytest.raises(ValidationError):
            await client.create_rule("allow")  # checked before anything is sent
        with pytest.raises(ValidationError):
            await client.create_rule("hold", {"tags": "signup"})
        assert [r.id for r in await client.list_rules()] == [held.id]


async def test_set_key_oversight(api: Api, twin: Twin) -> None:
    key = await create_key(api, scopes=["send"])
    admin = await create_key(api, scopes=["admin"])
    async with twin.open(api) as client:
        changed = await client.set_key_oversight(key["id"], "gated")
        assert isinstance(changed, ApiKeyInfo)
        assert changed.oversight is OversightMode.GATED
        with pytest.raises(ValidationError):
            await client.set_key_oversight(key["id"], "lenient")
    async with twin.open(api, admin["key"]) as client:
        with pytest.raises(PermissionDeniedError) as own:
            await client.set_key_oversight(admin["id"], OversightMode.AUTONOMOUS)
    assert own.value.error_code == "self_mode_change"
