"""Wire models of ``/v1/approval-rules`` and the record → view function (pure).

Bodies are bounded here (field names, list lengths, value lengths) before the store
parses them with :func:`~authmail_relay.oversight.rules.parse_conditions`, which refuses
unknown condition names, unknown kinds and priorities, and control characters.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from ..db.rules_store import MAX_DESCRIPTION_CHARS, StoredRule
from ..oversight.rules import CONDITION_FIELDS, MAX_RULES, MAX_VALUE_CHARS, MAX_VALUES
from ..vocabulary import Kind, Priority, RuleAction
from .fields import RequestModel
from .views import iso

_NAMES = ", ".join(CONDITION_FIELDS)
_CONDITIONS = (
    f"Conditions, each a list of 1 to {MAX_VALUES} strings: {_NAMES}. A rule matches when "
    "every condition it has matches (tags: any tag of the send; recipients and "
    "recipient_domains: every recipient); {} matches every send."
)
Value = Annotated[
    str,
    Field(min_length=1, max_length=MAX_VALUE_CHARS, json_schema_extra={"pattern": "^[!-~]+$"}),
]


def _condition(description: str | None = None) -> Any:
    """A condition field: absent by default, else a list of 1 to MAX_VALUES values."""
    return Field(None, min_length=1, max_length=MAX_VALUES, description=description)


class Conditions(RequestModel):
    """The conditions of a rule: each given one is a list of 1 to 100 values."""

    model_config = ConfigDict(extra="forbid")

    # A condition is given or absent (``null`` is refused): the defaults are never
    # validated, and only the given fields are passed on (``given``).
    kinds: list[Kind] = _condition()
    tags: list[Value] = _condition("Any tag of the send.")
    recipients: list[Value] = _condition("Every recipient.")
    recipient_domains: list[Value] = _condition("Every recipient's.")
    senders: list[Value] = _condition()
    api_keys: list[Value] = _condition()
    priorities: list[Priority] = _condition()

    def given(self) -> dict[str, list[str]]:
        """The conditions the request named, as plain strings."""
        return {
            name: [str(getattr(value, "value", value)) for value in values]
            for name, values in self.model_dump(exclude_unset=True).items()
        }


Description = Annotated[
    str,
    Field(
        max_length=MAX_DESCRIPTION_CHARS,
        json_schema_extra={"pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"},
    ),
]
Position = Annotated[int, Field(ge=1, le=MAX_RULES)]


def _no_conditions() -> Conditions:
    return Conditions()


class RuleCreate(RequestModel):
    """``POST /v1/approval-rules``."""

    model_config = ConfigDict(extra="forbid")

    action: RuleAction = Field(description="approve: queue at once; hold: hold for review.")
    conditions: Conditions = Field(default_factory=_no_conditions, description=_CONDITIONS)
    description: Description = ""
    position: Position | None = Field(
        None, description="1 is tried first; absent: after every rule; past the end: last."
    )


class RuleUpdate(RequestModel):
    """``PATCH /v1/approval-rules/{id}``: the fields given are changed."""

    model_config = ConfigDict(extra="forbid")

    action: RuleAction | None = None
    conditions: Conditions | None = Field(None, description="Replaces every condition.")
    description: Description | None = None
    position: Position | None = Field(None, description="Move the rule there (others shift).")


class RuleView(BaseModel):
    """A stored rule."""

    id: str
    position: int = Field(description="1..n, dense: rules are tried in this order.")
    action: str
    conditions: dict[str, list[str]]
    description: str
    created_at: str
    updated_at: str


class RuleList(BaseModel):
    """``GET /v1/approval-rules``: every rule, in the order sends try them."""

    data: list[RuleView]


def rule_view(stored: StoredRule) -> RuleView:
    """The view of a stored rule (condition values sorted)."""
    rule = stored.rule
    return RuleView(
        id=rule.id,
        position=rule.position,
        action=rule.action.value,
        conditions={name: sorted(values) for name, values in sorted(rule.conditions.items())},
        description=rule.description,
        created_at=iso(stored.created_at),
        updated_at=iso(stored.updated_at),
    )
