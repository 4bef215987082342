"""The upstream breaker and the failover rules, with plain numbers for the clock."""

from __future__ import annotations

import pytest

from authmail_relay.smtp import outcome as outcomes
from authmail_relay.smtp.circuit_breaker import CircuitBreaker, Health, fails_over, health_of
from authmail_relay.smtp.outcome import Stage
from authmail_relay.vocabulary import BreakerState, ErrorCode, Priority

REFUSED = outcomes.connection_failed("Connection refused")
AUTH = outcomes.from_reply(Stage.AUTH, 535, "5.7.8 bad credentials")
GREYLISTED = outcomes.from_reply(Stage.RCPT, 450, "4.2.0 greylisted")
MAIL_TEMPFAIL = outcomes.from_reply(Stage.MAIL, 451, "4.3.0 try later")


@pytest.mark.parametrize(
    ("outcome", "health"),
    [
        (outcomes.accepted(), Health.OK),
        (REFUSED, Health.FAULT),
        (outcomes.from_timeout(Stage.CONNECT), Health.FAULT),
        (outcomes.from_timeout(Stage.DATA), Health.FAULT),
        (outcomes.from_disconnect(Stage.MAIL), Health.FAULT),
        (outcomes.from_disconnect(Stage.FINAL_DOT), Health.UNCERTAIN),
        (outcomes.from_timeout(Stage.FINAL_DOT), Health.UNCERTAIN),
        (outcomes.from_reply(Stage.CONNECT, 421, "busy"), Health.FAULT),
        (outcomes.from_reply(Stage.RCPT, 421, "closing"), Health.FAULT),
        (AUTH, Health.FATAL),
        (outcomes.tls_failed("certificate verify failed"), Health.FATAL),
        (outcomes.starttls_unsupported(), Health.FATAL),
        (outcomes.plaintext_auth_refused(), Health.FATAL),
        (GREYLISTED, Health.OK),
        (MAIL_TEMPFAIL, Health.OK),
        (outcomes.from_reply(Stage.FINAL_DOT, 554, "spam"), Health.OK),
        (outcomes.all_refused({"a@b.example": (550, "no such user")}), Health.OK),
    ],
)
def test_health_tells_upstream_failures_from_message_failures(
    outcome: outcomes.Outcome, health: Health
) -> None:
    assert health_of(outcome) is health


def test_failover_rules() -> None:
    # Set-up failures are never the message's fault: any lane moves on.
    assert fails_over(AUTH, Priority.LOW)
    # Connection trouble and 4xx: only auth mail skips the retry schedule.
    for outcome in (REFUSED, GREYLISTED, MAIL_TEMPFAIL, outcomes.from_timeout(Stage.RCPT)):
        assert fails_over(outcome, Priority.HIGH)
        assert not fails_over(outcome, Priority.NORMAL)
    # The first server may have the message: no second copy at once.
    assert not fails_over(outcomes.from_disconnect(Stage.FINAL_DOT), Priority.HIGH)
    # Permanent refusals and successes stay where they are.
    assert not fails_over(outcomes.from_reply(Stage.RCPT, 550, "no"), Priority.HIGH)
    assert not fails_over(outcomes.accepted(), Priority.HIGH)


def test_opens_after_the_threshold_and_probes_after_the_cooldown() -> None:
    breaker = CircuitBreaker(failure_threshold=3, cooldown_ms=1000)
    assert not breaker.record(Health.FAULT, 0)
    assert not breaker.record(Health.FAULT, 10)
    assert breaker.record(Health.FAULT, 20, ErrorCode.SMTP_CONNECTION)
    assert breaker.state is BreakerState.OPEN
    assert breaker.reason is ErrorCode.SMTP_CONNECTION
    assert not breaker.available(500)
    assert not breaker.acquire(500)
    assert breaker.reopens_in_ms(500) == 520
    # After the cool-down exactly one message gets through.
    assert breaker.acquire(1020)
    assert breaker.state is BreakerState.HALF_OPEN
    assert not breaker.acquire(1020)
    assert not breaker.record(Health.OK, 1100)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.failures == 0
    assert breaker.acquire(1100)
    assert breaker.acquire(1100)


