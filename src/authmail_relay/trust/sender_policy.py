"""Which ``From`` addresses a caller may use (pure).

A request made with an API key carries that key's sender rules
(:attr:`MessageRequest.allowed_senders`); the configured default sender (``SMTP_FROM``)
is always allowed, anything else must match a rule (see :mod:`authmail_relay.trust.api_keys`
for the rule forms). Requests without rules (``None``: the library and the CLI, run by
the operator) are not checked. The address judged is the parsed addr-spec of the
composed draft, never its display name, so ``"ceo@bank.example" <x@ok.example>`` is
judged as ``x@ok.example``.
"""

from __future__ import annotations

from ..exceptions import PermissionDeniedError, ValidationError
from ..mail.composing import Draft
from ..mail.message_content import default_sender
from ..mail.message_request import MessageRequest
from ..mail.validation import parse_mailbox
from ..settings import Settings
from .api_keys import sender_allowed

SENDER_NOT_ALLOWED = "sender_not_allowed"


def _default_address(settings: Settings) -> str | None:
    configured = default_sender(settings)
    if not configured:
        return None
    try:
        return parse_mailbox(configured, field="SMTP_FROM").address.lower()
    except ValidationError:
        return None


def check_sender(draft: Draft, request: MessageRequest, settings: Settings) -> None:
    """PermissionDeniedError (``sender_not_allowed``) when the request's key may not send
    from the draft's sender; nothing otherwise."""
    if request.allowed_senders is None:
        return
    address = draft.sender.address.lower()
    if address == _default_address(settings):
        return
    if sender_allowed(address, request.allowed_senders):
        return
    raise PermissionDeniedError(
        "this API key may not send from this address (see allowed senders)",
        error_code=SENDER_NOT_ALLOWED,
    )
