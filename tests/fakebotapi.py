"""A fake Telegram Bot API server on 127.0.0.1, for testing the real python-telegram-bot.

It speaks just enough of the Bot API (`POST /bot<TOKEN>/<method>`, form-encoded or JSON bodies,
`{"ok": ..., "result": ...}` answers) for `getMe`, `sendMessage`, `getUpdates`,
`deleteWebhook` and `setMyCommands`, records every request and
every delivered message, serves incoming messages to a bot that long-polls `getUpdates` (tests
queue them with `incoming`; an update is dropped once a later call's `offset` acknowledges it),
and can be told to misbehave on the next calls the way the real service
does: flood control (429 with `retry_after`), markup it cannot parse, a bot blocked or kicked, a
chat that does not exist, a 500, a reply slower than the client's timeout, and a message accepted
but the connection dropped before the answer (the lost-reply window: the message IS delivered,
the client sees a network error). The server runs in threads, so every accessor takes a lock and
returns a copy.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

FailureKind = Literal[
    "flood",  # 429 Too Many Requests with parameters.retry_after
    "bad_markup",  # 400 can't parse entities (only hits requests that set parse_mode)
    "blocked",  # 403 bot was blocked by the user
    "kicked",  # 403 bot was kicked from the channel chat
    "chat_not_found",  # 400 chat not found
    "server_error",  # 500 Internal Server Error
    "slow",  # accepted (and delivered) at once, the answer comes after `delay` seconds
    "drop",  # accepted (and delivered), then the connection is closed without an answer
]
KINDS: tuple[str, ...] = FailureKind.__args__  # type: ignore[attr-defined]
BOT_USERNAME = "az_kz_monitor_test_bot"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    token: str
    params: dict[str, Any]


@dataclass(frozen=True)
class DeliveredMessage:
    chat_id: str
    text: str
    parse_mode: str | None
    message_id: int
    link_preview_options: dict[str, Any] | None = None


@dataclass
class _Failure:
    kind: str
    method: str
    retry_after: int = 1
    delay: float = 1.0
    description: str | None = None


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    closing: threading.Event = field(default_factory=threading.Event)
    requests: list[RecordedRequest] = field(default_factory=list)
    messages: list[DeliveredMessage] = field(default_factory=list)
    failures: deque[_Failure] = field(default_factory=deque)
    next_message_id: int = 1
    updates: list[dict[str, Any]] = field(default_factory=list)  # not yet acknowledged
    next_update_id: int = 1
    # a message delivered, an update queued or acknowledged
    changed: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.changed = threading.Condition(self.lock)


def _parse_params(content_type: str, body: bytes, query: str) -> dict[str, Any]:
    """PTB posts form fields whose non-string values are JSON-encoded; other clients post JSON."""
    params: dict[str, Any] = dict(parse_qsl(query))
    if content_type.startswith("application/json"):
        params.update(json.loads(body or b"{}"))
    elif body:
        params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    for key in ("link_preview_options", "reply_markup", "entities"):
        if isinstance(params.get(key), str):
            params[key] = json.loads(params[key])
    return params


def _error(code: int, description: str, **parameters: Any) -> tuple[int, dict[str, Any]]:
    answer: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        answer["parameters"] = parameters
    return code, answer


def _failure_answer(failure: _Failure) -> tuple[int, dict[str, Any]]:
    if failure.kind == "flood":
        return _error(
            429,
            f"Too Many Requests: retry after {failure.retry_after}",
            retry_after=failure.retry_after,
        )
    described = {
        "bad_markup": (
            400,
            "Bad Request: can't parse entities: Can't find end tag corresponding to start tag b",
        ),
        "blocked": (403, "Forbidden: bot was blocked by the user"),
        "kicked": (403, "Forbidden: bot was kicked from the channel chat"),
        "chat_not_found": (400, "Bad Request: chat not found"),
        "server_error": (500, "Internal Server Error"),
    }
    code, description = described[failure.kind]
    return _error(code, failure.description or description)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms stall
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def setup(self) -> None:
        super().setup()
        with self.server.state.lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.state.lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def do_GET(self) -> None:
        self.do_POST()

    def do_POST(self) -> None:
        state = self.server.state
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = url.path.strip("/").split("/")
        if len(parts) != 2 or not parts[0].startswith("bot"):
            self._answer(*_error(404, "Not Found"))
            return
        token, method = parts[0][3:], parts[1]
        params = _parse_params(self.headers.get("Content-Type", ""), body, url.query)
        with state.lock:
            state.requests.append(RecordedRequest(method, token, params))
            failure = self._take_failure(method, params)
        if self.server.token is not None and token != self.server.token:
            self._answer(*_error(401, "Unauthorized"))
        elif failure is not None and failure.kind not in ("slow", "drop"):
            self._answer(*_failure_answer(failure))
        else:
            self._serve(method, params, failure)

    def _take_failure(self, method: str, params: dict[str, Any]) -> _Failure | None:
        failures = self.server.state.failures
        for failure in failures:
            if failure.method != method:
                continue
            if failure.kind == "bad_markup" and not params.get("parse_mode"):
                return (
                    None  # markup errors only hit formatted text: the plain fallback goes through
                )
            failures.remove(failure)
            return failure
        return None

    def _serve(self, method: str, params: dict[str, Any], failure: _Failure | None) -> None:
        result: Any
        if method == "getMe":
            result = self.server.bot_user()
        elif method == "sendMessage":
            result = self._deliver(params)
        elif method == "getUpdates":
            result = self._updates(params)
        elif method in ("deleteWebhook", "setMyCommands"):
            result = True
        else:
            self._answer(*_error(404, "Not Found: method not found"))
            return
        if failure is not None and failure.kind == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if failure is not None and failure.kind == "slow":
            self.server.state.closing.wait(failure.delay)
        self._answer(200, {"ok": True, "result": result})

    def _deliver(self, params: dict[str, Any]) -> dict[str, Any]:
        state = self.server.state
        chat_id = str(params.get("chat_id", ""))
        with state.lock:
            message_id = state.next_message_id
            state.next_message_id += 1
            state.messages.append(
                DeliveredMessage(
                    chat_id=chat_id,
                    text=str(params.get("text", "")),
                    parse_mode=params.get("parse_mode") or None,
                    message_id=message_id,
                    link_preview_options=params.get("link_preview_options"),
                )
            )
            state.changed.notify_all()
        numeric_id = int(chat_id) if chat_id.lstrip("-").isdigit() else -1001234567890
        chat: dict[str, Any] = {"id": numeric_id, "type": "channel", "title": "AZ-KZ test"}
        if chat_id.startswith("@"):
            chat["username"] = chat_id[1:]
        return {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat,
            "text": str(params.get("text", "")),
        }

    def _updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Long polling: drop what `offset` acknowledges, then answer at once with what is pending,
        or wait up to `timeout` seconds (cut short when the server closes) for something."""
        state = self.server.state
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 60.0)
        with state.changed:
            if offset > 0:
                state.updates = [u for u in state.updates if u["update_id"] >= offset]
                state.changed.notify_all()  # wait_for_acknowledged
            while True:
                pending = [u for u in state.updates if u["update_id"] >= offset]
                remaining = deadline - time.monotonic()
                if pending or remaining <= 0 or state.closing.is_set():
                    return pending[:limit]
                state.changed.wait(min(remaining, 0.1))

    def _answer(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client gave up (timed out) first
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, state: _State, token: str | None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state
        self.token = token
        self.connections: set[socket.socket] = set()  # kept-alive client connections

    def hang_up(self) -> None:
        """Close kept-alive connections too, so a stopped server really is unreachable."""
        with self.state.lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def bot_user(self) -> dict[str, Any]:
        prefix = (self.token or "").partition(":")[0]
        return {
            "id": int(prefix) if prefix.isdigit() else 123456789,
            "is_bot": True,
            "first_name": "AZ-KZ Monitor (test)",
            "username": BOT_USERNAME,
        }

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that time out or hang up are part of the script, not test failures


class FakeBotAPI:
    """`with FakeBotAPI() as api:` serves on `api.url`; point `Bot(base_url=api.url + "/bot")`
    (or the notifier's `api_url`) at it. With `token`, other tokens get 401 Unauthorized."""

    def __init__(self, token: str | None = None) -> None:
        self._state = _State()
        self._server = _Server(self._state, token)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        host, port = self._server.server_address[:2]
        self.url = f"http://{host!s}:{port}"

    def __enter__(self) -> FakeBotAPI:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._state.closing.set()  # cut short any slow reply or long poll still waiting
        with self._state.changed:
            self._state.changed.notify_all()
        self._server.shutdown()
        self._server.server_close()
        self._server.hang_up()
        self._thread.join(timeout=5)

    def fail_next(
        self,
        kind: str,
        times: int = 1,
        *,
        method: str = "sendMessage",
        retry_after: int = 1,
        delay: float = 1.0,
        description: str | None = None,
    ) -> None:
        """Queue `times` failures of `kind` for the next calls of `method`, in order."""
        if kind not in KINDS:
            raise ValueError(f"unknown failure kind {kind!r}; one of {', '.join(KINDS)}")
        with self._state.lock:
            for _ in range(times):
                self._state.failures.append(_Failure(kind, method, retry_after, delay, description))

    @property
    def messages(self) -> list[DeliveredMessage]:
        with self._state.lock:
            return list(self._state.messages)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._state.lock:
            return list(self._state.requests)

    def calls(self, method: str) -> list[RecordedRequest]:
        return [request for request in self.requests if request.method == method]

    def incoming(
        self,
        text: str,
        *,
        chat_id: int,
        user_id: int,
        chat_type: str = "group",
        edited: bool = False,
    ) -> int:
        """Queue a message from user `user_id` in chat `chat_id` for the bot's next getUpdates;
        a leading /command gets its bot_command entity, as Telegram sends it. Returns its
        update_id."""
        now = int(time.time())
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = f"User {user_id}"
        else:
            chat["title"] = f"Chat {chat_id}"
        message: dict[str, Any] = {
            "date": now,
            "chat": chat,
            "from": {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"},
            "text": text,
        }
        command = text.split(maxsplit=1)[0] if text.startswith("/") else ""
        if command:
            length = len(command.encode("utf-16-le")) // 2
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        if edited:
            message["edit_date"] = now
        with self._state.changed:
            update_id = self._state.next_update_id
            self._state.next_update_id += 1
            message["message_id"] = 10_000 + update_id
            kind = "edited_message" if edited else "message"
            self._state.updates.append({"update_id": update_id, kind: message})
            self._state.changed.notify_all()
        return update_id

    @property
    def pending_updates(self) -> list[int]:
        """Ids of queued updates no getUpdates offset has acknowledged yet."""
        with self._state.lock:
            return [update["update_id"] for update in self._state.updates]

    def wait_for_acknowledged(self, update_id: int, *, timeout: float = 10.0) -> None:
        """Block until a getUpdates offset acknowledged `update_id`: from then on no poller can
        receive it. TimeoutError when that does not happen in time."""
        with self._state.changed:
            if not self._state.changed.wait_for(
                lambda: all(u["update_id"] != update_id for u in self._state.updates), timeout
            ):
                raise TimeoutError(f"update {update_id} not acknowledged after {timeout} s")

    def wait_for_messages(
        self, count: int = 1, *, chat_id: str | int | None = None, timeout: float = 10.0
    ) -> list[DeliveredMessage]:
        """Block until `count` messages were delivered (to `chat_id`, if given) and return them
        all; TimeoutError naming what arrived when they do not come in time."""
        deadline = time.monotonic() + timeout
        wanted = None if chat_id is None else str(chat_id)
        with self._state.changed:
            while True:
                found = [m for m in self._state.messages if wanted is None or m.chat_id == wanted]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"{len(found)} of {count} messages to chat {wanted or 'any'} after "
                        f"{timeout} s; delivered: {[m.chat_id for m in self._state.messages]}"
                    )
                self._state.changed.wait(remaining)
