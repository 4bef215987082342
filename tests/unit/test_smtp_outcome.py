"""The shared classification of SMTP results (used by both SMTP adapters)."""

from __future__ import annotations

import pytest

from authmail_relay.smtp import outcome as outcomes
from authmail_relay.smtp.outcome import MAX_REPLY_CHARS, Stage, clean_reply
from authmail_relay.vocabulary import ErrorCode

pytestmark = pytest.mark.library


def test_only_the_final_dot_stage_is_after_data() -> None:
    assert [s for s in Stage if not s.before_data_complete] == [Stage.FINAL_DOT]


def test_accepted() -> None:
    outcome = outcomes.accepted(250, b"2.0.0 Ok: queued as 12345")
    assert outcome.sent
    assert outcome.error_code is None
    assert outcome.smtp_code == 250
    assert outcome.smtp_reply == "2.0.0 Ok: queued as 12345"
    assert not outcome.retryable
    assert not outcome.ambiguous


def test_accepted_with_refusals_is_a_partial_send() -> None:
    outcome = outcomes.accepted(250, "ok", refused={"z@x.com": (550, "no"), "a@x.com": (550, "no")})
    assert outcome.sent
    assert outcome.error_code == ErrorCode.RECIPIENT_REFUSED
    assert outcome.refused == ("a@x.com", "z@x.com")
    assert "2 refused" in outcome.message


@pytest.mark.parametrize(
    ("stage", "code", "error", "retryable"),
    [
        (Stage.CONNECT, 421, ErrorCode.SMTP_TRANSIENT, True),
        (Stage.CONNECT, 554, ErrorCode.SMTP_REJECTED, False),
        (Stage.STARTTLS, 454, ErrorCode.SMTP_TRANSIENT, True),
        (Stage.AUTH, 535, ErrorCode.SMTP_AUTH_FAILED, False),
        (Stage.AUTH, 534, ErrorCode.SMTP_AUTH_FAILED, False),
        (Stage.AUTH, 454, ErrorCode.SMTP_TRANSIENT, True),
        (Stage.MAIL, 451, ErrorCode.SMTP_TRANSIENT, True),
        (Stage.MAIL, 550, ErrorCode.SMTP_REJECTED, False),
        (Stage.MAIL, 552, ErrorCode.SMTP_REJECTED, False),
        (Stage.RCPT, 450, ErrorCode.SMTP_TRANSIENT, True),
        (Stage.RCPT, 550, ErrorCode.RECIPIENT_REFUSED, False),
        (Stage.DATA, 452, ErrorCode.SMTP_TRANSIENT, True),
        (Stage.DATA, 554, ErrorCode.SMTP_REJECTED, False),
    ],
)
def test_from_reply(stage: Stage, code: int, error: ErrorCode, retryable: bool) -> None:
    outcome = outcomes.from_reply(stage, code, f"{code} text")
    assert not outcome.sent
    assert outcome.error_code == error
    assert outcome.retryable is retryable
    assert not outcome.ambiguous
    assert outcome.smtp_code == code
    assert str(code) in outcome.message


def test_all_refused_permanent_and_transient() -> None:
    permanent = outcomes.all_refused({"a@x.com": (550, b"no such user"), "b@x.com": (553, "bad")})
    assert permanent.error_code == ErrorCode.RECIPIENT_REFUSED
    assert not permanent.sent
    assert not permanent.retryable
    assert permanent.refused == ("a@x.com", "b@x.com")
    assert permanent.smtp_code == 550
    assert permanent.smtp_reply == "no such user"

    mixed = outcomes.all_refused({"a@x.com": (550, "no"), "b@x.com": (452, "full")})
    assert mixed.retryable
    assert mixed.smtp_code == 452
    assert mixed.smtp_reply == "full"


@pytest.mark.parametrize("stage", [s for s in Stage if s is not Stage.FINAL_DOT])
def test_disconnect_or_timeout_before_the_final_dot_is_not_ambiguous(stage: Stage) -> None:
    lost = outcomes.from_disconnect(stage)
    slow = outcomes.from_timeout(stage)
    assert lost.error_code == ErrorCode.SMTP_CONNECTION
    assert slow.error_code == ErrorCode.SMTP_TIMEOUT
    for outcome in (lost, slow):
        assert outcome.retryable
        assert not outcome.ambiguous
        assert "nothing was delivered" in outcome.message


def test_disconnect_or_timeout_after_the_final_dot_is_ambiguous() -> None:
    for outcome in (
        outcomes.from_disconnect(Stage.FINAL_DOT),
        outcomes.from_timeout(Stage.FINAL_DOT),
    ):
        assert outcome.error_code == ErrorCode.SMTP_DISCONNECT_UNCERTAIN
        assert outcome.ambiguous
        assert outcome.retryable
        assert "may have accepted" in outcome.message


@pytest.mark.parametrize(
    ("outcome", "error", "retryable"),
    [
        (outcomes.connection_failed("refused"), ErrorCode.SMTP_CONNECTION, True),
        (outcomes.tls_failed("bad cert"), ErrorCode.TLS_ERROR, False),
        (outcomes.starttls_unsupported(), ErrorCode.STARTTLS_UNSUPPORTED, False),
        (outcomes.auth_unsupported(), ErrorCode.SMTP_AUTH_UNSUPPORTED, False),
        (outcomes.plaintext_auth_refused(), ErrorCode.PLAINTEXT_AUTH_REFUSED, False),
        (outcomes.smtputf8_unsupported(), ErrorCode.SMTPUTF8_UNSUPPORTED, False),
        (outcomes.unknown("odd"), ErrorCode.UNKNOWN, False),
    ],
)
def test_other_constructors(outcome: outcomes.Outcome, error: ErrorCode, retryable: bool) -> None:
    assert not outcome.sent
    assert outcome.error_code == error
    assert outcome.retryable is retryable
    assert not outcome.ambiguous
    assert outcome.message


def test_clean_reply() -> None:
    assert clean_reply(None) is None
    assert clean_reply(b"5.7.1 multi\r\nline\x00 reply") == "5.7.1 multi line? reply"
    assert clean_reply("caf\xe9 \u2028x") == "caf\xe9 x"
    assert clean_reply(b"\xff\xfe") == "\ufffd\ufffd"
    assert len(clean_reply("x" * 10_000) or "") == MAX_REPLY_CHARS


def test_error_codes_are_plain_strings() -> None:
    outcome = outcomes.from_reply(Stage.MAIL, 451, "later")
    assert outcome.error_code == "smtp_transient"
    assert f"{outcome.error_code}" == "smtp_transient"
