"""The Starlette application: routes, HTTP basic auth, security headers and error pages.

Read-only by construction: every route answers GET (and HEAD) only, so any other method gets 405.
Every page is rendered on the server and works without JavaScript; the Content-Security-Policy
allows no script at all. When a user and password are set, every response (the stylesheet too)
needs them: the password is compared in constant time and never logged.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Sequence
from datetime import datetime
from importlib.resources import files
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monitor.config.settings import Settings
from monitor.config.sources import Source
from monitor.core.clock import Clock, utc_now
from monitor.deliver.digest import Labels
from monitor.search.highlight import Marked
from monitor.store import Store
from monitor.store.warc import WarcArchive
from monitor.web.pages import Pages

PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
REALM = 'Basic realm="az-kz-monitor", charset="UTF-8"'


def create_app(
    settings: Settings,
    store: Store,
    *,
    sources: Sequence[Source] = (),
    labels: Labels | None = None,
    clock: Clock = utc_now,
) -> ASGIApp:
    """The web page over `store`; `sources` feed the filters and the health view, `labels` the
    display names of sources and topics."""
    pages = Pages(
        store=store,
        warc=WarcArchive(settings.warc_dir),
        templates=templates(),
        labels=labels or Labels(),
        sources=sources,
        clock=clock,
        zone=ZoneInfo(settings.digest_timezone),
    )
    stylesheet = files("monitor.web").joinpath("static/style.css").read_bytes()

    def style(_: Request) -> Response:
        headers = {"Cache-Control": "public, max-age=3600"}
        return Response(stylesheet, media_type="text/css", headers=headers)

    def error_page(request: Request, exc: Exception) -> Response:
        if isinstance(exc, HTTPException):
            status, detail = exc.status_code, exc.detail
        else:  # Starlette re-raises it after this page is sent, so the server logs it
            status, detail = 500, "the page could not be built; the server log says why"
        response = (
            Response(status_code=status)
            if request.method == "HEAD"
            else pages.render("error.html.j2", status, code=status, detail=detail)
        )
        response.headers.update(getattr(exc, "headers", None) or {})  # Allow, on a 405
        return response

    get = ["GET"]  # Starlette adds HEAD to every GET route
    app = Starlette(
        routes=[
            Route("/", pages.home, methods=get),
            Route("/search", pages.results, methods=get),
            Route("/article/{article_id:int}", pages.article, methods=get),
            Route("/article/{article_id:int}/capture", pages.capture, methods=get),
            Route("/article/{article_id:int}/capture/body", pages.capture_body, methods=get),
            Route("/stories", pages.stories, methods=get),
            Route("/story/{story_id:int}", pages.story, methods=get),
            Route("/sources", pages.source_health, methods=get),
            Route("/chart", pages.chart, methods=get),
            Route("/trends", pages.trends, methods=get),
            Route("/style.css", style, methods=get),
        ],
        exception_handlers={HTTPException: error_page, Exception: error_page},
    )
    wrapped: ASGIApp = SecurityHeaders(app)
    credentials = web_credentials(settings)
    if credentials:
        wrapped = BasicAuth(wrapped, *credentials)
    return wrapped


def templates() -> Environment:
    env = Environment(
        loader=PackageLoader("monitor.web", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["marked"] = marked
    env.filters["http_url"] = http_url
    env.filters["when"] = lambda moment: f"{moment:%Y-%m-%d %H:%M}" if moment else "never"
    env.filters["published"] = lambda moment: (
        f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "date unknown"
    )
    env.globals["span"] = span
    return env


def span(first: datetime | None, last: datetime | None) -> str:
    """The days a story was told over, in UTC as the other dates of the page."""
    if first is None or last is None:
        return "date unknown"
    if first == last:
        return f"{first:%Y-%m-%d %H:%M} UTC"
    if first.date() == last.date():
        return f"{first:%Y-%m-%d %H:%M}–{last:%H:%M} UTC"
    return f"{first:%Y-%m-%d %H:%M} – {last:%Y-%m-%d %H:%M} UTC"


def marked(text: Marked) -> Markup:
    """Each piece escaped, the matched ones in <mark>."""
    return Markup("").join(
        Markup("<mark>{}</mark>").format(piece) if hit else escape(piece)
        for piece, hit in text.pieces
    )


def http_url(url: str | None) -> str | None:
    """The URL when it is http(s), else None: a crawled `javascript:` link is never a link here."""
    if url and url.lower().startswith(("http://", "https://")):
        return url
    return None


def web_credentials(settings: Settings) -> tuple[str, str] | None:
    if settings.web_user and settings.web_password:
        return settings.web_user, settings.web_password.get_secret_value()
    return None


class SecurityHeaders:
    """Adds the page CSP and friends to responses that set none of their own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in (
                    (b"content-security-policy", PAGE_CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                ):
                    if name not in present:
                        headers.append((name, value))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class BasicAuth:
    """HTTP basic auth on every request; 401 with a challenge otherwise."""

    def __init__(self, app: ASGIApp, user: str, password: str) -> None:
        self.app = app
        self.expected = (user.encode(), password.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.authorised(Request(scope).headers.get("authorization")):
            await self.app(scope, receive, send)
            return
        response = HTMLResponse(
            "<!doctype html><title>401</title><p>This archive needs a user name and password.",
            401,
            headers={"WWW-Authenticate": REALM, "Content-Security-Policy": PAGE_CSP},
        )
        await response(scope, receive, send)

    def authorised(self, header: str | None) -> bool:
        scheme, _, encoded = (header or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, sep, password = base64.b64decode(encoded.strip(), validate=True).partition(b":")
        except (binascii.Error, ValueError):
            return False
        # both compared, always, so the time taken says nothing about which one was wrong
        user_ok = hmac.compare_digest(user, self.expected[0])
        password_ok = hmac.compare_digest(password, self.expected[1])
        return bool(sep) and user_ok and password_ok
