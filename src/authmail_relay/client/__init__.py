"""Python client for the relay's HTTP API (needs the ``[http]`` extra, for httpx).

::

    from authmail_relay.client import AuthmailClient

    with AuthmailClient("https://relay.example.com", api_key) as relay:
        outcome = relay.send_otp("ada@example.org", "482913", user_name="Ada")

Everything public is imported from here; the modules behind it are private. Documented in
docs/client.md. Only ``_client`` and ``_base`` import ``httpx``; the rest is standard
library only, and nothing here imports the server side of the package.

Code map:

- ``_client``: :class:`AuthmailClient` and :class:`AsyncAuthmailClient`, the blocking and
  the awaiting twin over one I/O-free base.
- ``_base``: the I/O-free half: settings, requests, answers, errors and retries.
- ``_calls``: one request builder per public method (no I/O); ``_calls_reads``: the
  builders of the long poll, template and domain calls, a base of ``_calls``.
- ``_args``: argument checks and request encoding (no I/O).
- ``_decode``: JSON answers into result types (no I/O); ``_decode_resources``: the same
  for the template and domain answers.
- ``_models``: the result types; ``_resources``: those of the template and domain calls.
"""

from __future__ import annotations

from ._client import (
    Accepted,
    ApiKeyInfo,
    ApprovalRule,
    AsyncAuthmailClient,
    AuditEntry,
    AuditPage,
    AuditVerification,
    AuthmailClient,
    DecisionResult,
    DomainDkim,
    DomainDmarc,
    DomainReport,
    DomainSpf,
    ErrorInfo,
    FieldError,
    Message,
    MessageAttempt,
    MessageAuditEntry,
    MessageEvent,
    MessagePage,
    SendOutcome,
    SendStatus,
    TemplateCatalog,
    TemplateKind,
    TemplatePreview,
    error_info,
)

__all__ = [
    "Accepted",
    "ApiKeyInfo",
    "ApprovalRule",
    "AsyncAuthmailClient",
    "AuditEntry",
    "AuditPage",
    "AuditVerification",
    "AuthmailClient",
    "DecisionResult",
    "DomainDkim",
    "DomainDmarc",
    "DomainReport",
    "DomainSpf",
    "ErrorInfo",
    "FieldError",
    "Message",
    "MessageAttempt",
    "MessageAuditEntry",
    "MessageEvent",
    "MessagePage",
    "SendOutcome",
    "SendStatus",
    "TemplateCatalog",
    "TemplateKind",
    "TemplatePreview",
    "error_info",
]
