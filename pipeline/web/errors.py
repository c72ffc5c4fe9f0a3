"""One error page for everything that goes wrong in the web app.

HTTP errors (including unknown routes), invalid path, query or form fields, every
``KiemtinError`` a store function raises and any unexpected exception are rendered by
``error.html`` with the same shape: the status, a title and a message for the person at the
browser. A refused GET without a login goes to the login page (and back after it).
"""

from __future__ import annotations

import html
import logging
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import KiemtinError
from ..store import ConflictError, ForbiddenError, NotFoundError
from .i18n import N_, _, localize
from .security import safe_next

log = logging.getLogger(__name__)

# In English; each page shows them in its reader's language (pipeline.web.i18n).
TITLES = {
    400: N_("Bad request"),
    401: N_("Not logged in"),
    403: N_("Forbidden"),
    404: N_("Not found"),
    405: N_("Method not allowed"),
    409: N_("Conflict"),
    429: N_("Too many requests"),
    500: N_("Server error"),
}
# Starlette's own details (an unknown route, a wrong method), translated like ours.
STARLETTE_DETAILS = (N_("Not Found"), N_("Method Not Allowed"))
# Said before a store's refusal, which stays in English (it names fields and values).
STORE_LEAD = N_("The request could not be carried out:")
# Most specific first: a store refusal's status; any other KiemtinError is a bad request.
STATUS_OF_ERROR: tuple[tuple[type[KiemtinError], int], ...] = (
    (ConflictError, 409),
    (NotFoundError, 404),
    (ForbiddenError, 403),
    (KiemtinError, 400),
)
SERVER_ERROR_MESSAGE = N_(
    "Something went wrong on the server and it was logged. Try again; if it happens again, "
    "tell an admin what you were doing."
)


def status_of(exc: KiemtinError) -> int:
    """The HTTP status of a store or input error.

    >>> status_of(NotFoundError("item 7", expected="an item", found="none", fix="."))
    404
    """
    return next(status for kind, status in STATUS_OF_ERROR if isinstance(exc, kind))


def field_errors(exc: RequestValidationError):
    """A validation error in words: which field was wrong and why (the field names and
    pydantic's reasons stay as they are)."""
    parts = []
    for error in exc.errors():
        where = " ".join(str(p) for p in error.get("loc", ()) if p not in ("body",))
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return _("A field of the request is not as expected (%(fields)s).", fields="; ".join(parts))


def install_error_pages(app: FastAPI, render, language_of) -> None:
    """Register the handlers; ``render(request, template, status=..., **context)`` and
    ``language_of(request)``, the language of the page."""

    def page(request: Request, status: int, message):
        return render(
            request,
            "error.html",
            status=status,
            status_code=status,
            title=localize(TITLES.get(status, N_("Error")), language_of(request)),
            message=message,
        )

    def to_login(request: Request, message: str):
        """A page that needs a login: the login page, back here afterwards. A browser whose
        session has just ended (logout elsewhere, account changed, timed out) gets the login
        form with a 401 saying why; one that never logged in is redirected there."""
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if getattr(request.state, "session_ended", False):
            request.session.pop("token", None)
            return render(request, "login.html", status=401, error=message, next=safe_next(here))
        login = request.app.url_path_for("login_page")
        return RedirectResponse(f"{login}?{urlencode({'next': here})}", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 401 and request.method == "GET":
            return to_login(request, exc.detail)
        return page(request, exc.status_code, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def invalid_fields(request: Request, exc: RequestValidationError):
        return page(request, 400, field_errors(exc))

    @app.exception_handler(KiemtinError)
    async def store_error(request: Request, exc: KiemtinError):
        lead = localize(STORE_LEAD, language_of(request))
        return page(request, status_of(exc), f"{lead} {exc}")

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception):
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        try:
            return page(request, 500, SERVER_ERROR_MESSAGE)
        except Exception:  # the page itself failed (e.g. the database is down)
            log.exception("the error page could not be rendered")
            language = request.app.state.settings.language  # no account to ask
            return HTMLResponse(
                f"<!doctype html><title>500</title>"
                f"<h1>500 {html.escape(localize(TITLES[500], language))}</h1>"
                f"<p>{html.escape(localize(SERVER_ERROR_MESSAGE, language))}</p>",
                status_code=500,
            )
