"""Every request field has a length cap, enforced by the schema before any check scans it.

An over-long value is a 422 ``validation_error`` from the request model, answered at
once, whatever the value holds (the header checks of the core never see it). The
published schema states every cap: no string without ``maxLength``, no list without
``maxItems``, no free-form object without ``maxProperties``.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from authmail_relay.mail.composing import MAX_CUSTOM_HEADERS, MAX_REPLY_TO
from authmail_relay.mail.message_request import MAX_METADATA_BYTES, MAX_TAG_LENGTH, MAX_TAGS
from authmail_relay.mail.validation import MAX_CUSTOM_HEADER_NAME, MAX_HEADER_CHARS
from tests.api.conftest import Api

pytestmark = pytest.mark.slow

MAIL = {"to": "a@example.com", "subject": "s", "text_body": "x"}
# The shape of the red-team payload: thousands of encoded-word ends, costly to scan.
SCAN_BAIT = "=?utf-8?q?" + "?=" * 4000
OVER_HEADER = "x" * (MAX_HEADER_CHARS + 1)

OVER_CAP: list[tuple[str, dict[str, Any]]] = [
    ("to", {"to": SCAN_BAIT}),
    ("to", {"to": ["a@example.com", SCAN_BAIT]}),
    ("cc", {"cc": [SCAN_BAIT]}),
    ("bcc", {"bcc": [SCAN_BAIT]}),
    ("reply_to", {"reply_to": SCAN_BAIT}),
    ("reply_to", {"reply_to": ["a@example.com"] * (MAX_REPLY_TO + 1)}),
    ("from", {"from": SCAN_BAIT}),
    ("headers", {"headers": {"X-A": SCAN_BAIT}}),
    ("headers", {"headers": {"X-" + "a" * MAX_CUSTOM_HEADER_NAME: "v"}}),
    ("headers", {"headers": {f"X-H{i}": "v" for i in range(MAX_CUSTOM_HEADERS + 1)}}),
    ("subject", {"subject": OVER_HEADER}),
    ("tags", {"tags": ["t" * (MAX_TAG_LENGTH + 1)]}),
    ("tags", {"tags": ["t"] * (MAX_TAGS + 1)}),
    ("metadata", {"metadata": {"k" * (MAX_METADATA_BYTES + 1): 1}}),
    ("metadata", {"metadata": {"k": "v" * MAX_METADATA_BYTES}}),
    ("user_name", {"kind": "otp", "code": "1", "user_name": OVER_HEADER}),
    ("send_at", {"send_at": "2026-11-21T12:00:00." + "1" * 100_000 + "Z"}),
]


def _assert_capped(response: Any, field: str, started: float) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["error_code"] == "validation_error"
    assert {"type", "title", "status", "detail", "request_id", "errors"} <= body.keys()
    assert any(error["field"].split(".")[0] == field for error in body["errors"]), body
    # Refused by the model before any scan: scanning SCAN_BAIT took seconds (the bound
    # leaves room for a loaded test machine).
    assert time.perf_counter() - started < 2.0


@pytest.mark.parametrize(("field", "changes"), OVER_CAP, ids=[f for f, _ in OVER_CAP])
async def test_over_cap_message_fields_are_refused_by_the_schema(
    api: Api, field: str, changes: dict[str, Any]
) -> None:
    """/v1/messages, a batch item and /send give the same 422, at once."""
    payload = {**MAIL, **changes}
    started = time.perf_counter()
    response = await api.client.post("/v1/messages", json=payload)
    _assert_capped(response, field, started)

    if "kind" not in changes:  # /send has no kind, and ignores user_name
        started = time.perf_counter()
        response = await api.client.post("/send", json={**payload, "html_body": "<p>x</p>"})
        _assert_capped(response, field, started)

    response = await api.client.post("/v1/messages/batch", json={"messages": [payload]})
    problem = response.json()["results"][0]["problem"]
    assert problem["error_code"] == "validation_error"
    assert problem["errors"][0]["field"].startswith(field)
    assert await api.relay.list_messages() == []


@pytest.mark.parametrize(
    ("route", "payload", "field"),
    [
        ("/send/otp", {"to": SCAN_BAIT, "code": "1"}, "to"),
        ("/send/otp", {"to": "a@example.com", "code": "1", "tags": ["t"] * 11}, "tags"),
        (
            "/send/magic-link",
            {"to": "a@example.com", "token": "t", "reply_to": SCAN_BAIT},
            "reply_to",
        ),
        (
            "/v1/keys",
            {"name": "k", "scopes": ["send"], "allowed_senders": ["a" * 300]},
            "allowed_senders",
        ),
        ("/v1/webhooks", {"url": "https://h.example.com/" + "a" * 2048}, "url"),
    ],
)
async def test_over_cap_fields_of_other_routes(
    api: Api, route: str, payload: dict[str, Any], field: str
) -> None:
    started = time.perf_counter()
    _assert_capped(await api.client.post(route, json=payload), field, started)


def _walk(schema: dict[str, Any], components: dict[str, Any], path: str, seen: set[str]):  # type: ignore[no-untyped-def]
    """Yield (path, sub-schema) for every schema reachable from *schema*."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        if name in seen:
            return
        seen = seen | {name}
        schema = components[name]
    yield path, schema
    for key in ("anyOf", "oneOf", "allOf"):
        for index, option in enumerate(schema.get(key, [])):
            yield from _walk(option, components, f"{path}|{index}", seen)
    for name, prop in schema.get("properties", {}).items():
        yield from _walk(prop, components, f"{path}.{name}", seen)
    if isinstance(schema.get("items"), dict):
        yield from _walk(schema["items"], components, f"{path}[]", seen)
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _walk(schema["additionalProperties"], components, f"{path}{{}}", seen)
    if isinstance(schema.get("propertyNames"), dict):
        yield from _walk(schema["propertyNames"], components, f"{path}<key>", seen)


async def test_the_schema_caps_every_request_string_list_and_object(api: Api) -> None:
    """Request bodies and parameters: every string has maxLength, every list maxItems,
    every free-form object maxProperties (and keys with a maxLength)."""
    document = (await api.client.get("/openapi.json")).json()
    components = document["components"]["schemas"]
    uncapped = []
    for route, operations in document["paths"].items():
        for method, operation in operations.items():
            roots = [
                (f"{method} {route} {p['in']}:{p['name']}", p["schema"])
                for p in operation.get("parameters", [])
                if p["in"] in ("query", "header")
            ]
            content = operation.get("requestBody", {}).get("content", {})
            for media in content.values():
                roots.append((f"{method} {route} body", media["schema"]))
            for root, schema in roots:
                uncapped += [
                    path for path, sub in _walk(schema, components, root, set()) if not _capped(sub)
                ]
    assert uncapped == []


def _capped(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    if kind == "string":
        return "maxLength" in schema or "enum" in schema or schema.get("format") == "date-time"
    if kind == "array":
        return "maxItems" in schema
    if kind == "object" and schema.get("additionalProperties", False) is not False:
        return "maxProperties" in schema
    return True
