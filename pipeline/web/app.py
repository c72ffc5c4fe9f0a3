"""The reviewer web app: log in, the queue, an item page, answers, adjudication, audit.

Server-rendered (Jinja2, autoescaped) with a little progressive JavaScript for keyboard
shortcuts. Routes stay thin: the logic lives in ``pipeline.store``. Every POST checks the
session's CSRF token; every route checks the role's permission.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from ..errors import InputError
from ..store.db import Settings, make_engine, session_factory
from ..store.users import get_user, verify_password
from .errors import install_error_pages
from .routes import rebuttals as routes_rebuttals
from .routes import review as routes_review
from .security import (
    CSRF_FIELD,
    HOME_PAGES,
    LoginRateLimiter,
    allowed,
    csrf_ok,
    new_csrf_token,
)

HERE = Path(__file__).parent
SESSION_HOURS = 8


@dataclass
class WebSettings:
    """From the environment: ``KIEMTIN_SECRET_KEY`` (required, >= 32 characters),
    ``KIEMTIN_DATABASE_URL``, ``KIEMTIN_HTTPS`` (1 when served over HTTPS: secure cookies),
    ``KIEMTIN_UNCERTAIN_SHARE`` (share of queue places for the least certain items, 0.2)."""

    secret_key: str
    database_url: str
    https: bool = False
    uncertain_share: float = 0.2
    rate_limit: LoginRateLimiter = field(default_factory=LoginRateLimiter)

    def __post_init__(self):
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

    @classmethod
    def from_env(cls) -> WebSettings:
        return cls(
            secret_key=os.environ.get("KIEMTIN_SECRET_KEY", ""),
            database_url=Settings.from_env().database_url,
            https=os.environ.get("KIEMTIN_HTTPS", "") == "1",
            uncertain_share=_share(os.environ.get("KIEMTIN_UNCERTAIN_SHARE", "0.2")),
        )


def _share(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return -1.0  # refused by WebSettings with the expected/found message


def create_app(settings: WebSettings | None = None) -> FastAPI:
    settings = settings or WebSettings.from_env()
    engine = make_engine(settings.database_url)
    sessions = session_factory(engine)
    templates = Jinja2Templates(directory=HERE / "templates")  # autoescape is on for .html

    app = FastAPI(title="kiemtin", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="kiemtin_session",
        max_age=SESSION_HOURS * 3600,
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

    def current_user(request: Request):
        name = request.session.get("user")
        if not name:
            return None
        with sessions() as session:
            return get_user(session, name)

    def csrf(request: Request) -> str:
        token = request.session.get(CSRF_FIELD)
        if not token:
            token = request.session[CSRF_FIELD] = new_csrf_token()
        return token

    def render(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
        user = context.pop("user", None) or current_user(request)
        role = user.role if user else None
        return templates.TemplateResponse(
            request,
            name,
            {
                "user": user,
                "csrf_token": csrf(request),
                "can": lambda permission: allowed(role, permission),
                "flash": request.session.pop("flash", None),
                **context,
            },
            status_code=status,
        )

    def require(request: Request, permission: str):
        user = current_user(request)
        if user is None:
            raise HTTPException(401, "Log in first.")
        if not allowed(user.role, permission):
            raise HTTPException(403, f"Your role ({user.role}) may not do this.")
        return user

    def check_csrf(request: Request, token: str | None) -> None:
        if not csrf_ok(request.session.get(CSRF_FIELD), token):
            raise HTTPException(403, "The form was stale or not from this site; reload the page.")

    install_error_pages(app, render)

    @app.get("/login", response_class=HTMLResponse, name="login_page")
    def login_page(request: Request):
        return render(request, "login.html")

    @app.post("/login", name="login")
    def login(
        request: Request,
        name: str = Form(...),
        password: str = Form(...),
        csrf_token: str | None = Form(None),
    ):
        check_csrf(request, csrf_token)
        keys = (f"ip:{request.client.host if request.client else '?'}", f"user:{name}")
        if settings.rate_limit.blocked(*keys):
            return render(
                request,
                "login.html",
                status=429,
                error="Too many failed logins; wait a few minutes and try again.",
            )
        with db() as session:
            user = verify_password(session, name, password)
        if user is None:
            settings.rate_limit.failed(*keys)
            return render(request, "login.html", status=401, error="Wrong name or password.")
        settings.rate_limit.succeeded(*keys)
        request.session.clear()  # a new session on login: no fixation
        request.session["user"] = user.name
        return RedirectResponse(home_url(request, user.role), status_code=303)

    @app.post("/logout", name="logout")
    def logout(request: Request, csrf_token: str | None = Form(None)):
        check_csrf(request, csrf_token)
        request.session.clear()
        return RedirectResponse(request.url_for("login_page"), status_code=303)

    def home_url(request: Request, role: str | None):
        page = next((name for perm, name in HOME_PAGES if allowed(role, perm)), "queue_page")
        return request.url_for(page)

    @app.get("/", name="home")
    def home(request: Request):
        user = current_user(request)
        return RedirectResponse(home_url(request, user.role if user else None), status_code=303)

    def store_call(fn, *args, **kwargs):
        """Call a store write; its refusals reach the error pages with the store's message."""
        with db() as session:
            return fn(session, *args, **kwargs)

    # Queue, item, answers and audit routes; narratives and rebuttals.
    for routes in (routes_review, routes_rebuttals):
        routes.register(
            app, db=db, render=render, require=require, check_csrf=check_csrf,
            store_call=store_call,
        )

    @app.middleware("http")
    async def security_headers(request: Request, call_next) -> Response:
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "frame-ancestors 'none'; form-action 'self'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    return app
