"""Listening: refuse settings that would expose the archive without a password, bind the socket
here (so a port in use is one clear message, not a uvicorn traceback), then run uvicorn."""

from __future__ import annotations

import errno
import ipaddress
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

from monitor.config.settings import Settings
from monitor.core.errors import ConfigError


def check_exposure(settings: Settings) -> None:
    """Raise ConfigError when the settings would serve the archive unprotected beyond loopback,
    or name only half of the basic-auth pair."""
    user, password = settings.web_user, settings.web_password
    if bool(user) != bool(password and password.get_secret_value()):
        missing = "web_password (MONITOR_WEB_PASSWORD)" if user else "web_user (MONITOR_WEB_USER)"
        raise ConfigError(f"web: basic auth needs both a user and a password; {missing} is unset")
    if not user and not is_loopback(settings.web_host):
        raise ConfigError(
            f"web: refusing to listen on {settings.web_host} without a password: set "
            "MONITOR_WEB_USER and MONITOR_WEB_PASSWORD, or listen on 127.0.0.1"
        )


def is_loopback(host: str) -> bool:
    """True when every address `host` names is a loopback address."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return bool(found) and all(ipaddress.ip_address(a[4][0]).is_loopback for a in found)


def bind(host: str, port: int) -> socket.socket:
    if not 0 <= port <= 65535:
        raise ConfigError(f"web: port {port} is not a port number (0-65535)")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except OSError as exc:
        raise ConfigError(f"web: cannot resolve the host {host!r}: {exc}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        why = "the port is in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
        raise ConfigError(
            f"web: cannot listen on {host}:{port}: {why} (choose another with --port)"
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(app: ASGIApp, settings: Settings, on_ready: Callable[[str], None] | None = None) -> None:
    """Serve `app` until SIGINT or SIGTERM."""
    check_exposure(settings)
    sock = bind(settings.web_host, settings.web_port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    if on_ready:
        on_ready(f"http://{shown}:{port}/")
    config = uvicorn.Config(app, log_config=None, lifespan="off", server_header=False)
    try:
        _Server(config).run(sockets=[sock])
    finally:
        sock.close()


class _Server(uvicorn.Server):
    """uvicorn's server, but a SIGINT or SIGTERM that stopped it is not raised again afterwards:
    it is how the web page is meant to stop, so the command ends normally (status 0)."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        stops = (signal.SIGINT, signal.SIGTERM)
        before = {stop: signal.signal(stop, self.handle_exit) for stop in stops}
        try:
            yield
        finally:
            for stop, handler in before.items():
                signal.signal(stop, handler)
