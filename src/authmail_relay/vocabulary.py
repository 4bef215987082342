"""The closed vocabulary of the relay.

Every status, event type, error code, priority, message kind and TLS mode used anywhere
(database, API, events, logs, CLI output, library results) is a member of one of these
enums. The member *values* are the wire strings; nothing else in the package spells them
as literals. Adding a member is an API change and goes in the changelog.
"""

from __future__ import annotations

from enum import Enum


class _Vocabulary(str, Enum):
    """A string enum whose ``str()`` and ``format()`` are the bare wire value."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class MessageStatus(_Vocabulary):
    """Where a stored message is in its life cycle."""

    #: Stored and waiting for a worker (or for ``send_at``).
    QUEUED = "queued"
    #: Claimed by a worker under a lease; an SMTP transaction may be under way.
    SENDING = "sending"
    #: A transient failure happened; waiting for ``next_attempt_at`` to retry.
    DEFERRED = "deferred"
    #: Accepted by the upstream SMTP server (``250`` after the final dot).
    SENT = "sent"
    #: Will not be sent: permanent refusal, or retries exhausted (see ``error_code``).
    FAILED = "failed"
    #: ``expires_at`` passed before the message could be sent; never handed to SMTP.
    EXPIRED = "expired"
    #: Withdrawn by the caller before a worker sent it; never handed to SMTP.
    CANCELLED = "cancelled"
    #: Sent, and the caller reported that the link or code in it was used.
    CONSUMED = "consumed"
    #: Waiting for a person (or an ``approve`` rule) to approve it; never claimed by a
    #: worker. Approval makes it ``queued``; rejection ``rejected``.
    HELD = "held"
    #: An approver rejected it while it was held; never handed to SMTP.
    REJECTED = "rejected"

    @property
    def is_terminal(self) -> bool:
        """True when no worker will ever touch the message again."""
        return self in _TERMINAL

    @property
    def ends_wait(self) -> bool:
        """True when a long poll on the message (``GET /v1/messages/{id}?wait=``) answers
        at once: a terminal status, or ``held`` (only an approver moves it on, so waiting
        longer would show nothing new)."""
        return self.is_terminal or self is MessageStatus.HELD


_TERMINAL = frozenset(
    {
        MessageStatus.SENT,
        MessageStatus.FAILED,
        MessageStatus.EXPIRED,
        MessageStatus.CANCELLED,
        MessageStatus.CONSUMED,
        MessageStatus.REJECTED,
    }
)


class EventType(_Vocabulary):
    """What happened to a message; one event row is written with every state change."""

    #: Accepted and stored (status ``queued``).
    QUEUED = "message.queued"
    #: Claimed by a worker (status ``sending``); data says whether a stale lease was taken over.
    SENDING = "message.sending"
    #: Handed back to the queue unsent by a worker that was stopping (status ``queued``).
    REQUEUED = "message.requeued"
    #: A transient failure; a retry is scheduled (status ``deferred``).
    DEFERRED = "message.deferred"
    #: Accepted by the upstream SMTP server (status ``sent``).
    SENT = "message.sent"
    #: Given up: permanent refusal or retries exhausted (status ``failed``).
    FAILED = "message.failed"
    #: Its ``expires_at`` passed before it could be sent (status ``expired``).
    EXPIRED = "message.expired"
    #: Withdrawn by the caller while still waiting (status ``cancelled``).
    CANCELLED = "message.cancelled"
    #: The caller reported the link or code as used (status ``consumed``).
    CONSUMED = "message.consumed"
    #: Stored and held for approval (status ``held``).
    HELD = "message.held"
    #: Approved by a key with the ``approve`` scope or by a rule (status ``queued``).
    APPROVED = "message.approved"
    #: Rejected by an approver while held (status ``rejected``).
    REJECTED = "message.rejected"
    #: Stored from a key in ``monitored`` mode: sent at once, reported for review
    #: (status ``queued``).
    MONITORED = "message.monitored"
    #: A sent auth message whose ``expires_at`` passed without a consume report
    #: (status stays ``sent``).
    UNUSED = "message.unused"


class ErrorCode(_Vocabulary):
    """Why a send did not (fully) succeed. Stable strings, documented in ``docs/errors.md``."""

    #: The server rejected the credentials (``535`` and friends).
    SMTP_AUTH_FAILED = "smtp_auth_failed"
    #: Credentials are configured but the server offers no AUTH mechanism we can use.
    SMTP_AUTH_UNSUPPORTED = "smtp_auth_unsupported"
    #: Refused to send credentials over a connection without TLS.
    PLAINTEXT_AUTH_REFUSED = "plaintext_auth_refused"
    #: Could not connect (refused, unreachable, DNS failure) or the connection dropped
    #: before the message data was complete. Nothing was delivered; safe to retry.
    SMTP_CONNECTION = "smtp_connection"
    #: The server did not answer in time before the message data was complete.
    SMTP_TIMEOUT = "smtp_timeout"
    #: A ``4xx`` reply: the server asks to try again later.
    SMTP_TRANSIENT = "smtp_transient"
    #: A ``5xx`` reply to the sender or the message data: permanent.
    SMTP_REJECTED = "smtp_rejected"
    #: The connection dropped or timed out after the final dot, before the reply:
    #: the server may or may not have taken the message.
    SMTP_DISCONNECT_UNCERTAIN = "smtp_disconnect_uncertain"
    #: Every recipient was refused (or, on a partial send, some were).
    RECIPIENT_REFUSED = "recipient_refused"
    #: TLS was required but the server does not offer STARTTLS.
    STARTTLS_UNSUPPORTED = "starttls_unsupported"
    #: The TLS handshake failed, e.g. the certificate could not be verified.
    TLS_ERROR = "tls_error"
    #: A header-bound value held CR, LF, NUL or another control character.
    CRLF_IN_HEADER = "crlf_in_header"
    #: An address is not a valid mailbox.
    INVALID_ADDRESS = "invalid_address"
    #: A non-ASCII address needs SMTPUTF8, which the server does not offer.
    SMTPUTF8_UNSUPPORTED = "smtputf8_unsupported"
    #: The message's ``expires_at`` passed before it could be sent.
    EXPIRED = "expired"
    #: Anything else; the message says what.
    UNKNOWN = "unknown"


class Priority(_Vocabulary):
    """Delivery lane. Auth kinds default to ``high``."""

    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class Kind(_Vocabulary):
    """What a message is: raw mail from the caller, or one of the built-in auth mails."""

    RAW = "raw"
    OTP = "otp"
    MAGIC_LINK = "magic_link"
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a kind name, not a secret


class BreakerState(_Vocabulary):
    """The circuit breaker of one upstream SMTP server (see ``docs/delivery.md``)."""

    #: Healthy: messages are sent through it.
    CLOSED = "closed"
    #: Failing: skipped until its cool-down ends.
    OPEN = "open"
    #: Cool-down over: one message is tried; its result closes or re-opens the breaker.
    HALF_OPEN = "half_open"


class TlsMode(_Vocabulary):
    """How the connection to the upstream SMTP server is protected."""

    #: Plain connect, then ``STARTTLS`` (required, never skipped). Default on port 587.
    STARTTLS = "starttls"
    #: TLS from the first byte (SMTPS). Default on port 465.
    IMPLICIT = "implicit"
    #: No TLS at all. Only when asked for explicitly; AUTH is then refused unless allowed.
    NONE = "none"


#: The event types reported to webhooks: one closed set, documented in ``docs/webhooks.md``.
#: ``queued``, ``sending`` and ``requeued`` are internal steps and are not reported. New
#: outcomes (for instance bounces) join as new :class:`EventType` members added here.
WEBHOOK_EVENT_TYPES: frozenset[EventType] = frozenset(
    {
        EventType.SENT,
        EventType.DEFERRED,
        EventType.FAILED,
        EventType.EXPIRED,
        EventType.CANCELLED,
        EventType.CONSUMED,
        EventType.HELD,
        EventType.APPROVED,
        EventType.REJECTED,
        EventType.MONITORED,
        EventType.UNUSED,
    }
)


class DeliveryStatus(_Vocabulary):
    """Where one webhook delivery (one event to one target) is."""

    #: Waiting for its next attempt (or being attempted right now, under a lease).
    PENDING = "pending"
    #: The receiver answered ``2xx``.
    SUCCEEDED = "succeeded"
    #: Given up: retries exhausted, a permanent refusal, a blocked address or a disabled
    #: endpoint. A replay makes it pending again.
    FAILED = "failed"


class Scope(_Vocabulary):
    """What an API key may do; every authenticated route needs exactly one of these."""

    #: Create messages (``/send*``, ``POST /v1/messages``, batches, dry runs) and act on
    #: them afterwards (cancel, consume).
    SEND = "send"
    #: Read messages, templates, webhook deliveries and domains.
    READ = "read"
    #: Approve or reject held messages made by other keys (never together with ``send``
    #: on a stored key: separation of duties).
    APPROVE = "approve"
    #: Manage API keys, webhook endpoints and approval rules; read the audit trail.
    ADMIN = "admin"
    #: Read and verify the audit trail (and nothing else).
    AUDIT = "audit"


class OversightMode(_Vocabulary):
    """How closely the sends of one API key are watched (see ``docs/oversight.md``).

    Ordered from most to least supervised: :meth:`looser_than` compares two modes.
    """

    #: May read, never send (``403 read_only``).
    READ_ONLY = "read_only"
    #: Every send is held for approval unless an ``approve`` rule matches.
    GATED = "gated"
    #: Sent at once; each send raises ``message.monitored`` for reviewers.
    MONITORED = "monitored"
    #: Sent at once (unless a ``hold`` rule matches). The default.
    AUTONOMOUS = "autonomous"

    def looser_than(self, other: OversightMode) -> bool:
        """True when this mode watches sends less closely than *other*."""
        order = list(OversightMode)
        return order.index(self) > order.index(other)


class RuleAction(_Vocabulary):
    """What an approval rule does to a send it matches."""

    #: Approve at once (recorded as an approval by the rule).
    APPROVE = "approve"
    #: Hold for review, even a send from an autonomous or monitored key.
    HOLD = "hold"


class AuditAction(_Vocabulary):
    """What one audit entry records (see ``docs/oversight.md``, "Audit format")."""

    ACCEPTED = "message.accepted"
    HELD = "message.held"
    APPROVED = "message.approved"
    REJECTED = "message.rejected"
    SENT = "message.sent"
    FAILED = "message.failed"
    EXPIRED = "message.expired"
    CANCELLED = "message.cancelled"
    CONSUMED = "message.consumed"
    UNUSED = "message.unused"
    KEY_CREATED = "key.created"
    KEY_REVOKED = "key.revoked"
    KEY_ROTATED = "key.rotated"
    KEY_MODE_CHANGED = "key.mode_changed"
    WEBHOOK_CREATED = "webhook.created"
    WEBHOOK_UPDATED = "webhook.updated"
    WEBHOOK_DELETED = "webhook.deleted"
    WEBHOOK_ROTATED = "webhook.rotated"
    RULE_CREATED = "rule.created"
    RULE_UPDATED = "rule.updated"
    RULE_DELETED = "rule.deleted"
