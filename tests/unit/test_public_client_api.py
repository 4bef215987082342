"""The SDK's public surface is deliberate: this test pins its names and its methods."""

from __future__ import annotations

import inspect

import pytest

pytest.importorskip("httpx", reason="the SDK needs the [http] extra")

from authmail_relay import client
from authmail_relay.client import AsyncAuthmailClient, AuthmailClient

EXPECTED = {
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
}
METHODS = {
    "approve",
    "cancel",
    "check_domain",
    "consume",
    "create_message",
    "create_rule",
    "decide",
    "delete_rule",
    "get_message",
    "get_rule",
    "health",
    "list_approvals",
    "list_audit",
    "list_messages",
    "list_rules",
    "list_templates",
    "preview_template",
    "reject",
    "send",
    "send_magic_link",
    "send_otp",
    "send_password_reset",
    "set_key_oversight",
    "update_rule",
    "verify_audit",
    "wait_for_message",
}
SENDING = ("send", "send_otp", "send_magic_link", "send_password_reset", "create_message")


def test_all_is_pinned() -> None:
    """Adding or removing a public name is a conscious change to this list."""
    assert set(client.__all__) == EXPECTED
    assert sorted(client.__all__) == client.__all__
    for name in EXPECTED:
        assert hasattr(client, name), name


def test_the_methods_are_pinned() -> None:
    public = {name for name in dir(AuthmailClient) if not name.startswith("_")}
    assert public - {"close"} == METHODS
    awaiting = {name for name in dir(AsyncAuthmailClient) if not name.startswith("_")}
    assert awaiting - {"aclose"} == public - {"close"}


def test_the_signatures_the_mcp_server_calls() -> None:
    """The interface another component is built against: exactly these signatures."""
    for name in SENDING:
        parameter = inspect.signature(getattr(AuthmailClient, name)).parameters["send_at"]
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
        assert parameter.default is None
        assert parameter.annotation == "datetime | str | None"
    expected = {
        "wait_for_message": "(self, id: 'str', *, timeout: 'float' = 30.0) -> 'Message'",
        "list_templates": "(self) -> 'TemplateCatalog'",
        "preview_template": (
            "(self, kind: 'str', *, locale: 'str | None' = None) -> 'TemplatePreview'"
        ),
        "check_domain": "(self, domain: 'str') -> 'DomainReport'",
    }
    for name, signature in expected.items():
        for twin in (AuthmailClient, AsyncAuthmailClient):
            assert str(inspect.signature(getattr(twin, name))) == signature, name
