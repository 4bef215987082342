"""Approval rules and the intake decision of one send (pure, no I/O).

A rule has an ``action`` (``approve`` or ``hold``) and *conditions*: each names a field of
the send and the values it may have; a rule matches when every condition it has matches
(a rule with no condition matches everything). Rules are tried in order and the first
match wins. What a send looks like to the rules is :class:`SendFacts`.

:func:`decide_intake` combines the key's :class:`~authmail_relay.vocabulary.OversightMode`
with the first matching rule:

============  ==========================  ======================  =================
mode          no rule / no match          first match: approve    first match: hold
============  ==========================  ======================  =================
autonomous    queued                      queued                  held
monitored     queued + monitored event    queued + monitored      held
gated         held                        queued, approved by it  held
read_only     refused before intake       (refused)               (refused)
============  ==========================  ======================  =================
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..exceptions import ValidationError
from ..vocabulary import Kind, MessageStatus, OversightMode, Priority, RuleAction

__all__ = [
    "CONDITION_FIELDS",
    "MAX_RULES",
    "MAX_VALUES",
    "Intake",
    "Rule",
    "SendFacts",
    "decide_intake",
    "first_match",
    "parse_conditions",
]

#: Most rules the relay keeps (every send reads them all, in order).
MAX_RULES = 200
#: Most values one condition may list, and the longest value.
MAX_VALUES = 100
MAX_VALUE_CHARS = 320
#: The conditions a rule may have; each takes a list of strings.
CONDITION_FIELDS = (
    "kinds",
    "tags",
    "recipients",
    "recipient_domains",
    "senders",
    "api_keys",
    "priorities",
)


@dataclass(frozen=True)
class SendFacts:
    """What the rules see of one send. Addresses and domains are lower-case."""

    kind: Kind
    priority: Priority
    sender: str
    recipients: tuple[str, ...]
    tags: tuple[str, ...] = ()
    api_key_id: str | None = None


@dataclass(frozen=True)
class Rule:
    """One stored rule. ``conditions`` maps condition names to frozen value sets."""

    id: str
    position: int
    action: RuleAction
    conditions: Mapping[str, frozenset[str]]
    description: str = ""

    def matches(self, facts: SendFacts) -> bool:
        """Whether every condition of the rule holds for *facts* (linear in their size)."""
        for name, allowed in self.conditions.items():
            if not _condition_holds(name, allowed, facts):
                return False
        return True

    def conditions_json(self) -> str:
        """The conditions as stored: compact JSON, keys and values sorted."""
        return json.dumps(
            {name: sorted(values) for name, values in sorted(self.conditions.items())},
            separators=(",", ":"),
        )


def _domain(address: str) -> str:
    return address.rpartition("@")[2]


def _condition_holds(name: str, allowed: frozenset[str], facts: SendFacts) -> bool:
    if name == "kinds":
        return facts.kind.value in allowed
    if name == "priorities":
        return facts.priority.value in allowed
    if name == "senders":
        return facts.sender.lower() in allowed
    if name == "api_keys":
        return facts.api_key_id is not None and facts.api_key_id in allowed
    if name == "tags":
        return any(tag in allowed for tag in facts.tags)
    # Every recipient must match, so one allowed address cannot carry an unvetted one.
    if name == "recipients":
        return bool(facts.recipients) and all(r.lower() in allowed for r in facts.recipients)
    if name == "recipient_domains":
        return bool(facts.recipients) and all(
            _domain(r.lower()) in allowed for r in facts.recipients
        )
    raise AssertionError(f"unknown condition {name!r}")  # parse_conditions refuses these


def parse_conditions(raw: Any, *, field: str = "conditions") -> dict[str, frozenset[str]]:
    """Validate and normalise a rule's conditions (a JSON object of string lists).

    ValidationError for anything else: an unknown condition, a value that is not a list of
    non-empty strings, more than :data:`MAX_VALUES` values, an unknown kind or priority,
    or a value longer than ``MAX_VALUE_CHARS`` or holding a control character.
    Addresses and domains are lower-cased.
    """
    if not isinstance(raw, Mapping):
        raise ValidationError("conditions must be an object", field=field)
    parsed: dict[str, frozenset[str]] = {}
    for name, values in raw.items():
        if name not in CONDITION_FIELDS:
            known = ", ".join(CONDITION_FIELDS)
            raise ValidationError(
                f"unknown condition {str(name)[:40]!r} (known: {known})", field=f"{field}.{name}"
            )
        parsed[name] = _parse_values(name, values, f"{field}.{name}")
    return parsed


def _parse_values(name: str, values: Any, field: str) -> frozenset[str]:
    if not isinstance(values, Sequence) or isinstance(values, (str, bytes)):
        raise ValidationError(f"{name} must be a list of strings", field=field)
    if not values or len(values) > MAX_VALUES:
        raise ValidationError(f"{name} must list 1 to {MAX_VALUES} values", field=field)
    out = set()
    for value in values:
        if not isinstance(value, str) or not value or len(value) > MAX_VALUE_CHARS:
            raise ValidationError(
                f"{name} values must be strings of 1 to {MAX_VALUE_CHARS} characters",
                field=field,
            )
        if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
            raise ValidationError(f"{name} values must not hold control characters", field=field)
        out.add(_normalise(name, value, field))
    return frozenset(out)


def _normalise(name: str, value: str, field: str) -> str:
    if name == "kinds":
        return str(_member(Kind, value, field))
    if name == "priorities":
        return str(_member(Priority, value, field))
    if name in ("recipients", "senders", "recipient_domains"):
        return value.strip().lower()
    return value


def _member(enum: type[Kind] | type[Priority], value: str, field: str) -> Kind | Priority:
    try:
        return enum(value)
    except ValueError:
        known = ", ".join(member.value for member in enum)
        raise ValidationError(f"{value[:40]!r} is not one of {known}", field=field) from None


def first_match(rules: Iterable[Rule], facts: SendFacts) -> Rule | None:
    """The first rule, in ``(position, id)`` order, that matches *facts*."""
    for rule in sorted(rules, key=lambda r: (r.position, r.id)):
        if rule.matches(facts):
            return rule
    return None


@dataclass(frozen=True)
class Intake:
    """How a send enters the outbox.

    ``status`` is ``queued`` or ``held``; ``approved_by`` names the rule that approved a
    gated send (recorded as its approval); ``monitored`` asks for a ``message.monitored``
    event; ``rule`` is the rule that decided, if any.
    """

    status: MessageStatus
    approved_by: str | None = None
    monitored: bool = False
    rule: Rule | None = None


def decide_intake(mode: OversightMode, rules: Iterable[Rule], facts: SendFacts) -> Intake:
    """The intake of one send from a key in *mode* (see the module table).

    A ``read_only`` key never gets here: the core refuses its sends first; this raises
    ValueError if it does, so a missed check cannot turn into a send.
    """
    if mode is OversightMode.READ_ONLY:
        raise ValueError("a read_only key cannot send")
    rule = first_match(rules, facts)
    if rule is not None and rule.action is RuleAction.HOLD:
        return Intake(MessageStatus.HELD, rule=rule)
    if mode is OversightMode.GATED:
        if rule is None:
            return Intake(MessageStatus.HELD)
        return Intake(MessageStatus.QUEUED, approved_by=rule.id, rule=rule)
    return Intake(MessageStatus.QUEUED, monitored=mode is OversightMode.MONITORED, rule=rule)
