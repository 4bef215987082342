"""The API calls of the HTTP client, one builder per public method (no I/O here).

Each builder checks its arguments with :mod:`authmail_relay.client._args` (raising
:class:`~authmail_relay.exceptions.ValidationError` before anything is sent) and returns
a :class:`~authmail_relay.client._base.Call`: the request, and how to decode its answer
with :mod:`authmail_relay.client._decode`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from ..exceptions import ValidationError
from ..vocabulary import AuditAction, Kind, MessageStatus, OversightMode, Priority, RuleAction
from . import _args as arg
from . import _decode as wire
from ._args import Addresses
from ._base import Answer, Call
from ._calls_reads import ReadCalls, message_answer
from ._models import (
    Accepted,
    ApiKeyInfo,
    ApprovalRule,
    AuditPage,
    AuditVerification,
    DecisionResult,
    Message,
    MessagePage,
    SendOutcome,
)

#: The statuses of a compatible ``/send*`` answer that are not errors.
_SENT = frozenset({200, 202})
#: The largest ``limit`` of ``list_messages``.
MAX_PAGE = 200
#: The largest ``limit`` of ``list_audit``, and the longest id or actor it filters on.
MAX_AUDIT_PAGE, MAX_AUDIT_FILTER = 500, 200
_RULES = "/v1/approval-rules"
_JSON = {"Content-Type": "application/json"}
Conditions = Mapping[str, Sequence[str]]
#: The most decisions one ``decide`` call takes, and the longest reason.
MAX_DECISIONS = 100
MAX_REASON = 500


class ClientCalls(ReadCalls):
    """Builders for every call; the twins in :mod:`authmail_relay.client` expose them.
    The read-only calls added with the long poll (``wait_for_message``, templates,
    domains) are inherited from :class:`~authmail_relay.client._calls_reads.ReadCalls`."""

    def _send(
        self,
        to: Addresses,
        subject: str,
        html_body: str,
        *,
        text_body: str | None = None,
        cc: Addresses | None = None,
        bcc: Addresses | None = None,
        from_: str | None = None,
        reply_to: Addresses | None = None,
        tags: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        priority: Priority | str | None = None,
        expires_in: int | timedelta | None = None,
        send_at: datetime | str | None = None,
        headers: Mapping[str, str] | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        end_user_ip: str | None = None,
        dry_run: bool = False,
        idempotency_key: str | None = None,
        request_id: str | None = None,
    ) -> Call[SendOutcome]:
        """Send any mail (``POST /send``) and wait for the relay's SMTP outcome.

        Returns a :class:`~authmail_relay.client._models.SendOutcome`: ``sent`` once the
        upstream accepted the mail; ``status="queued"`` when the relay's wait ran out
        first (delivery goes on); ``status="accepted"`` at once with ``webhook_url``;
        ``status="dry_run"`` with ``dry_run=True`` (validated and rendered, nothing stored).
        ``from_`` is the sender (default: the relay's ``SMTP_FROM``); ``headers`` are extra
        ``X-*`` mail headers; ``expires_in`` is when the mail must not be sent any more.
        ``send_at`` (an aware datetime, or an RFC 3339 string with an offset) schedules the
        mail: the relay then answers ``status="queued"`` at once; a past time means now;
        at most 30 days ahead and before the mail expires (else ValidationError, field
        ``send_at``). A naive datetime is a ValidationError before anything is sent.
        ``end_user_ip`` is the IP address of the visitor whose action triggered the mail
        (give it for auth mail: that visitor then has a rate budget of their own).
        Raises DeliveryError when the upstream refused the mail for good.
        """
        body = {
            "to": arg.addresses(to, "to"),
            "subject": arg.text(subject, "subject"),
            "html_body": arg.text(html_body, "html_body"),
            "text_body": arg.optional_text(text_body, "text_body"),
            "cc": arg.address_list(cc, "cc"),
            "bcc": arg.address_list(bcc, "bcc"),
            **arg.options(from_, reply_to, tags, metadata, priority, None, expires_in, send_at),
            **arg.delivery(headers, webhook_url, webhook_secret, end_user_ip),
        }
        return self._sending("/send", body, dry_run, idempotency_key, request_id)

    def _send_otp(
        self,
        to: str,
        code: str,
        *,
        user_name: str | None = None,
        locale: str | None = None,
        expires_in: int | timedelta | None = None,
        send_at: datetime | str | None = None,
        from_: str | None = None,
        reply_to: Addresses | None = None,
        tags: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        priority: Priority | str | None = None,
        headers: Mapping[str, str] | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        end_user_ip: str | None = None,
        dry_run: bool = False,
        idempotency_key: str | None = None,
        request_id: str | None = None,
    ) -> Call[SendOutcome]:
        """Send a one-time code (``POST /send/otp``) with the built-in template in
        ``locale``; otherwise as :meth:`send`."""
        body = {
            "to": arg.single_address(to),
            "code": arg.text(code, "code"),
            "user_name": arg.optional_text(user_name, "user_name"),
            **arg.options(from_, reply_to, tags, metadata, priority, locale, expires_in, send_at),
            **arg.delivery(headers, webhook_url, webhook_secret, end_user_ip),
        }
        return self._sending("/send/otp", body, dry_run, idempotency_key, request_id)

    def _send_magic_link(
        self,
        to: str,
        token: str,
        *,
        user_name: str | None = None,
        base_url: str | None = None,
        locale: str | None = None,
        expires_in: int | timedelta | None = None,
        send_at: datetime | str | None = None,
        from_: str | None = None,
        reply_to: Addresses | None = None,
        tags: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        priority: Priority | str | None = None,
        headers: Mapping[str, str] | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        end_user_ip: str | None = None,
        dry_run: bool = False,
        idempotency_key: str | None = None,
        request_id: str | None = None,
    ) -> Call[SendOutcome]:
        """Send a sign-in link (``POST /send/magic-link``). The relay puts ``token``,
        percent-encoded, into a link under its ``MAGIC_LINK_BASE_URL`` (or ``base_url``,
        which must keep that origin); otherwise as :meth:`send`."""
        body = arg.link_body(to, token, user_name, base_url)
        body |= arg.options(from_, reply_to, tags, metadata, priority, locale, expires_in, send_at)
        body |= arg.delivery(headers, webhook_url, webhook_secret, end_user_ip)
        return self._sending("/send/magic-link", body, dry_run, idempotency_key, request_id)

    def _send_password_reset(
        self,
        to: str,
        token: str,
        *,
        user_name: str | None = None,
        base_url: str | None = None,
        locale: str | None = None,
        expires_in: int | timedelta | None = None,
        send_at: datetime | str | None = None,
        from_: str | None = None,
        reply_to: Addresses | None = None,
        tags: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        priority: Priority | str | None = None,
        headers: Mapping[str, str] | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        end_user_ip: str | None = None,
        dry_run: bool = False,
        idempotency_key: str | None = None,
        request_id: str | None = None,
    ) -> Call[SendOutcome]:
        """Send a password-reset link (``POST /send/password-reset``); as
        :meth:`send_magic_link`."""
        body = arg.link_body(to, token, user_name, base_url)
        body |= arg.options(from_, reply_to, tags, metadata, priority, locale, expires_in, send_at)
        body |= arg.delivery(headers, webhook_url, webhook_secret, end_user_ip)
        return self._sending("/send/password-reset", body, dry_run, idempotency_key, request_id)

    def _create_message(
        self,
        to: Addresses,
        *,
        kind: Kind | str = Kind.RAW,
        subject: str | None = None,
        html_body: str | None = None,
        text_body: str | None = None,
        cc: Addresses | None = None,
        bcc: Addresses | None = None,
        user_name: str | None = None,
        code: str | None = None,
        token: str | None = None,
        base_url: str | None = None,
        locale: str | None = None,
        from_: str | None = None,
        reply_to: Addresses | None = None,
        tags: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        priority: Priority | str | None = None,
        expires_in: int | timedelta | None = None,
        send_at: datetime | str | None = None,
        headers: Mapping[str, str] | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        end_user_ip: str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
    ) -> Call[Accepted]:
        """Queue a message (``POST /v1/messages``) without waiting for delivery.

        ``kind="raw"`` needs ``subject`` and ``html_body``; ``otp`` needs ``code``;
        ``magic_link`` and ``password_reset`` need ``token``; ``end_user_ip`` and
        ``send_at`` as in :meth:`send`. Returns
        :class:`~authmail_relay.client._models.Accepted` once the message is stored.
        """
        body = {
            "kind": arg.member(Kind, kind, "kind"),
            "to": arg.addresses(to, "to"),
            "subject": arg.optional_text(subject, "subject"),
            "html_body": arg.optional_text(html_body, "html_body"),
            "text_body": arg.optional_text(text_body, "text_body"),
            "cc": arg.address_list(cc, "cc"),
            "bcc": arg.address_list(bcc, "bcc"),
            "user_name": arg.optional_text(user_name, "user_name"),
            "code": arg.optional_text(code, "code"),
            "token": arg.optional_text(token, "token"),
            "base_url": arg.optional_text(base_url, "base_url"),
            **arg.options(from_, reply_to, tags, metadata, priority, locale, expires_in, send_at),
            **arg.delivery(headers, webhook_url, webhook_secret, end_user_ip),
        }
        key = arg.idempotency_key(idempotency_key)

        return Call(
            "POST",
            "/v1/messages",
            _accepted,
            ok=frozenset({202}),
            content=arg.encode(body),
            headers=arg.request_headers(key, request_id, dry_run=False),
            idempotency_key=key,
        )

    def _get_message(self, id: str) -> Call[Message]:
        """One message with its events and attempts (``GET /v1/messages/{id}``).
        Raises NotFoundError for an unknown id."""
        return Call("GET", arg.message_path(id), message_answer)

    def _list_messages(
        self,
        *,
        status: MessageStatus | str | None = None,
        tag: str | None = None,
        to: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Call[MessagePage]:
        """A page of messages, newest first (``GET /v1/messages``), filtered by status,
        tag, recipient (case-insensitive) and creation time (aware datetimes;
        ``created_after`` <= created < ``created_before``). ``limit`` is 1-200;
        ``cursor`` is the previous page's ``next_cursor``."""
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_PAGE:
            raise ValidationError(f"limit must be an integer from 1 to {MAX_PAGE}", field="limit")
        params = [("limit", str(limit))]
        if status is not None:
            params.append(("status", arg.member(MessageStatus, status, "status")))
        for name, value in (("tag", tag), ("to", to), ("cursor", cursor)):
            if value is not None:
                params.append((name, arg.text(value, name)))
        for name, moment in (("created_after", created_after), ("created_before", created_before)):
            if moment is not None:
                params.append((name, arg.aware(moment, name).isoformat()))
        return Call(
            "GET",
            "/v1/messages",
            _message_page,
            params=tuple(params),
        )

    def _cancel(self, id: str) -> Call[Message]:
        """Withdraw a message that is still queued or deferred; it is then never sent.
        Raises ConflictError (``error_code="not_cancellable"``) once it is past that, and
        NotFoundError for an unknown id. Not retried after a lost answer."""
        return Call(
            "POST",
            arg.message_path(id, "/cancel"),
            message_answer,
            replay_safe=False,
        )

    def _consume(self, id: str) -> Call[Message]:
        """Record that the link or code in a sent message was used (repeating it is
        harmless). Raises ConflictError (``error_code="not_consumable"``) before the
        message was sent, and NotFoundError for an unknown id."""
        return Call("POST", arg.message_path(id, "/consume"), message_answer)

    def _list_audit(
        self,
        *,
        message: str | None = None,
        key: str | None = None,
        action: AuditAction | str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Call[AuditPage]:
        """A page of the audit trail, newest first (``GET /v1/audit``; the ``audit`` or
        ``admin`` scope): entries about ``message`` (any subject id), by ``key`` (an
        actor), of one ``action``, appended at ``since`` <= at < ``until`` (aware
        datetimes). ``limit`` is 1-500; ``cursor`` is the previous page's ``next_cursor``."""
        if (
            not isinstance(limit, int)
            or isinstance(limit, bool)
            or not 1 <= limit <= MAX_AUDIT_PAGE
        ):
            raise ValidationError(
                f"limit must be an integer from 1 to {MAX_AUDIT_PAGE}", field="limit"
            )
        params = [("limit", str(limit))]
        for name, value in (("message", message), ("key", key), ("cursor", cursor)):
            if value is not None:
                checked = arg.text(value, name)
                if not 0 < len(checked) <= MAX_AUDIT_FILTER:
                    raise ValidationError(
                        f"{name} must be 1 to {MAX_AUDIT_FILTER} characters", field=name
                    )
                params.append((name, checked))
        if action is not None:
            try:
                params.append(("action", AuditAction(action).value))
            except ValueError:
                raise ValidationError("action is not an audit action", field="action") from None
        for name, moment in (("since", since), ("until", until)):
            if moment is not None:
                params.append((name, arg.aware(moment, name).isoformat()))
        return Call("GET", "/v1/audit", _audit_page, params=tuple(params))

    def _verify_audit(self) -> Call[AuditVerification]:
        """Have the relay verify its whole audit trail and every signed checkpoint
        (``GET /v1/audit/verify``; the ``audit`` or ``admin`` scope). ``ok`` is False
        when something was changed, removed or inserted; the result says where."""
        return Call("GET", "/v1/audit/verify", _audit_verification)

    def _list_approvals(
        self,
        *,
        key: str | None = None,
        kind: Kind | str | None = None,
        tag: str | None = None,
        older_than: int | timedelta | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Call[MessagePage]:
        """A page of held messages waiting for a decision, newest first
        (``GET /v1/approvals``; the key needs the ``approve`` scope), filtered by the
        sending key's id, kind, tag and how long they have been held (``older_than``,
        seconds or a timedelta). ``limit`` 1-200; ``cursor`` as in :meth:`list_messages`."""
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_PAGE:
            raise ValidationError(f"limit must be an integer from 1 to {MAX_PAGE}", field="limit")
        params = [("limit", str(limit))]
        if kind is not None:
            params.append(("kind", arg.member(Kind, kind, "kind")))
        for name, value in (("key", key), ("tag", tag), ("cursor", cursor)):
            if value is not None:
                params.append((name, arg.text(value, name)))
        if older_than is not None:
            seconds = (
                older_than.total_seconds() if isinstance(older_than, timedelta) else older_than
            )
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
                raise ValidationError(
                    "older_than must be a non-negative duration", field="older_than"
                )
            params.append(("older_than", str(int(seconds))))
        return Call("GET", "/v1/approvals", _message_page, params=tuple(params))

    def _approve(self, id: str, *, reason: str | None = None) -> Call[Message]:
        """Approve a held message another key sent (``approve`` scope); it is then queued
        for delivery. Raises PermissionDeniedError (``self_approval``) for the caller's own
        message, ConflictError (``not_held``, ``message_expired``) and NotFoundError. Not
        retried after a lost answer."""
        body = {"reason": _reason(reason, required=False)}
        return Call(
            "POST",
            arg.message_path(id, "/approve"),
            message_answer,
            content=arg.encode(body),
            headers=_JSON,
            replay_safe=False,
        )

    def _reject(self, id: str, *, reason: str) -> Call[Message]:
        """Reject a held message (it is never sent); ``reason`` is required. The errors
        of :meth:`approve`."""
        body = {"reason": _reason(reason, required=True)}
        return Call(
            "POST",
            arg.message_path(id, "/reject"),
            message_answer,
            content=arg.encode(body),
            headers=_JSON,
            replay_safe=False,
        )

    def _decide(self, decisions: Sequence[Mapping[str, Any]]) -> Call[tuple[DecisionResult, ...]]:
        """Approve or reject up to 100 held messages at once
        (``POST /v1/approvals/decide``): each entry is ``{"id": …, "action": "approve" |
        "reject", "reason": …}`` (a repeated id is decided once). Returns one
        :class:`DecisionResult` per entry, in order."""
        given: object = decisions
        if not isinstance(given, (list, tuple)) or not 1 <= len(given) <= MAX_DECISIONS:
            raise ValidationError(f"decisions: a list of 1 to {MAX_DECISIONS}", field="decisions")
        entries = []
        for entry in given:
            if not isinstance(entry, Mapping):
                raise ValidationError("each decision must be a mapping", field="decisions")
            action, ident = entry.get("action"), entry.get("id")
            if action not in ("approve", "reject"):
                raise ValidationError("action must be approve or reject", field="action")
            if not isinstance(ident, str) or not ident:
                raise ValidationError("id must be a message id such as msg_01…", field="id")
            entries.append(
                {
                    "id": ident,
                    "action": action,
                    "reason": _reason(entry.get("reason"), required=False),
                }
            )
        body = {"decisions": [{k: v for k, v in e.items() if v is not None} for e in entries]}
        return Call(
            "POST",
            "/v1/approvals/decide",
            _decision_results,
            content=arg.encode(body),
            headers=_JSON,
            replay_safe=False,
        )

    def _health(self) -> Call[bool]:
        """True when the relay process answers ``GET /health`` with ``{"status": "ok"}``."""
        return Call("GET", "/health", _is_ok)

    # Approval rules and key oversight (admin scope) ----------------------------------

    def _list_rules(self) -> Call[tuple[ApprovalRule, ...]]:
        """Every approval rule, in the order sends try them (``GET /v1/approval-rules``)."""
        return Call("GET", _RULES, _rules)

    def _get_rule(self, id: str) -> Call[ApprovalRule]:
        """One rule; NotFoundError for an unknown id."""
        return Call("GET", arg.resource_path(_RULES, id, "id"), _rule)

    def _create_rule(
        self,
        action: RuleAction | str,
        conditions: Conditions | None = None,
        *,
        description: str | None = None,
        position: int | None = None,
    ) -> Call[ApprovalRule]:
        """Create a rule (``approve`` or ``hold``) at the end, or at ``position`` (the
        rules from there move down). ``conditions`` maps condition names (``kinds``,
        ``tags``, ``recipients``, ``recipient_domains``, ``senders``, ``api_keys``,
        ``priorities``) to lists of values; none: the rule matches every send. Raises
        ValidationError for a condition the relay refuses (``field`` names it) and
        ConflictError (``too_many_rules``) past 200 rules. Not retried after a lost
        answer (it could create the rule twice)."""
        body = {
            "action": arg.member(RuleAction, action, "action"),
            "conditions": arg.conditions(conditions),
            "description": arg.optional_text(description, "description"),
            "position": arg.position(position),
        }
        return Call(
            "POST",
            _RULES,
            _rule,
            ok=frozenset({201}),
            content=arg.encode(body),
            headers=_JSON,
            replay_safe=False,
        )

    def _update_rule(
        self,
        id: str,
        *,
        action: RuleAction | str | None = None,
        conditions: Conditions | None = None,
        description: str | None = None,
        position: int | None = None,
    ) -> Call[ApprovalRule]:
        """Change the fields given (``conditions`` replaces every condition; a
        ``position`` past the end moves the rule last). NotFoundError for an unknown id."""
        body = {
            "action": None if action is None else arg.member(RuleAction, action, "action"),
            "conditions": arg.conditions(conditions),
            "description": arg.optional_text(description, "description"),
            "position": arg.position(position),
        }
        path = arg.resource_path(_RULES, id, "id")
        return Call("PATCH", path, _rule, content=arg.encode(body), headers=_JSON)

    def _delete_rule(self, id: str) -> Call[None]:
        """Delete a rule (the rules after it move up). NotFoundError for an unknown id.
        Not retried after a lost answer."""
        path = arg.resource_path(_RULES, id, "id")
        return Call("DELETE", path, _nothing, ok=frozenset({204}), replay_safe=False)

    def _set_key_oversight(self, key_id: str, mode: OversightMode | str) -> Call[ApiKeyInfo]:
        """Set a stored key's oversight mode (``PATCH /v1/keys/{id}``). Raises
        PermissionDeniedError (``self_mode_change``) for the calling key itself."""
        body = {"oversight": arg.member(OversightMode, mode, "mode")}
        path = arg.resource_path("/v1/keys", key_id, "key_id")
        return Call("PATCH", path, _key, content=arg.encode(body), headers=_JSON)

    def _sending(
        self,
        path: str,
        body: dict[str, Any],
        dry_run: bool,
        idempotency_key: str | None,
        request_id: str | None,
    ) -> Call[SendOutcome]:
        if not isinstance(dry_run, bool):
            raise ValidationError("dry_run must be True or False", field="dry_run")
        key = arg.idempotency_key(idempotency_key)

        return Call(
            "POST",
            path,
            _send_outcome,
            ok=_SENT,
            content=arg.encode(body),
            headers=arg.request_headers(key, request_id, dry_run=dry_run),
            idempotency_key=key,
            compatible=True,
        )


def _send_outcome(answer: Answer) -> SendOutcome:
    return wire.send_outcome(
        answer.data,
        replayed=answer.replayed,
        idempotency_key=answer.idempotency_key,
        request_id=answer.request_id,
    )


def _accepted(answer: Answer) -> Accepted:
    return wire.accepted(
        answer.data,
        replayed=answer.replayed,
        idempotency_key=answer.idempotency_key,
        request_id=answer.request_id,
    )


def _message_page(answer: Answer) -> MessagePage:
    return wire.message_page(answer.data)


def _audit_page(answer: Answer) -> AuditPage:
    return wire.audit_page(answer.data)


def _audit_verification(answer: Answer) -> AuditVerification:
    return wire.audit_verification(answer.data)


def _rule(answer: Answer) -> ApprovalRule:
    return wire.approval_rule(answer.data)


def _rules(answer: Answer) -> tuple[ApprovalRule, ...]:
    return wire.approval_rules(answer.data)


def _key(answer: Answer) -> ApiKeyInfo:
    return wire.api_key_info(answer.data)


def _nothing(answer: Answer) -> None:
    return None


def _decision_results(answer: Answer) -> tuple[DecisionResult, ...]:
    return wire.decision_results(answer.data)


def _reason(value: object, *, required: bool) -> str | None:
    """A reason as the relay takes it: a string of at most 500 characters (a blank one
    for a rejection is the relay's 422 ``reason_required``)."""
    if value is None and not required:
        return None
    if not isinstance(value, str) or len(value) > MAX_REASON:
        raise ValidationError(
            f"reason must be a string of at most {MAX_REASON} characters", field="reason"
        )
    return value


def _is_ok(answer: Answer) -> bool:
    return isinstance(answer.data, dict) and answer.data.get("status") == "ok"
