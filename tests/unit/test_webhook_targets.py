"""Webhook targets and the fair pick of due deliveries, with plain values."""

from __future__ import annotations

from authmail_relay.webhooks.targets import endpoint_target, pick_fairly, url_target


def test_per_request_urls_are_grouped_by_host_and_port() -> None:
    assert url_target("https://Hooks.Example.com/a?x=1") == "host:hooks.example.com:443"
    assert url_target("https://hooks.example.com:443/b") == "host:hooks.example.com:443"
    assert url_target("http://hooks.example.com/c") == "host:hooks.example.com:80"
    assert url_target("https://hooks.example.com:8443/") == "host:hooks.example.com:8443"
    assert url_target("not a url") == "url:not a url"
    assert endpoint_target("whep_1") == "endpoint:whep_1"


def test_round_robin_within_the_caps() -> None:
    due = [(1, "a"), (2, "a"), (3, "a"), (4, "b"), (5, "a"), (6, "c"), (7, "b")]
    assert pick_fairly(due, {}, per_target=2, limit=10) == [1, 4, 6, 2, 7]
    # The first layer goes to every target before any gets a second.
    assert pick_fairly(due, {}, per_target=2, limit=3) == [1, 4, 6]
    # Deliveries already in flight count against the cap.
    assert pick_fairly(due, {"a": 2, "b": 1}, per_target=2, limit=10) == [4, 6]
    assert pick_fairly(due, {"a": 5}, per_target=2, limit=10) == [4, 6, 7]
    assert pick_fairly(due, {}, per_target=2, limit=0) == []
    assert pick_fairly([], {}, per_target=2, limit=5) == []
