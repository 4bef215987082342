"""Request extras (priority, tags, metadata, expiry) are validated before anything is stored."""

from __future__ import annotations

import pytest

from authmail_relay.exceptions import ValidationError
from authmail_relay.mail.message_request import MessageRequest, as_list, validate_request
from authmail_relay.vocabulary import Kind, Priority

pytestmark = pytest.mark.library


def _request(**changes: object) -> MessageRequest:
    fields: dict[str, object] = {"to": "a@example.com", "subject": "s", "html": "<p>x</p>"}
    fields.update(changes)
    return MessageRequest(**fields)  # type: ignore[arg-type]


def test_auth_kinds_default_to_high_priority() -> None:
    """OTP and links jump the queue unless told otherwise; raw mail is normal."""
    assert validate_request(_request(kind=Kind.OTP)).priority is Priority.HIGH
    assert validate_request(_request()).priority is Priority.NORMAL
    assert validate_request(_request(kind=Kind.OTP, priority="low")).priority is Priority.LOW


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"priority": "urgent"}, "priority"),
        ({"tags": ["ok", "not ok"]}, "tags"),
        ({"tags": [f"t{i}" for i in range(11)]}, "tags"),
        ({"tags": ["x" * 65]}, "tags"),
        ({"metadata": {"big": "x" * 5000}}, "metadata"),
        ({"metadata": {"bad": object()}}, "metadata"),
        ({"metadata": {"nan": float("nan")}}, "metadata"),
        ({"expires_in_seconds": 0}, "expires_in"),
        ({"expires_in_seconds": 8 * 86400}, "expires_in"),
    ],
)
def test_invalid_extras_are_rejected_with_the_field(changes: dict[str, object], field: str) -> None:
    """Each bad extra raises ValidationError naming the field."""
    with pytest.raises(ValidationError) as caught:
        validate_request(_request(**changes))
    assert caught.value.field == field


def test_valid_extras_are_normalised() -> None:
    """Duplicate tags collapse; metadata round-trips through JSON; expiry is in ms."""
    envelope = validate_request(
        _request(tags=["a", "b", "a"], metadata={"user": 7, "plan": "pro"}, expires_in_seconds=600)
    )
    assert envelope.tags == ("a", "b")
    assert envelope.metadata == {"user": 7, "plan": "pro"}
    assert envelope.expires_in_ms == 600_000


def test_as_list_accepts_one_or_many() -> None:
    """A single address and a list are both accepted."""
    assert as_list("a@x") == ["a@x"]
    assert as_list(("a@x", "b@x")) == ["a@x", "b@x"]
    assert as_list(None) == []
    assert as_list("") == []


@pytest.mark.parametrize(
    "changes",
    [
        {"metadata": {"k": "\ud800"}},
        {"metadata": {"\udfff": 1}},
        {"metadata": {"a": [{"b": ["ok", "x\ud83d"]}]}},
        {"tags": ["\ud800"]},
        {"headers": {"X-A": "\ud800"}},
        {"to": ["a@example.com", "b\ud800@example.com"]},
        {"webhook_secret": "\ud800"},
        {"user_name": "\ud800"},
    ],
    ids=lambda changes: next(iter(changes)),
)
def test_lone_surrogates_are_refused_anywhere(changes: dict[str, object]) -> None:
    """Text that is not valid Unicode cannot be stored or sent: a ValidationError naming
    the field, whatever the nesting (json.dumps would only have escaped it)."""
    with pytest.raises(ValidationError) as caught:
        validate_request(_request(**changes))
    assert caught.value.field == next(iter(changes))
    assert "\\ud" not in caught.value.message


def test_metadata_with_a_deeply_nested_value_is_checked_without_recursion() -> None:
    """The encodability walk is iterative: a nesting deeper than the recursion limit is
    judged, not a RecursionError."""
    for leaf in ("\ud800", "fine"):
        deep: object = leaf
        for _ in range(5000):
            deep = [deep]
        with pytest.raises(ValidationError):
            validate_request(_request(metadata={"k": deep}))
