"""Which addresses "Load image" may reach (`public_address.py`), and the tests-only allowance."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from secretgpt.config import ConfigError, load_settings
from secretgpt.interfaces.web_ui.public_address import (
    FetchRefused,
    checked_address,
    loopback_allowance,
    refusal,
)
from secretgpt.interfaces.web_ui.remote_image import ImageFetcher

REFUSED = [
    # IPv4: this machine, private networks, CGNAT, link-local (cloud metadata), multicast, reserved
    "127.0.0.1", "127.0.0.2", "127.255.255.254", "0.0.0.0", "0.1.2.3", "10.0.0.1", "172.16.0.1",
    "172.31.255.255", "192.168.1.1", "100.64.0.1", "100.127.255.254", "169.254.169.254", "192.0.0.1",
    "192.0.2.1", "198.18.0.1", "198.51.100.1", "203.0.113.1", "224.0.0.1", "239.255.255.250", "240.0.0.1",
    "255.255.255.255",
    # IPv6: loopback, unspecified, link-local, ULA, site-local, multicast, documentation, Teredo
    "::1", "::", "fe80::1", "fe80::1%1", "fc00::1", "fd12:3456:789a::1", "fec0::1", "ff02::1", "ff0e::1",
    "2001:db8::1", "2001::1",
    # IPv6 forms of refused IPv4 addresses: mapped, compatible, translated, 6to4, NAT64
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1", "::10.0.0.1",
    "::ffff:0:127.0.0.1", "2002:7f00:1::", "2002:a00:1::1", "2002:a9fe:a9fe::", "64:ff9b::7f00:1",
    "64:ff9b::a00:1", "64:ff9b::6440:1", "64:ff9b:1::808:808",
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "100.63.255.255", "100.128.0.1", "2606:4700:4700::1111",
          "2a00:1450:4001:82a::200e", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"]


@pytest.mark.parametrize("address", REFUSED)
def test_internal_addresses_and_their_ipv6_forms_are_refused(address: str) -> None:
    assert refusal(ip_address(address)) is not None


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_not(address: str) -> None:
    assert refusal(ip_address(address)) is None


def test_one_internal_address_among_public_ones_refuses_the_name() -> None:
    addresses = [ip_address("93.184.216.34"), ip_address("127.0.0.1")]
    with pytest.raises(FetchRefused, match="loopback"):
        checked_address("mixed.test", addresses, frozenset())
    assert checked_address("public.test", addresses[:1], frozenset()) == addresses[0]
    with pytest.raises(FetchRefused):
        checked_address("nothing.test", [], frozenset())


def test_the_allowance_lets_through_only_the_loopback_addresses_it_lists() -> None:
    allowed = loopback_allowance(["127.0.0.2", " ::1 ", ""])
    assert checked_address("t", [ip_address("127.0.0.2")], allowed) == ip_address("127.0.0.2")
    with pytest.raises(FetchRefused):
        checked_address("t", [ip_address("127.0.0.1")], allowed)
    for bad in ("10.0.0.1", "192.168.1.1", "8.8.8.8", "::ffff:127.0.0.1"):
        with pytest.raises(ValueError):
            ImageFetcher([bad])


def test_no_address_is_allowed_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SECRETGPT_IMAGE_FETCH_ALLOW_LOOPBACK", raising=False)
    assert load_settings(_env_file=None).image_fetch_loopback == ()
    monkeypatch.setenv("SECRETGPT_IMAGE_FETCH_ALLOW_LOOPBACK", "127.0.0.2,[::1]")
    assert load_settings(_env_file=None).image_fetch_loopback == ("127.0.0.2", "::1")


@pytest.mark.parametrize("value", ["true", "1", "localhost", "10.0.0.1", "0.0.0.0", "127.0.0.1/8"])
def test_the_allowance_setting_takes_loopback_addresses_only(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SECRETGPT_IMAGE_FETCH_ALLOW_LOOPBACK", value)
    with pytest.raises(ConfigError, match="SECRETGPT_IMAGE_FETCH_ALLOW_LOOPBACK"):
        load_settings(_env_file=None)
