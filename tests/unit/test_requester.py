"""The end-user IP: validated, grouped (IPv6 by /64) and kept out of bucket keys in clear."""

from __future__ import annotations

import pytest

from authmail_relay.exceptions import ValidationError
from authmail_relay.mail.message_request import MessageRequest, validate_request
from authmail_relay.trust.requester import MAX_END_USER_IP, end_user_network, requester_key
from authmail_relay.vocabulary import Kind

pytestmark = pytest.mark.library


@pytest.mark.parametrize(
    ("ip", "network"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("::1", "::/64"),
        ("10.0.0.1", "10.0.0.1"),
    ],
)
def test_networks(ip: str, network: str) -> None:
    assert end_user_network(ip) == network


def test_none_is_no_ip() -> None:
    assert end_user_network(None) is None


@pytest.mark.parametrize(
    "value",
    [
        "",
        " ",
        "not-an-ip",
        "203.0.113.256",
        "203.0.113",
        "203.000.113.7",
        "203.0.113.7 ",
        "\t203.0.113.7",
        "fe80::1%eth0",
        "203.0.113.0/24",
        "2001:db8::/64",
        "2001:db8:::1",
        "1" * (MAX_END_USER_IP + 1),
        "1.2.3.4" * 1000,
        42,
        ["203.0.113.7"],
    ],
)
def test_anything_else_is_refused_without_echoing_it(value: object) -> None:
    with pytest.raises(ValidationError) as raised:
        end_user_network(value)
    assert raised.value.field == "end_user_ip"
    if isinstance(value, str) and value.strip():
        assert value.strip() not in str(raised.value)


def test_the_request_check_refuses_a_bad_ip_and_keeps_the_network() -> None:
    request = MessageRequest(to="ada@example.org", kind=Kind.OTP, code="1", end_user_ip="x")
    with pytest.raises(ValidationError):
        validate_request(request)
    good = MessageRequest(to="ada@example.org", kind=Kind.OTP, code="1", end_user_ip="::1")
    assert validate_request(good).end_user_network == "::/64"


def test_requester_keys() -> None:
    assert requester_key("k1", None) == "key:k1"
    assert requester_key(None, None) == "key:local"
    one = requester_key("k1", "203.0.113.7")
    assert one.startswith("key:k1:ip:")
    assert "203.0.113" not in one
    assert one == requester_key("k1", "203.0.113.7")
    assert one != requester_key("k1", "203.0.113.8")
    # Keyed by the API key: the same visitor of two apps is two requesters.
    assert one.split(":ip:")[1] != requester_key("k2", "203.0.113.7").split(":ip:")[1]
