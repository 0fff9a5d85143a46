"""Who a client is, for every per-address limit: its address read through trusted proxies only,
an IPv6 client by its /64."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping

IPV6_CLIENT_PREFIX = 64  # the network an ISP hands one subscriber: counted as one client


def client_address(headers: Mapping[str, str], peer: str | None, trusted_proxies: Iterable[str]) -> str:
    """The client, as every per-address limit counts it: the peer's address, or the last untrusted
    hop of X-Forwarded-For when the peer is a trusted proxy, grouped by ``address_group``. A client
    can write any X-Forwarded-For, so hops are read from the right (nearest first) and only through
    proxies we trust."""
    networks = [ipaddress.ip_network(n, strict=False) for n in trusted_proxies]

    def trusted(address: str) -> bool:
        ip = _ip(address)
        return ip is not None and any(ip in net for net in networks)

    current = peer or "unknown"
    if trusted(current):
        forwarded = [hop.strip() for hop in headers.get("x-forwarded-for", "").split(",") if hop.strip()]
        for hop in reversed(forwarded):
            current = hop
            if not trusted(hop):
                break
    return address_group(current)


def address_group(address: str) -> str:
    """What one client is, for a limit: an IPv4 address; an IPv6 address's /64 network, since one
    subscriber (a phone, a home router, a cloud VM) is routinely given a whole /64 and can pick any
    of its 2^64 addresses per request; an IPv4-mapped IPv6 address as its IPv4. Anything that is
    not an address (a test client's name, "unknown") is itself."""
    ip = _ip(address)
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((ip, IPV6_CLIENT_PREFIX), strict=False))
    return str(ip) if ip is not None else address


def _ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """``address`` parsed (an IPv4-mapped IPv6 address as its IPv4; a zone id dropped), or None."""
    try:
        ip = ipaddress.ip_address(address.strip().split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip
