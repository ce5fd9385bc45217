"""``lapse web``: the TUI in a browser, behind a secret key (docs/architecture.md §1).

The daemon's socket is 0660, so only its user and group may drive the camera. A
web server listening on a TCP port would be a door around that: any local user
(or any page the photographer visits) could reach it. So every request must
carry the key made when ``lapse web`` started, in the address it printed or in
the cookie the first page sets, and the websocket that drives the TUI (like any
request that changes something) must come from lapse's own page.

The server is textual-serve's, with the door added as aiohttp middleware to the
app it builds. Checked against textual-serve 1.1.3: ``Server._make_app`` is an
internal, so pyproject.toml pins a compatible range.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
import secrets
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from textual_serve.server import Server

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]

PAGE = Path(__file__).resolve().parent / "web_page"
"""The folder of lapse's page template (``app_index.html``), in place of textual-serve's."""
TOKEN_PARAMETER = "token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods a page only reads with; anything else changes something, as a websocket does."""
NO_KEY = "Forbidden: open the address `lapse web` printed when it started (it ends in ?token=…).\n"
FOREIGN_ORIGIN = (
    "Forbidden: only lapse's own page may drive lapse; open the address `lapse web` printed.\n"
)


KEY_IN_ADDRESS = re.compile(rf"([?&]{TOKEN_PARAMETER}=)[^&\s\"']*")
"""The key where an address carries it: in a request line and in a Referer."""


class HideKey(logging.Filter):
    """Cuts the key out of the server's access log: whoever reads the log (the journal
    of a service, a log file) must not be let in by it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        hidden = KEY_IN_ADDRESS.sub(r"\1…", message)
        if hidden != message:
            record.msg, record.args = hidden, None
        return True


def new_token() -> str:
    """A fresh secret key: 256 random bits, safe in a URL."""
    return secrets.token_urlsafe(32)


def cookie_name(port: int) -> str:
    """The cookie holding the key: one per port, as browsers share cookies across a host's ports."""
    return f"lapse-web-{port}"


WILDCARDS = frozenset({"", "0.0.0.0", "::", "[::]"})
"""Hosts that mean every interface: no browser can open them."""


def reachable_name(host: str) -> str:
    """The name to print for a server on ``host``: the machine's own name when it
    listens on every interface, since ``http://0.0.0.0`` opens nothing elsewhere; an
    IPv6 address in brackets, as an address writes it."""
    if host in WILDCARDS:
        return socket.gethostname()
    return f"[{host}]" if ":" in host else host


def is_loopback(host: str) -> bool:
    """True when every address ``host`` names is this machine's own (reachable from nowhere else).

    An empty host listens on every interface; a name that does not resolve is
    left to the server, which says it cannot serve there.
    """
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return True
    return all(ipaddress.ip_address(info[4][0].partition("%")[0]).is_loopback for info in found)


def door(token: str, cookie: str) -> Middleware:
    """aiohttp middleware: only requests with the key, and changes only from the page's origin.

    A request that brings the key in its address gets it back as a cookie, so the
    page's assets and its websocket are let in by the cookie alone.
    """
    key = token.encode()

    def holds_key(value: str | None) -> bool:
        # compare_digest takes the same time wherever the first difference is.
        return value is not None and hmac.compare_digest(value.encode("utf-8", "replace"), key)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        by_address = holds_key(request.query.get(TOKEN_PARAMETER))
        if not (by_address or holds_key(request.cookies.get(cookie))):
            return web.Response(status=403, text=NO_KEY)
        if changes_something(request) and not from_own_origin(request):
            return web.Response(status=403, text=FOREIGN_ORIGIN)
        response = await handler(request)
        if by_address and not response.prepared:
            response.set_cookie(cookie, token, httponly=True, samesite="Strict", path="/")
        return response

    return middleware


def changes_something(request: web.Request) -> bool:
    """True for a websocket handshake (it drives the TUI) and for any method that is not a read."""
    return "Upgrade" in request.headers or request.method not in SAFE_METHODS


def from_own_origin(request: web.Request) -> bool:
    """True when the browser says the request comes from the page's own origin.

    The origin is the scheme, host and port the browser used, which it also sent
    as ``Host``. A browser sends ``Origin`` with every websocket handshake, so a
    missing one is refused too.
    """
    origin = request.headers.get("Origin")
    return origin is not None and origin.lower() == f"{request.scheme}://{request.host}".lower()


class WebServer(Server):
    """textual-serve's server of the TUI, behind :func:`door` with a key of its own."""

    def __init__(self, command: str, host: str, port: int) -> None:
        # lapse's own page: a phone's viewport, the terminal filling the window, and no
        # font fetched from the internet.
        super().__init__(
            command,
            host=host,
            port=port,
            title="lapse",
            public_url=f"http://{reachable_name(host)}:{port}",
            templates_path=PAGE,
        )
        self.token = new_token()
        access_log = logging.getLogger("aiohttp.access")
        if not any(isinstance(kept, HideKey) for kept in access_log.filters):
            access_log.addFilter(HideKey())

    @property
    def url(self) -> str:
        """The address to open: the page, with the key."""
        return f"{self.public_url}/?{TOKEN_PARAMETER}={self.token}"

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(door(self.token, cookie_name(self.port)))
        return app

    async def on_startup(self, app: web.Application) -> None:
        """Says nothing: textual-serve would print the address without its key."""
