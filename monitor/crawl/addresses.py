"""Which hosts the fetcher refuses to reach: any whose name resolves to a loopback, private,
link-local, reserved, multicast or unspecified address, so a source (or a public page redirecting
inward) cannot make the monitor fetch from the machine it runs on or its network. The fetcher
checks every redirect hop here before it connects.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from monitor.core.errors import ConnectionFailed, PrivateAddressRefused


async def refuse_private_host(url: str, host: str, port: int) -> None:
    """Raise PrivateAddressRefused if the host resolves to any non-public address.

    httpx resolves the name again when it connects, so a hostile DNS server could still answer
    differently then; this guards against redirects and misconfigured sources, not rebinding.
    """
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError as exc:
            raise ConnectionFailed(url, f"cannot resolve {host}: {exc}", attempts=0) from exc
        addresses = [str(info[4][0]) for info in infos]
    for address in addresses:
        if not is_public_address(address):
            message = f"{host} resolves to non-public address {address}"
            raise PrivateAddressRefused(url, message, attempts=0)


def is_public_address(address: str) -> bool:
    """True for globally routable unicast addresses; IPv4-mapped and 6to4 ones are unwrapped."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is not None:
            ip = embedded
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )
