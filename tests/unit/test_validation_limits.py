"""Length caps come before any scan, and the scans are linear: the denial-of-service
payloads that once took seconds are refused at once, in every header-bound field."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

import pytest

from authmail_relay.exceptions import (
    ConfigurationError,
    HeaderInjectionError,
    InvalidAddressError,
    ValidationError,
)
from authmail_relay.mail.auth_mail import user_name_value
from authmail_relay.mail.branding import Branding
from authmail_relay.mail.validation import check_custom_header, check_header_value, parse_mailbox
from tests.support.drafts import plain_draft

pytestmark = pytest.mark.library

#: The attack's payload: one encoded-word head followed by thousands of possible ends.
HEAD_THEN_ENDS = "=?utf-8?q?" + "?=" * 8000  # 16 KB
#: Generous: the scans take well under a millisecond; the old ones took 3 to 26 seconds.
FAST = 0.5


def _refused_fast(call: Callable[[], object], error: type[Exception]) -> Exception:
    started = time.perf_counter()
    with pytest.raises(error) as info:
        call()
    assert time.perf_counter() - started < FAST
    return info.value


def test_a_16_kb_custom_header_value_is_refused_for_its_length_at_once() -> None:
    error = _refused_fast(lambda: plain_draft(headers={"X-A": HEAD_THEN_ENDS}), ValidationError)
    assert not isinstance(error, HeaderInjectionError)
    assert "longer than 998" in str(error)
    assert "?=" not in str(error)


@pytest.mark.parametrize("field", ["to", "cc", "reply_to"])
def test_a_6_kb_address_is_refused_for_its_length_at_once(field: str) -> None:
    value = "a@example.com" + HEAD_THEN_ENDS[:6000]
    changes: dict[str, Any] = {field: value if field == "to" else [value]}
    error = _refused_fast(lambda: plain_draft(**changes), InvalidAddressError)
    assert getattr(error, "field", None) == field
    assert "?=" not in str(error)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda v: plain_draft(subject=v), ValidationError),
        (lambda v: plain_draft(from_addr=f"{v} <a@example.com>"), InvalidAddressError),
        (lambda v: plain_draft(bcc=[f"{v} <a@example.com>"]), InvalidAddressError),
        (lambda v: plain_draft(headers={"X-" + v: "x"}), ValidationError),
        (lambda v: check_custom_header("X-A", v), ValidationError),
        (lambda v: user_name_value(v), ValidationError),
        (lambda v: Branding(product_name=v), ConfigurationError),
        (lambda v: Branding(footer_text=v), ConfigurationError),
    ],
    ids=["subject", "from", "bcc", "header name", "header value", "user_name", "product", "footer"],
)
def test_every_field_over_its_cap_is_refused_at_once(
    call: Callable[[str], object], error: type[Exception]
) -> None:
    _refused_fast(lambda: call(HEAD_THEN_ENDS), error)


def test_a_998_character_adversarial_subject_is_checked_at_once() -> None:
    subject = HEAD_THEN_ENDS[:998]
    started = time.perf_counter()
    plain_draft(subject=subject)  # harmless: the decoded text is only "?=" pairs
    assert time.perf_counter() - started < FAST


def test_the_cap_is_inclusive_and_applies_before_the_scan() -> None:
    assert check_header_value("v" * 998, field="subject") == "v" * 998
    with pytest.raises(ValidationError) as info:
        check_header_value("\n" * 999, field="subject")  # refused for length, not content
    assert not isinstance(info.value, HeaderInjectionError)
    assert check_header_value("v" * 20, field="subject", limit=20)
    with pytest.raises(ValidationError):
        check_header_value("v" * 21, field="subject", limit=20)
    mailbox = "n" * (998 - len(" <a@example.com>")) + " <a@example.com>"
    assert parse_mailbox(mailbox, field="to").address == "a@example.com"
    with pytest.raises(InvalidAddressError):
        parse_mailbox("n" + mailbox, field="to")


@pytest.mark.parametrize(
    "value",
    [
        "=?utf-8?q?" + "x" * 70 + "=0A?=",  # an 85-character word hiding a newline
        "=?" + "c" * 80 + "?q?=0A?=",  # a long charset
        "=?utf-8?q?=0A" + "x" * 100 + "?=",  # CPython's "?=" + hex quirk, far end
    ],
)
def test_an_over_long_encoded_word_is_refused(value: str) -> None:
    # Lenient readers ignore RFC 2047's 75-character limit, so the scan cannot skip it.
    with pytest.raises(HeaderInjectionError):
        check_header_value(value, field="subject")


@pytest.mark.parametrize(
    "value",
    [
        "=?punycode?q?fa?=",  # decodes to U+0085 (NEL)
        "=?punycode?q?tvg?=",  # U+2028
        "=?idna?q?xn--bcher-kva?=",  # harmless, but judged the same way
    ],
)
def test_charsets_that_cannot_be_judged_by_prefix_are_refused(value: str) -> None:
    with pytest.raises(HeaderInjectionError):
        check_header_value(value, field="subject")


def test_the_number_of_encoded_words_is_bounded() -> None:
    words = " ".join(["=?utf-8?q?J=C3=BCrgen?="] * 5)
    assert check_header_value(words, field="subject") == words
    many = " ".join(["=?utf-8?q?a?="] * 40)
    with pytest.raises(HeaderInjectionError) as info:
        check_header_value(many, field="subject")
    assert "too many encoded-words" in str(info.value)


def test_the_scan_itself_is_linear_without_a_cap() -> None:
    from authmail_relay.mail.header_text import check_header_text

    # check_header_text is the uncapped scan; 64 KB of the attack's payload in well under
    # a second (the old scan needed 43 s for 16 KB).
    started = time.perf_counter()
    check_header_text("=?utf-8?q?" + "?=" * 32_000, field="subject")
    for value in ("=?u?q?" * 10_000, "=?utf-8?b?" + "?=" * 32_000, "=?" * 32_000):
        with contextlib.suppress(HeaderInjectionError):
            check_header_text(value, field="subject")
    assert time.perf_counter() - started < FAST


def test_one_message_has_one_budget_of_encoded_words() -> None:
    from authmail_relay.mail.header_text import MAX_ENCODED_WORDS_PER_MESSAGE

    # A pre-encoded display name on each of 50 recipients is fine...
    name = "=?utf-8?q?J=C3=BCrgen_Gro=C3=9F?="
    plain_draft(to=[f"{name} <to{i}@example.com>" for i in range(50)], subject=name)
    # ...but the words examined across all fields of one message are bounded, so a
    # message with every field at its cap costs a few milliseconds at most.
    words = " ".join(["=?utf-8?q?a?=" + "x" * 61] * 13)  # 13 words, each examined once
    count = MAX_ENCODED_WORDS_PER_MESSAGE // 13 + 1
    plain_draft(to=[f"{words} <to{i}@example.com>" for i in range(count - 1)])
    with pytest.raises(HeaderInjectionError) as info:
        plain_draft(to=[f"{words} <to{i}@example.com>" for i in range(count)])
    assert "too many for one message" in str(info.value)
