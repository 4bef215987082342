"""Every ``error_code`` the HTTP API can answer is documented, and unparsable bodies get
the documented ``invalid_json``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from authmail_relay.api.problems import API_ERROR_CODES
from authmail_relay.vocabulary import ErrorCode
from tests.api.conftest import Api

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "src" / "authmail_relay"
JSON = {"Content-Type": "application/json"}

UNPARSABLE = {
    "nested 5,000 deep": b'{"to":' + b"[" * 5000 + b"]" * 5000 + b"}",
    "invalid UTF-8": b'{"to": "a\xff@example.com", "subject": "s", "text_body": "x"}',
    "huge integer literal": b'{"to": "a@example.com", "expires_in": ' + b"9" * 5000 + b"}",
    "not JSON": b"{to: a@example.com",
}


@pytest.mark.parametrize("body", UNPARSABLE.values(), ids=UNPARSABLE.keys())
async def test_unparsable_bodies_are_invalid_json(api: Api, body: bytes) -> None:
    """Bodies the JSON parser gives up on are 400 ``invalid_json`` problems, never 5xx."""
    for route in ("/v1/messages", "/send", "/v1/messages/batch", "/v1/keys"):
        response = await api.client.post(route, content=body, headers=JSON)
        assert response.status_code == 400, (route, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["error_code"] == "invalid_json"
    assert await api.relay.list_messages() == []


# Where the code spells an error code: a literal or a constant handed to problem() or
# the middleware's reply, an ``error_code=`` argument or default, or a status → code map.
_USES = [
    re.compile(r'problem\(\s*\d{3},\s*("[a-z0-9_]+"|[A-Z_]+)'),
    re.compile(r'_reply\(\s*scope,\s*send,\s*\d{3},\s*("[a-z0-9_]+"|[A-Z_]+)'),
    re.compile(r'error_code(?::\s*str)?\s*=\s*("[a-z0-9_]+"|[A-Z_]+)\b'),
    re.compile(r'\b\d{3}:\s*("[a-z0-9_]+")'),
]
_CONSTANT = re.compile(r'^([A-Z_]+) = "([a-z0-9_]+)"', re.MULTILINE)


def _codes_in_source() -> set[str]:
    texts = [path.read_text(encoding="utf-8") for path in SOURCE.rglob("*.py")]
    constants = {name: value for text in texts for name, value in _CONSTANT.findall(text)}
    found: set[str] = set()
    for text in texts:
        for pattern in _USES:
            for use in pattern.findall(text):
                found.add(use.strip('"') if use.startswith('"') else constants[use])
    return found


def test_every_code_in_the_source_is_in_the_vocabulary() -> None:
    """No error code is spelled anywhere without being in the API's closed list."""
    known = API_ERROR_CODES | {code.value for code in ErrorCode}
    assert _codes_in_source() - known == set()
    assert {"invalid_json", "not_found", "sender_not_allowed"} <= _codes_in_source()


def test_every_code_is_documented_in_errors_md() -> None:
    """docs/errors.md lists each code the API can put in ``error_code``."""
    text = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z0-9_]+)` \|", text, re.MULTILINE))
    missing = (API_ERROR_CODES | {code.value for code in ErrorCode}) - documented
    assert missing == set()


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("OPTIONS", "/v1/keys", {"GET", "POST"}),
        ("PUT", "/v1/webhooks/wh_0123", {"DELETE", "GET", "PATCH"}),
        ("DELETE", "/v1/messages", {"GET", "POST"}),
    ],
)
async def test_405_lists_every_method_of_the_path(
    api: Api, method: str, path: str, allowed: set[str]
) -> None:
    """Each method of a path is its own route; the Allow header names all of them."""
    response = await api.client.request(method, path)
    assert response.status_code == 405
    assert response.json()["error_code"] == "method_not_allowed"
    assert {m.strip() for m in response.headers["allow"].split(",")} == allowed


async def test_405_allow_follows_the_literal_path(api: Api) -> None:
    """/v1/messages/batch is its own path, not a message id: only POST is allowed."""
    response = await api.client.request("OPTIONS", "/v1/messages/batch")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    response = await api.client.request("POST", "/v1/webhooks/deliveries")
    assert response.headers["allow"] == "GET"
