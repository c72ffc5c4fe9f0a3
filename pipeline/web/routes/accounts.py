"""Account routes: log in (throttled, with ``next=`` for deep links), log out, the landing
page of each role, and the admin's page of accounts (switch off and on, change role, set a
new password), every change audited by the store; and the language switch of every page.

Every redirect is a path (``/queue``), never an absolute URL built from the Host header.
"""

from __future__ import annotations

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import RedirectResponse

from ..i18n import LANGUAGES, _
from ..i18n import ROLES as ROLE_NAMES
from ..security import HOME_PAGES, ROLES, allowed, safe_next


def home_path(app: FastAPI, role: str | None) -> str:
    """The first page ``role`` may see (the login page when there is none)."""
    page = next((name for perm, name in HOME_PAGES if allowed(role, perm)), "login_page")
    return str(app.url_path_for(page))


def register(app: FastAPI, *, db, render, require, check_csrf, store_call, login_of) -> None:
    from ...store import users as accounts
    from ...store.login_sessions import end_session, start_session

    settings = app.state.settings
    limits = settings.session_limits

    def redirect(path: str) -> RedirectResponse:
        return RedirectResponse(path, status_code=303)

    @app.get("/login", name="login_page")
    def login_page(request: Request, next: str | None = None):
        return render(request, "login.html", next=safe_next(next))

    @app.post("/login", name="login")
    def login(
        request: Request,
        name: str = Form(..., max_length=200),
        password: str = Form(..., max_length=1000),
        csrf_token: str | None = Form(None),
        next: str | None = Form(None),
    ):
        check_csrf(request, csrf_token)
        address = request.client.host if request.client else "?"
        target = safe_next(next)
        with db() as session:
            if settings.rate_limit.blocked(session, address, name):
                return render(
                    request,
                    "login.html",
                    status=429,
                    next=target,
                    error=_(
                        "Too many failed logins for this name; wait a few minutes and "
                        "try again, or ask an admin."
                    ),
                )
            user = accounts.verify_password(session, name, password)
            if user is None:
                settings.rate_limit.failed(session, address, name)
                return render(
                    request,
                    "login.html",
                    status=401,
                    next=target,
                    error=_("Wrong name or password."),
                )
            settings.rate_limit.succeeded(session, address, name)
            end_session(session, request.session.get("token"))
            token, _login = start_session(session, user, limits)
        language = request.session.get("language")  # chosen on the login page
        request.session.clear()  # a new token on login: nothing known before it counts
        request.session["token"] = token
        if language in LANGUAGES:
            request.session["language"] = language
        return redirect(target or home_path(app, user.role))

    @app.post("/logout", name="logout")
    def logout(request: Request, csrf_token: str | None = Form(None)):
        check_csrf(request, csrf_token)
        # The login page stays in the language the account chose, if it chose one.
        login = login_of(request)
        chosen = getattr(login.user, "language", None) if login else None
        chosen = chosen or request.session.get("language")
        with db() as session:
            end_session(session, request.session.get("token"))
        request.session.clear()
        if chosen in LANGUAGES:
            request.session["language"] = chosen
        return redirect(str(app.url_path_for("login_page")))

    @app.post("/language", name="set_language")
    def set_language(
        request: Request,
        language: str | None = Form(None),
        next: str | None = Form(None),
        csrf_token: str | None = Form(None),
    ):
        """The language of the pages: an account's own setting when logged in (any role),
        else this browser's until it logs in. Back to the page it was chosen on."""
        check_csrf(request, csrf_token)
        if language not in LANGUAGES:
            raise HTTPException(
                400,
                _(
                    "language must be one of %(languages)s, found %(found)s.",
                    languages=", ".join(LANGUAGES),
                    found=repr(language),
                ),
            )
        login = login_of(request)
        store_set = getattr(accounts, "set_language", None)
        if login is not None and store_set is not None:
            store_call(store_set, login.user.name, language, actor=login.user.name)
        else:
            request.session["language"] = language
        fallback = home_path(app, login.user.role) if login else app.url_path_for("login_page")
        return redirect(safe_next(next) or str(fallback))

    @app.get("/", name="home")
    def home(request: Request):
        login = login_of(request)
        if login is None:
            return redirect(str(app.url_path_for("login_page")))
        return redirect(home_path(app, login.user.role))

    @app.get("/admin/users", name="users_page")
    def users_page(request: Request):
        user = require(request, "manage_users")
        with db() as session:
            rows = [
                {**accounts.public_fields(u), "sessions": n}
                for u, n in accounts.list_users(session)
            ]
        return render(request, "users.html", user=user, rows=rows, roles=ROLES)

    def account_change(request: Request, csrf_token: str | None, change, message: str):
        """An admin's change of one account: permission first, then the form's fields."""
        user = require(request, "manage_users")
        check_csrf(request, csrf_token)
        change = change()  # checks the fields: a 400 names the wrong one
        store_call(change, actor=user.name)
        request.session["flash"] = message.to_json()
        return redirect(str(app.url_path_for("users_page")))

    # The fields are optional to FastAPI so that a wrong role gets its 403 before any 400.
    @app.post("/admin/users/{name}/active", name="set_active")
    def set_active(
        request: Request,
        name: str,
        active: str | None = Form(None),
        csrf_token: str | None = Form(None),
    ):
        def change():
            if active not in ("0", "1"):
                raise HTTPException(
                    400, _("active must be 0 or 1, found %(found)s.", found=repr(active))
                )
            return lambda session, actor: accounts.set_active(session, name, active == "1", actor)

        if active == "1":
            message = _("%(name)s: switched on.", name=name)
        else:
            message = _("%(name)s: switched off; its sessions have ended.", name=name)
        return account_change(request, csrf_token, change, message)

    @app.post("/admin/users/{name}/role", name="set_role")
    def set_role(
        request: Request,
        name: str,
        role: str | None = Form(None),
        csrf_token: str | None = Form(None),
    ):
        def change():
            if role not in ROLES:
                raise HTTPException(
                    400,
                    _(
                        "role must be one of %(roles)s, found %(found)s.",
                        roles=", ".join(ROLES),
                        found=repr(role),
                    ),
                )
            return lambda session, actor: accounts.set_role(session, name, role, actor)

        message = _(
            "%(name)s is now %(role)s; its sessions have ended.",
            name=name,
            role=ROLE_NAMES.get(role or "", role or ""),
        )
        return account_change(request, csrf_token, change, message)

    @app.post("/admin/users/{name}/password", name="set_password")
    def set_password(
        request: Request,
        name: str,
        password: str | None = Form(None, max_length=1000),
        again: str | None = Form(None, max_length=1000),
        csrf_token: str | None = Form(None),
    ):
        def change():
            if not password or password != again:
                raise HTTPException(400, _("Type the new password twice, the same both times."))
            return lambda session, actor: accounts.set_password(session, name, password, actor)

        message = _("%(name)s has a new password; its sessions have ended.", name=name)
        return account_change(request, csrf_token, change, message)
