"""The database schema, as SQLAlchemy Core tables.

This module is the reference description of the schema; the Alembic migrations in
``authmail_relay/migrations/versions`` build exactly these tables (a test reflects a
migrated database and compares it with :data:`metadata`). Change both together.

Conventions (see ``docs/storage.md``):

* Every timestamp is a ``BIGINT`` count of milliseconds since the Unix epoch (UTC), taken
  from the database clock, so both dialects store and compare them the same way.
* Vocabulary values (status, kind, priority, event type, error code) are stored as their
  wire strings in ``TEXT`` columns; only the enums in :mod:`authmail_relay.vocabulary`
  produce them.
* JSON values (recipients, tags, metadata, event data, stored response headers) are
  stored as ``TEXT`` holding compact JSON, encoded and decoded by the code that owns them.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    Table,
    Text,
    false,
    text,
    true,
)

from ..vocabulary import Priority

__all__ = [
    "PRIORITY_RANK",
    "SMTP_REPLY_MAX_CHARS",
    "api_keys",
    "approval_rules",
    "attempts",
    "audit",
    "audit_checkpoints",
    "events",
    "idempotency_keys",
    "messages",
    "metadata",
    "rate_events",
    "webhook_attempts",
    "webhook_deliveries",
    "webhook_endpoints",
]

#: Claim order of the delivery lanes: lower ranks are claimed first.
PRIORITY_RANK: Mapping[Priority, int] = {Priority.HIGH: 0, Priority.NORMAL: 1, Priority.LOW: 2}

#: Upstream replies are cut to this many characters before they are stored.
SMTP_REPLY_MAX_CHARS = 500

# Deterministic constraint and index names, so migrations can refer to them by name on
# every dialect.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _serial_id() -> Column[int]:
    # BIGINT identity on PostgreSQL; on SQLite only "INTEGER PRIMARY KEY" is the rowid
    # alias that autoincrements, hence the variant.
    return Column(
        "id",
        BigInteger().with_variant(Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    )


messages = Table(
    "messages",
    metadata,
    Column("id", Text, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("priority", Text, nullable=False),
    Column("priority_rank", SmallInteger, nullable=False),
    Column("status", Text, nullable=False),
    Column("sender", Text, nullable=False),
    Column("recipients", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("message_id", Text, nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("tags", Text, nullable=False, server_default=text("'[]'")),
    # The attribute is ``meta`` because ``metadata`` means something else to SQLAlchemy.
    Column("metadata", Text, key="meta", nullable=False, server_default=text("'{}'")),
    Column("request_id", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=True),
    Column("give_up_at", BigInteger, nullable=False),
    Column("attempt_count", Integer, nullable=False, server_default=text("0")),
    Column("lease_token", Text, nullable=True),
    Column("lease_owner", Text, nullable=True),
    Column("lease_expires_at", BigInteger, nullable=True),
    # Whether the latest claim took the message over from an expired lease.
    Column("lease_reclaimed", Boolean, nullable=False, server_default=false()),
    Column("sent_at", BigInteger, nullable=True),
    Column("last_error_code", Text, nullable=True),
    Column("last_error_message", Text, nullable=True),
    # Added by 0002. Where to report this message's progress, and the secret to sign
    # those reports with (sealed, see secrets_at_rest; never part of a listing). Both
    # are cleared once the message is done with them (see retention.py).
    Column("webhook_url", Text, nullable=True),
    Column("webhook_secret", Text, nullable=True),
    # An opaque fingerprint of the API key that created the message (never the key).
    Column("api_key_id", Text, nullable=True),
    Column("cancelled_at", BigInteger, nullable=True),
    Column("consumed_at", BigInteger, nullable=True),
    # Added by 0006: when the stored bytes were erased (raw is then empty) and how many
    # there were, so the size stays known.
    Column("raw_purged_at", BigInteger, nullable=True),
    Column("raw_size", Integer, nullable=True),
    # Added by 0008 (oversight): who approved or rejected a held message (a key id,
    # "cli"), or which rule approved it at intake (the rule id "apr_…"), when, and why;
    # and when a sent auth message was found past its expires_at without a consume
    # report (message.unused).
    Column("decided_at", BigInteger, nullable=True),
    Column("decided_by", Text, nullable=True),
    Column("decision_reason", Text, nullable=True),
    Column("unused_at", BigInteger, nullable=True),
    # The claim query filters on status and orders by lane, due time and id.
    Index(None, "status", "priority_rank", "next_attempt_at", "id"),
    # Listing, newest first, optionally by status or by API key; and retention by age.
    Index(None, "status", "id"),
    Index(None, "created_at"),
    Index(None, "api_key_id", "id"),
    # The retention sweep: terminal messages whose bytes are still stored, oldest first;
    # and those that still keep a webhook URL.
    Index(None, "raw_purged_at", "updated_at"),
    Index(
        "ix_messages_webhook_kept",
        "updated_at",
        sqlite_where=text("webhook_url IS NOT NULL"),
        postgresql_where=text("webhook_url IS NOT NULL"),
    ),
    # The oversight sweep: sent messages with an expiry not yet reported unused.
    Index(
        "ix_messages_unused_due",
        "expires_at",
        sqlite_where=text("status = 'sent' AND unused_at IS NULL AND expires_at IS NOT NULL"),
        postgresql_where=text("status = 'sent' AND unused_at IS NULL AND expires_at IS NOT NULL"),
    ),
)

attempts = Table(
    "attempts",
    metadata,
    _serial_id(),
    Column(
        "message_id",
        Text,
        ForeignKey("messages.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("number", Integer, nullable=False),
    Column("worker_id", Text, nullable=False),
    Column("upstream", Text, nullable=False),
    Column("started_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger, nullable=False),
    Column("result", Text, nullable=False),
    Column("error_code", Text, nullable=True),
    Column("smtp_code", Integer, nullable=True),
    Column("smtp_reply", Text, nullable=True),
    Column("ambiguous", Boolean, nullable=False, server_default=false()),
    # Recorded by a worker whose lease had already passed to another worker.
    Column("superseded", Boolean, nullable=False, server_default=false()),
    Index(None, "message_id", "number"),
    sqlite_autoincrement=True,
)

events = Table(
    "events",
    metadata,
    # Global order of everything that happened; never reused, even after deletions.
    _serial_id(),
    Column(
        "message_id",
        Text,
        ForeignKey("messages.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("type", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("data", Text, nullable=False, server_default=text("'{}'")),
    Index(None, "message_id", "id"),
    sqlite_autoincrement=True,
)

#: Idempotency keys per API key; see :mod:`authmail_relay.db.idempotency` for the life cycle.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    # The API key fingerprint: the same key string from two API keys is two entries.
    Column("scope", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    # Hex SHA-256 of the canonical request, computed by the caller.
    Column("request_hash", Text, nullable=False),
    Column("state", Text, nullable=False),
    # Held by the request being processed; both NULL once it is done.
    Column("lock_token", Text, nullable=True),
    Column("locked_until", BigInteger, nullable=True),
    # The outbox message stored for this request, set in the same transaction.
    Column("message_id", Text, nullable=True),
    # The response to replay: status, body (JSON text) and extra headers (a JSON object).
    Column("response_status", Integer, nullable=True),
    Column("response_body", Text, nullable=True),
    Column("response_headers", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Index(None, "expires_at"),
)

#: Registered webhook endpoints (since 0003); see :mod:`authmail_relay.db.webhook_store`.
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    # "whep_" + ULID.
    Column("id", Text, primary_key=True),
    Column("url", Text, nullable=False),
    Column("description", Text, nullable=False, server_default=text("''")),
    # JSON list of event type strings; an empty list means every webhook event type.
    Column("event_types", Text, nullable=False, server_default=text("'[]'")),
    Column("enabled", Boolean, nullable=False, server_default=true()),
    # Why the relay disabled it by itself (e.g. the receiver answered 410); NULL otherwise.
    Column("disabled_reason", Text, nullable=True),
    # The signing secret ("whsec_" + base64), and the one it replaced, which stays valid
    # (both signatures are sent) until previous_secret_expires_at.
    Column("secret", Text, nullable=False),
    Column("previous_secret", Text, nullable=True),
    Column("previous_secret_expires_at", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

#: One row per (event, target): the notification and its delivery state (since 0003).
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    # "whd_" + ULID; sent as the webhook-id header, stable across retries.
    Column("id", Text, primary_key=True),
    Column(
        "event_id",
        BigInteger().with_variant(Integer(), "sqlite"),
        ForeignKey("events.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column(
        "message_id",
        Text,
        ForeignKey("messages.id", ondelete="CASCADE"),
        nullable=False,
    ),
    # The registered endpoint; NULL for the message's own (per-request) webhook_url.
    Column(
        "endpoint_id",
        Text,
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
        nullable=True,
    ),
    Column("event_type", Text, nullable=False),
    # The exact JSON body, fixed when the event happened; every attempt sends these bytes.
    Column("payload", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempt_count", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", BigInteger, nullable=False),
    # No retry is scheduled after this (creation or replay + WEBHOOK_MAX_AGE_SECONDS).
    Column("give_up_at", BigInteger, nullable=False),
    Column("lease_token", Text, nullable=True),
    Column("lease_owner", Text, nullable=True),
    Column("lease_expires_at", BigInteger, nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger, nullable=True),
    # Who receives it, for the fair share of the dispatcher's slots (since 0007):
    # "endpoint:<id>", or "host:<host>:<port>" of a per-request webhook_url; see
    # authmail_relay.webhooks.targets.
    Column("target", Text, nullable=False, server_default=text("''")),
    # The claim filters on status and due time, and counts live leases per target;
    # ordering looks at one message's rows; listings go by endpoint, newest first.
    Index(None, "status", "next_attempt_at"),
    Index(None, "message_id", "event_id"),
    Index(None, "endpoint_id", "id"),
    Index(None, "lease_expires_at"),
)

#: One row per HTTP attempt of a delivery (since 0003).
webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    _serial_id(),
    Column(
        "delivery_id",
        Text,
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("number", Integer, nullable=False),
    Column("worker_id", Text, nullable=False),
    Column("started_at", BigInteger, nullable=False),
    Column("latency_ms", Integer, nullable=False),
    # The receiver's HTTP status; NULL when none was received (network error, timeout,
    # blocked address).
    Column("status_code", Integer, nullable=True),
    # succeeded, retry or failed: what the attempt led to.
    Column("result", Text, nullable=False),
    Column("error", Text, nullable=True),
    # The start of the response body, at most 1 KiB, for debugging.
    Column("response", Text, nullable=True),
    Index(None, "delivery_id", "id"),
    sqlite_autoincrement=True,
)

#: Stored API keys (since 0004); see :mod:`authmail_relay.db.api_keys_store`.
api_keys = Table(
    "api_keys",
    metadata,
    # 12 lower-case base32 characters: the public part of "amr_<id>_<secret>".
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    # Hex SHA-256 of the secret; the secret itself is never stored.
    Column("secret_hash", Text, nullable=False),
    # JSON lists: scope names, normalised sender rules, link origins.
    Column("scopes", Text, nullable=False),
    Column("allowed_senders", Text, nullable=False, server_default=text("'[]'")),
    Column("allowed_origins", Text, nullable=False, server_default=text("'[]'")),
    # Requests per minute (since 0005 enforced; NULL: KEY_REQUESTS_PER_MINUTE).
    Column("rate_limit_per_minute", Integer, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=True),
    # Updated at most once a minute.
    Column("last_used_at", BigInteger, nullable=True),
    Column("revoked_at", BigInteger, nullable=True),
    # The id of the key this one replaced, for a rotation.
    Column("rotated_from", Text, nullable=True),
    # Since 0008: the key's oversight mode (an OversightMode value).
    Column("oversight", Text, nullable=False, server_default=text("'autonomous'")),
)

#: Auto-approve / force-hold rules, tried in ``position`` order (since 0008); see
#: :mod:`authmail_relay.db.rules_store`.
approval_rules = Table(
    "approval_rules",
    metadata,
    # "apr_" + ULID.
    Column("id", Text, primary_key=True),
    Column("position", Integer, nullable=False),
    # A RuleAction value.
    Column("action", Text, nullable=False),
    # A JSON object: the conditions (every one given must match); see oversight/rules.py.
    Column("conditions", Text, nullable=False, server_default=text("'{}'")),
    Column("description", Text, nullable=False, server_default=text("''")),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index(None, "position", "id"),
)

#: The append-only, hash-chained audit trail (since 0008); see
#: :mod:`authmail_relay.db.audit_store`. Triggers refuse UPDATE and DELETE.
audit = Table(
    "audit",
    metadata,
    # 1, 2, 3, … with no gaps: assigned under the audit lock, never reused.
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", BigInteger, nullable=False),
    # Who: a key id, a rule id "apr_…", "cli", "relay" (the worker and sweeps).
    Column("actor", Text, nullable=False),
    # An AuditAction value.
    Column("action", Text, nullable=False),
    # What it is about: a message, key, webhook endpoint or rule id.
    Column("subject", Text, nullable=False),
    # A JSON object of non-secret facts (never a token, code, link, body or address).
    Column("data", Text, nullable=False, server_default=text("'{}'")),
    # Hex SHA-256: the previous entry's hash (64 zeros for the first) and this entry's.
    Column("prev_hash", Text, nullable=False),
    Column("hash", Text, nullable=False),
    Index(None, "subject", "seq"),
    Index(None, "action", "seq"),
    Index(None, "actor", "seq"),
    Index(None, "at"),
)

#: Signed checkpoints of the audit chain's head (since 0008).
audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    # The seq of the chain's head when the checkpoint was made.
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("head_hash", Text, nullable=False),
    Column("at", BigInteger, nullable=False),
    # Which signing key made it (a short fingerprint, never the key) and the signature.
    Column("key_id", Text, nullable=False),
    Column("signature", Text, nullable=False),
)

#: One row per counted event of a rate-limit bucket (since 0005); see
#: :mod:`authmail_relay.db.rate_store`. Rows older than the bucket's window are purged.
rate_events = Table(
    "rate_events",
    metadata,
    _serial_id(),
    # "recipient:<kind>:<address>" or "domain:<domain>".
    Column("bucket", Text, nullable=False),
    Column("at_ms", BigInteger, nullable=False),
    # When the event stops mattering to its bucket (at_ms + the bucket's window); any
    # check purges rows past it, so buckets that are never checked again do not linger.
    Column("expires_at", BigInteger, nullable=False),
    Index(None, "bucket", "at_ms"),
    Index(None, "expires_at"),
    sqlite_autoincrement=True,
)
