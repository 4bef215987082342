"""Storage: every store, its SQL, the engines and the migrations (needs the ``[http]`` extra).

SQLAlchemy, Alembic and the database drivers are imported only inside this room. Documented
in docs/storage.md; "Adding a database" there names the modules that know which database
they talk to (``sql``, ``engine``, ``schema``, ``write_gate``, ``migrate``).

Code map:

- ``api_keys_store``: stored API keys: create, read, list, revoke, rotate, authenticate.
- ``audit_reads``: the audit trail read back: filtered listings, the chain and checkpoints
  in pages, storing a checkpoint.
- ``approval_batches``: deciding up to 100 held messages at once, each on its own.
- ``approvals``: deciding held messages (approve, reject), listing them, and reading the
  approval rules at intake (SQL of ``Outbox``).
- ``approval_sweeps``: expiring held messages, reporting unused sent ones (SQL of
  ``Outbox``).
- ``audit_store``: the audit trail: appending to the hash chain in the caller's transaction.
- ``audit_verify``: verifying the stored chain and every signed checkpoint.
- ``engine``: opening the database: URLs, drivers, connection settings, error translation.
- ``group_commit``: write the results that arrive together in one transaction.
- ``idempotency``: idempotency keys: a retried request gets the first request's answer.
- ``lease_recovery``: take over at once what a worker that provably died still leases.
- ``migrate``: apply and check the schema migrations (``migrations/``, Alembic).
- ``outbox``: the durable outbox, the index of every operation on messages.
- ``outbox_actions``: storing, cancelling and consuming a message (SQL of ``Outbox``).
- ``outbox_claims``: claiming, extending a lease, handing a message back (SQL of ``Outbox``).
- ``outbox_events``: writing events and the webhook deliveries they fan out to.
- ``outbox_queries``: the outbox's own SQL: listed columns, the claim, lease guard, filters.
- ``outbox_reads``: reading messages, events, attempts, counts, the clock (SQL of ``Outbox``).
- ``outbox_records``: the values that go into and come out of the outbox.
- ``outbox_results``: recording sent, deferred, failed, expired and failed-over attempts.
- ``outbox_writer``: the write transaction, events and sealing every outbox write shares.
- ``rate_store``: rate-limit buckets, checked and recorded in the caller's transaction.
- ``rules_store``: approval rules: list, read, create, update, delete (dense positions).
- ``retention_sweep``: erase what finished messages no longer need.
- ``schema``: the tables, as SQLAlchemy Core (the reference description of the schema).
- ``sql``: the SQL every store shares and every SQLite/PostgreSQL difference in it.
- ``wakeups``: waking workers in other processes (PostgreSQL ``LISTEN``/``NOTIFY``).
- ``webhook_queue``: the dispatcher's side of webhook deliveries: claim, record, release.
- ``webhook_store``: registered webhook endpoints and the delivery log.
- ``write_gate``: one writer at a time per SQLite database in a process, urgent ones first.
- ``write_health``: whether this process's writes to a database are failing (``/ready``).
"""

from __future__ import annotations

from .engine import SUPPORTED_SCHEMES, create_engine, is_sqlite, sqlite_path
from .migrate import current_revision, head_revision, is_current, upgrade

__all__ = [
    "SUPPORTED_SCHEMES",
    "create_engine",
    "current_revision",
    "head_revision",
    "is_current",
    "is_sqlite",
    "sqlite_path",
    "upgrade",
]
