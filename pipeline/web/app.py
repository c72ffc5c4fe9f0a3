"""The team web app: log in, the queue, items and answers, narratives and rebuttals, the
analysis page, account management and the audit trail.

Server-rendered (Jinja2, autoescaped) with a little progressive JavaScript for keyboard
shortcuts. Routes stay thin: the logic lives in ``pipeline.store``. Every POST checks the
session's CSRF token; every route checks the role's permission. Sessions are rows in the
database (``pipeline.store.login_sessions``): the cookie holds only a random token.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import jinja2
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from ..errors import InputError
from ..store.db import Settings, make_engine, session_factory
from ..store.login_sessions import SessionLimits, find_session
from .errors import install_error_pages
from .i18n import DEFAULT_LANGUAGE, LANGUAGES, _, check_language, localize
from .i18n import ROLES as ROLE_NAMES
from .i18n import install as install_i18n
from .routes import accounts as routes_accounts
from .routes import analysis as routes_analysis
from .routes import assignments as routes_assignments
from .routes import rebuttals as routes_rebuttals
from .routes import review as routes_review
from .routes import stats as routes_stats
from .security import LoginRateLimiter, allowed, csrf_ok, new_csrf_token

HERE = Path(__file__).parent
SESSION_COOKIE = "kiemtin_session"
# In the signed cookie: the session token, the login form's CSRF token, a flash message and
# the language chosen before logging in.
TOKEN_KEY, LOGIN_CSRF_KEY, LANGUAGE_KEY = "token", "login_csrf", "language"
HSTS = "max-age=31536000; includeSubDomains"


@dataclass
class WebSettings:
    """From the environment: ``KIEMTIN_SECRET_KEY`` (required, >= 32 characters),
    ``KIEMTIN_DATABASE_URL``, ``KIEMTIN_HTTPS`` (1 when served over HTTPS: secure cookies and
    HSTS), ``KIEMTIN_UNCERTAIN_SHARE`` (share of queue places for the least certain items,
    0.2), ``KIEMTIN_SESSION_IDLE_MINUTES`` (a session unused this long ends, 60) and
    ``KIEMTIN_SESSION_HOURS`` (no session lives longer, 8), ``KIEMTIN_LANGUAGE`` (the
    pages' language for accounts that chose none: vi, the default, or en) and
    ``KIEMTIN_CLAIM_MINUTES`` (how long opening an item to answer holds it for the reviewer,
    5; ``pipeline.store.assignments``)."""

    secret_key: str
    database_url: str
    https: bool = False
    uncertain_share: float = 0.2
    session_idle_minutes: float = 60.0
    session_hours: float = 8.0
    language: str = DEFAULT_LANGUAGE
    claim_minutes: float = 5.0
    rate_limit: LoginRateLimiter = field(default_factory=LoginRateLimiter)

    def __post_init__(self):
        check_language(self.language, "KIEMTIN_LANGUAGE")
        if len(self.secret_key or "") < 32 or self.secret_key == "change-me":
            raise InputError(
                "KIEMTIN_SECRET_KEY",
                expected="a random secret of at least 32 characters",
                found="none" if not self.secret_key else f"{len(self.secret_key)} characters",
                fix='Set it, e.g. export KIEMTIN_SECRET_KEY="$(python -c '
                "'import secrets; print(secrets.token_urlsafe(48))')\"",
            )
        if not 0 <= self.uncertain_share <= 1:
            raise InputError(
                "KIEMTIN_UNCERTAIN_SHARE",
                expected="a share between 0 and 1",
                found=repr(self.uncertain_share),
                fix="Use e.g. 0.2 for one place in five.",
            )
        for name, value in (
            ("KIEMTIN_SESSION_IDLE_MINUTES", self.session_idle_minutes),
            ("KIEMTIN_SESSION_HOURS", self.session_hours),
        ):
            if not 0 < value < 10_000:
                raise InputError(
                    name,
                    expected="a positive number (minutes idle, hours in all)",
                    found=repr(value),
                    fix="Use e.g. KIEMTIN_SESSION_IDLE_MINUTES=60 KIEMTIN_SESSION_HOURS=8.",
                )
        if not 0 < self.claim_minutes <= 24 * 60:
            raise InputError(
                "KIEMTIN_CLAIM_MINUTES",
                expected="a number of minutes above 0, at most 1440 (a day)",
                found=repr(self.claim_minutes),
                fix="Use e.g. KIEMTIN_CLAIM_MINUTES=5: long enough to read and answer a post.",
            )
        if self.session_idle_minutes > self.session_hours * 60:
            raise InputError(
                "KIEMTIN_SESSION_IDLE_MINUTES",
                expected="an idle timeout no longer than the session lifetime",
                found=f"{self.session_idle_minutes:g} minutes idle, "
                f"{self.session_hours:g} hours in all",
                fix="Lower KIEMTIN_SESSION_IDLE_MINUTES or raise KIEMTIN_SESSION_HOURS.",
            )

    @property
    def session_limits(self) -> SessionLimits:
        return SessionLimits(
            idle=timedelta(minutes=self.session_idle_minutes),
            lifetime=timedelta(hours=self.session_hours),
        )

    @classmethod
    def from_env(cls) -> WebSettings:
        env = os.environ.get
        return cls(
            secret_key=env("KIEMTIN_SECRET_KEY", ""),
            database_url=Settings.from_env().database_url,
            https=env("KIEMTIN_HTTPS", "") == "1",
            uncertain_share=_number(env("KIEMTIN_UNCERTAIN_SHARE", "0.2")),
            session_idle_minutes=_number(env("KIEMTIN_SESSION_IDLE_MINUTES", "60")),
            session_hours=_number(env("KIEMTIN_SESSION_HOURS", "8")),
            language=env("KIEMTIN_LANGUAGE", "").strip() or DEFAULT_LANGUAGE,
            claim_minutes=_number(env("KIEMTIN_CLAIM_MINUTES", "5")),
        )


def _number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return -1.0  # refused by WebSettings with the expected/found message


@jinja2.pass_context
def _url_path(context, name: str, /, **path_params) -> str:
    # Links are paths, never built from the request's Host header (which a client chooses).
    return str(context["request"].app.url_path_for(name, **path_params))


def create_app(settings: WebSettings | None = None) -> FastAPI:
    settings = settings or WebSettings.from_env()
    engine = make_engine(settings.database_url)
    sessions = session_factory(engine)
    templates = Jinja2Templates(directory=HERE / "templates")  # autoescape is on for .html
    templates.env.globals["url_for"] = _url_path
    install_i18n(templates.env)
    limits = settings.session_limits

    app = FastAPI(title="kiemtin", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie=SESSION_COOKIE,
        max_age=int(limits.lifetime.total_seconds()),
        same_site="strict",
        https_only=settings.https,
    )
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.state.settings, app.state.engine, app.state.sessions = settings, engine, sessions

    @contextmanager
    def db():
        # Store functions open their own write transactions (pipeline.store.db.writing).
        with sessions() as session:
            yield session

    def login_of(request: Request):
        """This request's live login session (with its account), or None; read once."""
        if not hasattr(request.state, "login"):
            token = request.session.get(TOKEN_KEY)
            with sessions() as session:
                request.state.login = find_session(session, token, limits)
            # A token whose session has ended (logout elsewhere, account changed, timed out).
            request.state.session_ended = bool(token) and request.state.login is None
        return request.state.login

    def current_user(request: Request):
        login = login_of(request)
        return login.user if login else None

    def csrf(request: Request) -> str:
        login = login_of(request)
        if login is not None:
            return login.csrf_token
        token = request.session.get(LOGIN_CSRF_KEY)
        if not token:
            token = request.session[LOGIN_CSRF_KEY] = new_csrf_token()
        return token

    def language_of(request: Request, user=None) -> str:
        """The account's own choice, else the one made before logging in, else the site's."""
        user = user or current_user(request)
        for chosen in (getattr(user, "language", None), request.session.get(LANGUAGE_KEY)):
            if chosen in LANGUAGES:
                return chosen
        return settings.language

    def render(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
        user = context.pop("user", None) or current_user(request)
        role = user.role if user else None
        language = language_of(request, user)
        # Messages built before the language was known (errors, flash) are Messages.
        for key in ("message", "error"):
            if context.get(key) is not None:
                context[key] = localize(context[key], language)
        flash = request.session.pop("flash", None)
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return templates.TemplateResponse(
            request,
            name,
            {
                "user": user,
                "csrf_token": csrf(request),
                "can": lambda permission: allowed(role, permission),
                "flash": localize(flash, language) if flash else None,
                "language": language,
                "here": here if request.method == "GET" else None,
                **context,
            },
            status_code=status,
        )

    def require(request: Request, permission: str):
        user = current_user(request)
        if user is None:
            if request.state.session_ended:
                raise HTTPException(401, _("Your session has ended; log in again."))
            raise HTTPException(401, _("Log in first."))
        if not allowed(user.role, permission):
            role = ROLE_NAMES.get(user.role, user.role)
            raise HTTPException(403, _("Your role (%(role)s) may not do this.", role=role))
        return user

    def check_csrf(request: Request, token: str | None) -> None:
        if not csrf_ok(csrf(request), token):
            raise HTTPException(
                403, _("The form was stale or not from this site; reload the page.")
            )

    def store_call(fn, *args, **kwargs):
        """Call a store write; its refusals reach the error pages with the store's message."""
        with db() as session:
            return fn(session, *args, **kwargs)

    install_error_pages(app, render, language_of)
    app.state.language_of = language_of  # files made for the reader (rebuttal packs)
    tools = {
        "db": db,
        "render": render,
        "require": require,
        "check_csrf": check_csrf,
        "store_call": store_call,
    }
    routes_accounts.register(app, login_of=login_of, **tools)
    # Queue, item, answers and audit routes; narratives and rebuttals; the analysis page.
    for routes in (
        routes_assignments, routes_review, routes_rebuttals, routes_analysis, routes_stats
    ):
        routes.register(app, **tools)

    @app.middleware("http")
    async def security_headers(request: Request, call_next) -> Response:
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "frame-ancestors 'none'; form-action 'self'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        if not request.url.path.startswith("/static/"):
            # Pages show posts and accounts: no copy in the browser's or a proxy's cache.
            response.headers["Cache-Control"] = "no-store"
        if settings.https:
            response.headers["Strict-Transport-Security"] = HSTS
        return response

    return app
