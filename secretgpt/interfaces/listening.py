"""Where the app listens: whether it can, asked before anything is printed, and the start-up lines
only once it really does (the address and the API token are no use from a process about to exit)."""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Callable


def port_problem(host: str, port: int) -> str | None:
    """Why the app cannot listen on `host`:`port`, in one sentence naming the setting; None if it
    can. Binds the way the server will (asyncio's `create_server`: SO_REUSEADDR, IPv6 sockets
    v6-only, every address the host resolves to), then lets go at once."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        return _not_here(host)
    bound = 0
    for family, kind, proto, _, address in addresses:
        try:
            with socket.socket(family, kind, proto) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(address)
                bound += 1
        except OSError as exc:
            if exc.errno == errno.EADDRNOTAVAIL:
                continue  # as asyncio does: that address family is not enabled here ("localhost" as ::1)
            return refusal(exc, host, port)
    return None if bound else _not_here(host)


def refusal(exc: OSError, host: str, port: int) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (f"Port {port} on {host} is already in use (another SecretGPT, or another program, listens there): "
                "stop it, or choose another port with SECRETGPT_PORT or --port.")
    if exc.errno == errno.EACCES:
        return (f"Port {port} needs privileges this user does not have: choose a port above 1023 with "
                "SECRETGPT_PORT or --port.")
    if exc.errno == errno.EADDRNOTAVAIL:
        return _not_here(host)
    return (f"SecretGPT cannot listen on {host} port {port} ({exc.strerror or exc}): check SECRETGPT_HOST and "
            "SECRETGPT_PORT (or --host, --port).")


def _not_here(host: str) -> str:
    return (f"SecretGPT cannot listen on {host}: it is not an address of this machine; set SECRETGPT_HOST or "
            "--host to one that is (127.0.0.1 by default).")


async def when_listening(listening: Callable[[], bool], announce: Callable[[], None], poll: float = 0.05) -> None:
    """Call `announce` once `listening()` is true. The server binds its socket only after the app's
    start-up has run, so the start-up cannot announce it itself; cancelled if the bind fails."""
    while not listening():
        await asyncio.sleep(poll)
    announce()
