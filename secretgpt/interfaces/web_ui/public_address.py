"""Which network addresses "Load image" may reach: public ones only.

The app, not the browser, fetches an image on a click, and the address comes from model text (or
an imported conversation). An address on this machine or its networks (loopback, private,
link-local, CGNAT, IPv6 ULA, and every IPv6 form that carries such an IPv4 address) would make
the app a GET proxy into them. So a name is resolved once, here, and every address it resolves to
is checked: the check is on what the resolver returns, never on the host string, because
`0x7f000002`, `2130706434` and `127.1` are all loopback to the resolver. The caller then connects
to the address checked (`pinned_network`), never resolving the name again.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network

IPAddress = IPv4Address | IPv6Address

# IPv6 prefixes whose last 32 bits are an IPv4 address the packets end up at.
_NAT64 = ip_network("64:ff9b::/96")  # RFC 6052's well-known prefix
_IPV4_TRANSLATED = ip_network("::ffff:0:0:0/96")  # RFC 2765 (SIIT)
_IPV4_COMPATIBLE = ip_network("::/96")  # deprecated, but `::127.0.0.1` is still is_global to Python 3.11
_LOCAL_NAT64 = ip_network("64:ff9b:1::/48")  # RFC 8215: a network's own translator, not public
# Checked in this order; the first that holds is the reason given (for the log).
_KINDS: tuple[tuple[str, str], ...] = (
    ("is_unspecified", "an unspecified address"),
    ("is_loopback", "a loopback address"),
    ("is_link_local", "a link-local address"),
    ("is_multicast", "a multicast address"),
    ("is_private", "a private address"),
    ("is_reserved", "a reserved address"),
)


class FetchRefused(Exception):
    """An address or an answer the image fetch will not use; the text is for the log only."""


def refusal(address: IPAddress) -> str | None:
    """Why the app must not connect to `address`, or None for a public address."""
    if isinstance(address, IPv6Address) and not (address.is_loopback or address.is_unspecified):
        # (:: and ::1 sit inside the IPv4-compatible range but are named for what they are.)
        if address in _LOCAL_NAT64:
            return "a local-use NAT64 address"
        embedded = embedded_ipv4(address)
        if embedded is not None:
            # The IPv6 wrapper itself is "reserved" to `ipaddress` (::ffff:8.8.8.8 too): what
            # matters is where the packets go.
            why = refusal(embedded)
            return f"an IPv6 form of {why}" if why else None
        if address.is_site_local:  # fec0::/10: deprecated, yet is_global to Python 3.11
            return "a site-local address"
    for flag, why in _KINDS:
        if getattr(address, flag):
            return why
    # Python 3.11's is_global leaves out CGNAT (100.64.0.0/10) but lets multicast through, hence
    # both the list above and this.
    return None if address.is_global else "a shared or otherwise non-public address"


def embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, compatible, 6to4, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or address in _IPV4_TRANSLATED or address in _IPV4_COMPATIBLE:
        return IPv4Address(int(address) & 0xFFFF_FFFF)
    return None


def loopback_allowance(addresses: Iterable[str]) -> frozenset[IPAddress]:
    """Loopback addresses the tests' own servers listen on, to be let through; anything else in
    the list is an error, so the allowance can never open a private network."""
    allowed = frozenset(ip_address(a.strip()) for a in addresses if a.strip())
    if not all(address.is_loopback for address in allowed):
        raise ValueError("only loopback addresses can be allowed for image fetches")
    return allowed


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to, by the loop's getaddrinfo (a worker thread, not the loop)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # An IPv6 sockaddr's host may carry a zone ("fe80::1%eth0"); ip_address keeps it.
    return [ip_address(info[4][0]) for info in infos]


def checked_address(host: str, addresses: list[IPAddress], allowed: frozenset[IPAddress]) -> IPAddress:
    """The address to connect to for `host`, or FetchRefused. Every address is checked, not only
    the first: a name that resolves to one public and one internal address is refused whole."""
    if not addresses:
        raise FetchRefused(f"{host} resolved to no address")
    for address in addresses:
        why = None if address in allowed else refusal(address)
        if why is not None:
            raise FetchRefused(f"{host} resolves to {why}")
    return addresses[0]
