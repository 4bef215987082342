"""Property tests for the header guard and the composer (needs hypothesis; not library-marked)."""

from __future__ import annotations

import base64
import re
from datetime import datetime, timezone
from email.parser import BytesParser
from email.policy import default

import pytest

# The Python 3.10 library-mode run has no hypothesis; skip rather than fail to collect.
pytest.importorskip("hypothesis")

from hypothesis import given, settings
from hypothesis import strategies as st

from authmail_relay.exceptions import HeaderInjectionError, ValidationError
from authmail_relay.mail.composing import compose, make_draft
from authmail_relay.mail.validation import check_header_value

NOW = datetime(2025, 1, 1, tzinfo=timezone.utc)
FORBIDDEN = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
BARE_EOL = re.compile(rb"\r(?!\n)|(?<!\r)\n")
SAFE_TEXT = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp", "Cf")), max_size=200
)


@given(st.text(max_size=300))
def test_anything_with_a_control_character_is_refused(value: str) -> None:
    if FORBIDDEN.search(value):
        with pytest.raises(HeaderInjectionError):
            check_header_value(value, field="subject")


@given(SAFE_TEXT, st.sampled_from(["\r", "\n", "\x00", "\x0b", "\x85", "\u2028"]), SAFE_TEXT)
def test_a_spliced_control_is_always_found(head: str, bad: str, tail: str) -> None:
    with pytest.raises(HeaderInjectionError):
        check_header_value(head + bad + tail, field="subject")


@given(
    st.binary(max_size=40).filter(lambda b: re.search(rb"[\x00-\x1f\x7f]", b) is not None),
    st.sampled_from(["q", "Q", "b", "B"]),
)
def test_encoded_control_bytes_are_found(payload: bytes, encoding: str) -> None:
    if encoding in "qQ":
        text = "".join(f"={byte:02X}" for byte in payload)
    else:
        text = base64.b64encode(payload).decode()
    with pytest.raises(HeaderInjectionError):
        check_header_value(f"x =?utf-8?{encoding}?{text}?= y", field="subject")


@settings(deadline=None)
@given(SAFE_TEXT.filter(lambda s: s.strip() != "" and '"' not in s and "\\" not in s))
def test_display_names_survive_composition(name: str) -> None:
    try:
        draft = make_draft(
            from_addr=f'"{name}" <a@example.com>', to="b@example.com", subject="s", text="t"
        )
    except ValidationError:
        return
    raw = compose(draft, now=NOW, message_id="<x@example.com>").raw
    (sender,) = BytesParser(policy=default).parsebytes(raw)["From"].addresses
    assert sender.addr_spec == "a@example.com"
    # A long name is folded into several encoded-words; RFC 2047 readers drop the
    # folding space between them, but CPython's address parser keeps it, so compare
    # without spaces.
    assert sender.display_name.replace(" ", "") == (draft.sender.display_name or "").replace(
        " ", ""
    )


@settings(max_examples=60, deadline=None)
@given(
    subject=SAFE_TEXT,
    text=st.text(max_size=2000),
    html=st.one_of(st.none(), st.text(max_size=2000)),
)
def test_composed_bytes_are_always_clean(subject: str, text: str, html: str | None) -> None:
    try:
        draft = make_draft(
            from_addr="a@example.com", to="b@example.com", subject=subject, html=html, text=text
        )
    except ValidationError:
        return
    raw = compose(draft, now=NOW, message_id="<x@example.com>").raw
    assert not BARE_EOL.search(raw)
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert raw.count(b"\r\nBcc:") == 0
