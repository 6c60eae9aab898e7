"""``GET /api/status``: the status page; ``POST /api/status``: its silence form.

A GET renders the notification state as one HTML page. A POST (the page's own form,
``application/x-www-form-urlencoded``) adds or expires a silence and answers 303 back to the
page, so a reload never posts twice; a bad field answers 400 with the page and what is wrong.
Like every route but ``/api/health`` it takes the function key in Azure; the form posts to the
page's own address, key included.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urlsplit

from handlers.errors import InvalidSilence
from handlers.http.messages import Request, Response
from handlers.http.routes import guarded
from handlers.oncall.page import render_status_page
from handlers.oncall.status import StatusSource, add_silence_from_form, expire_silence_from_form
from handlers.oncall.views import StatusView
from handlers.runtime import Runtime, get_runtime

MAX_FORM_BYTES = 16 * 1024
NOT_CONFIGURED = (
    "No alert destination is configured, so nothing is grouped or notified: nothing to show, "
    "nothing to silence."
)
# The page runs no script and loads nothing: inline styles and posting to itself only.
PAGE_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def status_page(
    request: Request,
    runtime: Runtime | None = None,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Response:
    return guarded(lambda: _status(request, runtime or get_runtime(), clock()))


def _status(request: Request, runtime: Runtime, now: datetime) -> Response:
    source = runtime.status_source
    if source is None:
        return _page(StatusView(now=now), NOT_CONFIGURED, ok=False)
    if request.method.upper() != "POST":
        return _page(source.snapshot(now))
    try:
        _apply_form(source, _form(request), now)
    except InvalidSilence as error:
        return _page(source.snapshot(now), error.detail, ok=False, status=400)
    return Response(303, b"", {"Location": _same_page(request), "Cache-Control": "no-store"})


def _apply_form(source: StatusSource, form: dict[str, str], now: datetime) -> None:
    action = form.get("action")
    if action == "add":
        add_silence_from_form(source, form, now)
    elif action == "expire":
        expire_silence_from_form(source, form, now)
    else:
        raise InvalidSilence("The form asks for neither adding nor expiring a silence.")


def _form(request: Request) -> dict[str, str]:
    if len(request.body) > MAX_FORM_BYTES:
        raise InvalidSilence("The form is larger than any silence needs.")
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidSilence("The form is not UTF-8.") from None
    return dict(parse_qsl(text, keep_blank_values=True))


def _same_page(request: Request) -> str:
    """The page's own path, with the function key (``code``) when the request carried one."""
    path = urlsplit(request.url).path or "/api/status"
    key = request.params.get("code")
    return f"{path}?{urlencode({'code': key})}" if key else path


def _page(view: StatusView, message: str | None = None, *, ok: bool = True,
          status: int = 200) -> Response:
    html = render_status_page(view, message=message, ok=ok)
    return Response(status, html.encode("utf-8"), PAGE_HEADERS)
