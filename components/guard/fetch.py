"""Fetching a clip from a URL a user pasted, without becoming a proxy into the host's network.

A public Space runs next to cloud metadata endpoints and private services, so a pasted URL is
resolved first and refused when any address it names is private, loopback, link-local or
reserved. The connection then goes to the very address that was checked (the Host header and TLS
SNI keep the name), so a DNS answer that changes between check and connect cannot slip through.
Redirects are followed by hand so every hop gets the same check. Size is capped while streaming,
so a huge or endless body costs at most ``max_bytes`` of disk, and one wall-clock deadline covers
the whole exchange (connect, every redirect, headers and body): httpx's own timeouts are per read,
so a server dripping one header byte a second would otherwise hold a fetch open for ever.

An address is judged by the IPv4 address it carries, if any: IPv4-mapped (``::ffff:127.0.0.1``),
NAT64 (``64:ff9b::7f00:1``), 6to4 (``2002:7f00:1::``) and Teredo forms of a private address are
private too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from components.config import MODEL_NAME, VideoLimits
from components.errors import InputError
from components.units import human_size

MAX_REDIRECTS = 3
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def fetch_to_file(url: str, out_dir: Path, *, max_bytes: int, timeout: float,
                  allow_private: bool = False) -> Path:
    """Download ``url`` into ``out_dir`` and return the file; every refusal is an ``InputError``.

    Runs its own event loop (it is called from worker threads); ``allow_private`` exists for
    self-hosted setups and tests whose only servers are on loopback.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    partial: list[Path] = []
    try:
        return asyncio.run(asyncio.wait_for(
            _fetch(url.strip(), out_dir, max_bytes, allow_private, partial), timeout))
    except asyncio.TimeoutError:  # the builtin TimeoutError from Python 3.11 on
        for path in partial:
            path.unlink(missing_ok=True)
        raise _timeout(url, timeout) from None


async def _fetch(url: str, out_dir: Path, max_bytes: int, allow_private: bool, partial: list[Path]) -> Path:
    current = url
    async with httpx.AsyncClient(timeout=None, follow_redirects=False, trust_env=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            parts = _check_url(current)
            address = await asyncio.to_thread(_resolve, parts.hostname or "", parts.port, allow_private)
            request = _pinned_request(client, current, address)
            try:
                response = await client.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise InputError(f"Could not download {_short(url)}: {type(exc).__name__}.",
                                 fix="Check that the URL opens in a browser, or upload the file instead.",
                                 field="video_url") from exc
            try:
                if response.is_redirect:
                    current = urljoin(current, response.headers.get("location", ""))
                    continue
                if response.status_code != 200:
                    raise InputError(f"Could not download {_short(url)}: the server answered "
                                     f"HTTP {response.status_code}.",
                                     fix="Check that the link is public and direct to the file.",
                                     field="video_url")
                return await _stream_to_disk(response, url, out_dir, max_bytes, partial)
            finally:
                await response.aclose()
    raise InputError(f"{_short(url)} redirects more than {MAX_REDIRECTS} times.",
                     fix="Paste the final, direct link to the file.", field="video_url")


def _check_url(url: str):
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise InputError(f"Only http:// and https:// links can be fetched, not {parts.scheme or 'this'}:.",
                         fix="Paste a web link to the clip, or upload the file.", field="video_url")
    if not parts.hostname:
        raise InputError("The link has no host name.", fix="Paste a full link such as https://…/clip.mp4.",
                         field="video_url")
    if parts.username or parts.password:
        raise InputError("Links with a user name or password are not fetched.",
                         fix="Upload the file instead.", field="video_url")
    return parts


def _resolve(host: str, port: int | None, allow_private: bool) -> str:
    try:
        infos = socket.getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise InputError(f"The host {host} could not be found.", fix="Check the link for typos.",
                         field="video_url") from exc
    addresses = [info[4][0] for info in infos]
    if not allow_private:
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%")[0])
            if not is_public(ip):
                raise InputError(f"The host {host} points into a private network ({ip}); such links are "
                                 "not fetched.", fix="Use a public link, or upload the file.",
                                 field="video_url")
    return addresses[0]


_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether ``ip`` and every IPv4 address embedded in it are globally reachable unicast."""
    if not ip.is_global or ip.is_multicast:
        return False
    return all(is_public(inner) for inner in _embedded_ipv4(ip))


def _embedded_ipv4(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address routes to: mapped, NAT64, 6to4 and Teredo (server and client)."""
    if ip.version == 4:
        return []
    assert isinstance(ip, ipaddress.IPv6Address)
    found = [a for a in (ip.ipv4_mapped, ip.sixtofour) if a is not None]
    if ip.teredo:
        found.extend(ip.teredo)
    if any(ip in net for net in _NAT64):
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def _pinned_request(client: httpx.AsyncClient, url: str, address: str) -> httpx.Request:
    """Connect to the checked address while keeping the name for Host and TLS verification."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{address}]" if ":" in address else address
    if parts.port:
        netloc += f":{parts.port}"
    pinned = parts._replace(netloc=netloc).geturl()
    host_header = host if not parts.port else f"{host}:{parts.port}"
    return client.build_request("GET", pinned, headers={"Host": host_header},
                                extensions={"sni_hostname": host})


async def _stream_to_disk(response: httpx.Response, url: str, out_dir: Path, max_bytes: int,
                          partial: list[Path]) -> Path:
    declared = int(response.headers.get("content-length") or 0)
    if declared > max_bytes:
        raise _too_big(url, declared, max_bytes)
    target = out_dir / _file_name(url, response.headers.get("content-type", ""))
    partial.append(target)
    received = 0
    try:
        with target.open("wb") as fh:
            async for chunk in response.aiter_bytes():
                received += len(chunk)
                if received > max_bytes:
                    raise _too_big(url, received, max_bytes)
                fh.write(chunk)
    except (InputError, httpx.HTTPError) as exc:
        target.unlink(missing_ok=True)
        if isinstance(exc, InputError):
            raise
        raise InputError(f"Could not download {_short(url)}: the connection broke ({type(exc).__name__}).",
                         fix="Try again, or upload the file instead.", field="video_url") from exc
    return target


def _file_name(url: str, content_type: str) -> str:
    """A safe local name: no directories, no odd characters, an extension the probe can use."""
    name = _SAFE_NAME.sub("_", Path(unquote(urlsplit(url).path)).name).strip("._") or "download"
    if "." not in name:
        name += ".mov" if "quicktime" in content_type else ".mp4"
    return name[-120:]


def _short(url: str) -> str:
    return url if len(url) <= 80 else url[:77] + "..."


def _too_big(url: str, size: int, limit: int) -> InputError:
    return InputError(f"{_short(url)} is larger than {human_size(limit)} "
                      f"(got {human_size(size, limit)} so far).",
                      fix=f"Use a shorter or smaller clip ({MODEL_NAME} takes up to "
                          f"{human_size(VideoLimits().max_bytes)}).", field="video_url")


def _timeout(url: str, timeout: float) -> InputError:
    return InputError(f"Downloading {_short(url)} took longer than {timeout:.0f} s.",
                      fix="Try a faster host, or upload the file instead.", field="video_url")