def test_a_success_resets_the_count() -> None:
    breaker = CircuitBreaker(failure_threshold=2, cooldown_ms=1000)
    breaker.record(Health.FAULT, 0)
    breaker.record(Health.OK, 1)
    assert not breaker.record(Health.FAULT, 2)
    assert breaker.state is BreakerState.CLOSED


def test_failed_probe_doubles_the_cooldown_up_to_the_cap() -> None:
    breaker = CircuitBreaker(failure_threshold=1, cooldown_ms=1000, max_cooldown_ms=3000)
    breaker.record(Health.FAULT, 0)
    cooldowns = []
    now = 0
    for _ in range(4):
        now += breaker.current_cooldown_ms
        assert breaker.acquire(now)
        assert breaker.record(Health.FAULT, now)
        cooldowns.append(breaker.current_cooldown_ms)
    assert cooldowns == [2000, 3000, 3000, 3000]


def test_fatal_opens_at_once() -> None:
    breaker = CircuitBreaker(failure_threshold=5, cooldown_ms=1000)
    assert breaker.record(Health.FATAL, 0, ErrorCode.SMTP_AUTH_FAILED)
    assert breaker.state is BreakerState.OPEN


def test_late_failures_of_messages_already_in_flight_do_not_extend_it() -> None:
    breaker = CircuitBreaker(failure_threshold=1, cooldown_ms=1000)
    assert breaker.record(Health.FAULT, 0)
    assert not breaker.record(Health.FAULT, 900)
    assert breaker.available(1000)


def test_an_abandoned_probe_frees_the_upstream() -> None:
    breaker = CircuitBreaker(failure_threshold=1, cooldown_ms=1000)
    breaker.record(Health.FAULT, 0)
    assert breaker.acquire(1000)
    assert not breaker.available(1000)
    breaker.release()
    assert breaker.acquire(1000)


def test_uncertain_outcomes_open_the_breaker_but_leave_it_usable_as_a_last_resort() -> None:
    """Lost replies to the final dot count towards opening (mail moves to another
    upstream), but as long as nothing else failed since the last success the upstream
    stays usable when no other one may be; a use as the last resort is not a probe."""
    breaker = CircuitBreaker(failure_threshold=3, cooldown_ms=1000)
    assert not breaker.record(Health.UNCERTAIN, 0)
    assert not breaker.record(Health.UNCERTAIN, 10)
    assert not breaker.last_resort()  # closed: simply available
    assert breaker.record(Health.UNCERTAIN, 20, ErrorCode.SMTP_DISCONNECT_UNCERTAIN)
    assert breaker.state is BreakerState.OPEN
    assert not breaker.available(500)
    assert breaker.last_resort()
    # A last-resort message that fails the same way changes nothing; one that is
    # accepted closes the breaker.
    assert not breaker.record(Health.UNCERTAIN, 600)
    assert (breaker.opened_at, breaker.current_cooldown_ms) == (20, 1000)
    assert not breaker.record(Health.OK, 700)
    assert breaker.state is BreakerState.CLOSED
    assert not breaker.hard_failure


def test_a_probe_out_or_any_other_failure_ends_the_last_resort() -> None:
    breaker = CircuitBreaker(failure_threshold=2, cooldown_ms=1000)
    breaker.record(Health.UNCERTAIN, 0)
    breaker.record(Health.UNCERTAIN, 1)
    assert breaker.acquire(1001)  # the probe
    assert not breaker.last_resort()  # wait for its verdict
    assert breaker.record(Health.UNCERTAIN, 1100)  # re-opened, cool-down doubled
    assert breaker.current_cooldown_ms == 2000
    assert breaker.last_resort()
    # A connection failure says the server itself is in trouble: skipped for real.
    breaker.record(Health.FAULT, 1200)
    assert breaker.hard_failure
    assert not breaker.last_resort()
    assert not breaker.available(1300)
    # Until a success: then the record starts afresh.
    assert breaker.acquire(1100 + 2000)
    breaker.record(Health.OK, 3200)
    breaker.record(Health.UNCERTAIN, 3300)
    assert breaker.record(Health.UNCERTAIN, 3400)
    assert breaker.last_resort()


def test_a_connection_failure_before_the_uncertain_ones_also_counts() -> None:
    breaker = CircuitBreaker(failure_threshold=2, cooldown_ms=1000)
    breaker.record(Health.FAULT, 0)
    assert breaker.record(Health.UNCERTAIN, 1)
    assert not breaker.last_resort()
