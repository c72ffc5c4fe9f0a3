"""Accounts: a name, one role, an argon2 password hash and whether the account is active.

Roles: admin, trainer, reviewer, communicator, analyst. A communicator may also hold the right
to approve other people's rebuttals (``approves_rebuttals``). Passwords are only ever stored as
argon2id hashes (argon2-cffi's defaults); every change to an account is audited, never with
the hash in it.

Switching an account off, changing its role or its password ends all its login sessions in
the same transaction, so the change holds from the account's very next request. The last
active admin can be neither switched off nor given another role.
"""

from __future__ import annotations

import functools
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import InputError, KiemtinError
from . import audit
from .db import writing
from .login_sessions import end_user_sessions
from .tables import ROLES, LoginSession, User

MIN_PASSWORD_CHARS = 8
NAME_PATTERN = re.compile(r"^[\w.@-]{1,64}$")

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    # Verified against when the user does not exist, so a wrong name costs as long as a
    # wrong password and response times do not tell which names exist.
    return _hasher.hash("kiemtin: no such user")


class UserError(KiemtinError):
    """An account cannot be created or changed as asked."""


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InputError(
            "role",
            expected=f"one of {', '.join(ROLES)}",
            found=repr(role),
            fix="Pick one of the listed roles (e.g. --role reviewer).",
        )
    return role


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise InputError(
            "user name",
            expected="1 to 64 letters, digits, '.', '_', '@' or '-' (no spaces)",
            found=repr(name),
            fix="Choose a short login name such as 'lan.nguyen'.",
        )
    return name


def _check_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_CHARS:
        raise InputError(
            "password",
            expected=f"at least {MIN_PASSWORD_CHARS} characters",
            found=f"{len(password) if isinstance(password, str) else 0} characters",
            fix="Choose a longer password (a few words make a good one).",
        )
    return password


def public_fields(user: User) -> dict:
    """The account as the audit trail records it (never the password hash)."""
    return {
        "name": user.name,
        "role": user.role,
        "active": user.active,
        "approves_rebuttals": bool(user.approves_rebuttals),
        "language": user.language,
    }


def get_user(session: Session, name: str) -> User | None:
    """The account named ``name`` (freshly read), or None."""
    query = select(User).where(User.name == name).execution_options(populate_existing=True)
    return session.scalars(query).one_or_none()


def list_users(session: Session) -> list[tuple[User, int]]:
    """Every account, by name, with its number of open login sessions."""
    open_sessions = (
        select(LoginSession.user_id, func.count().label("n"))
        .group_by(LoginSession.user_id)
        .subquery()
    )
    query = (
        select(User, func.coalesce(open_sessions.c.n, 0))
        .outerjoin(open_sessions, open_sessions.c.user_id == User.id)
        .order_by(User.name)
    )
    return [(user, count) for user, count in session.execute(query)]


def require_user(session: Session, name: str) -> User:
    user = get_user(session, name)
    if user is None:
        raise UserError(
            "user",
            expected="an existing account",
            found=f"no user named {name!r}",
            fix="Create it with `kiemtin users add NAME --role ROLE`.",
        )
    return user


def add_user(
    session: Session,
    name: str,
    role: str,
    password: str,
    actor: str = "system",
    *,
    approves_rebuttals: bool = False,
) -> User:
    """Create an account (committed, audited) and return it.

    ``approves_rebuttals`` gives a communicator the right to approve other people's rebuttals.
    """
    _check_name(name)
    check_role(role)
    _check_approver(role, approves_rebuttals)
    _check_password(password)
    password_hash = _hasher.hash(password)  # slow on purpose: do it outside the transaction
    with writing(session):
        if get_user(session, name) is not None:
            raise UserError(
                "user",
                expected="a new user name",
                found=f"a user named {name!r} already exists",
                fix="Choose another name, or change the existing account.",
            )
        user = User(
            name=name,
            role=role,
            password_hash=password_hash,
            active=True,
            approves_rebuttals=bool(approves_rebuttals),
        )
        session.add(user)
        session.flush()
        audit.record(session, actor, "add", "user", user.id, None, public_fields(user))
    return user


def verify_password(session: Session, name: str, password: str) -> User | None:
    """The active user with this name and password, else None (unknown, wrong or inactive)."""
    user = get_user(session, name)
    try:
        _hasher.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        # Hashing parameters were raised since this hash was made: store a stronger one.
        new_hash = _hasher.hash(password)
        with writing(session):
            user = session.get(User, user.id, populate_existing=True)
            user.password_hash = new_hash
            audit.record(session, name, "rehash_password", "user", user.id, None, None)
    return user


def set_password(session: Session, name: str, password: str, actor: str) -> User:
    _check_password(password)
    password_hash = _hasher.hash(password)
    with writing(session):
        user = require_user(session, name)
        user.password_hash = password_hash
        ended = end_user_sessions(session, user.id)
        audit.record(session, actor, "set_password", "user", user.id, None,
                     {"sessions_ended": ended})
    return user


def set_role(session: Session, name: str, role: str, actor: str) -> User:
    """Give an account another role; its sessions end (its pages were for the old role).
    Leaving the communicator role takes the approval right with it."""
    check_role(role)
    with writing(session):
        user = require_user(session, name)
        if role == user.role:
            return user
        if role != "admin":
            _keep_an_admin(session, user, f"give {name!r} the role {role!r}")
        before = public_fields(user)
        user.role = role
        if role != "communicator":
            # The right is a communicator's; trainers and admins approve anyway.
            user.approves_rebuttals = False
        after = {**public_fields(user), "sessions_ended": end_user_sessions(session, user.id)}
        audit.record(session, actor, "set_role", "user", user.id, before, after)
    return user


def _keep_an_admin(session: Session, user: User, doing: str) -> None:
    """Refuse a change that would leave no active admin (nobody could manage accounts)."""
    if user.role != "admin" or not user.active:
        return
    # The active admins' rows, locked in id order (PostgreSQL; SQLite writers take turns):
    # two admins demoting each other at once cannot both pass this check.
    admins = session.scalars(
        select(User.id)
        .where(User.role == "admin", User.active.is_(True))
        .order_by(User.id)
        .with_for_update()
    ).all()
    if set(admins) <= {user.id}:
        raise UserError(
            "account change",
            expected="at least one other active admin afterwards",
            found=f"{user.name!r} is the last active admin (refused: {doing})",
            fix="Make another account admin first (kiemtin users set-role NAME admin).",
        )


def _check_approver(role: str, approves_rebuttals: bool) -> None:
    if approves_rebuttals and role != "communicator":
        raise InputError(
            "approval right",
            expected="a communicator (trainers and admins approve rebuttals anyway)",
            found=f"role {role!r}",
            fix="Give the right to communicators only.",
        )


def set_approver(session: Session, name: str, approves: bool, actor: str) -> User:
    """Give a communicator the right to approve rebuttals, or take it away."""
    with writing(session):
        user = require_user(session, name)
        _check_approver(user.role, approves)
        before = public_fields(user)
        user.approves_rebuttals = bool(approves)
        audit.record(session, actor, "set_approver", "user", user.id, before, public_fields(user))
    return user


LANGUAGES = ("vi", "en")


def set_language(session: Session, name: str, language: str | None, actor: str) -> User:
    """The web app's language for this account ("vi" or "en"; None: the site's default)."""
    if language is not None and language not in LANGUAGES:
        raise InputError(
            "language",
            expected=f"one of {', '.join(LANGUAGES)}",
            found=repr(language),
            fix="Choose vi (Tiếng Việt) or en (English).",
        )
    with writing(session):
        user = require_user(session, name)
        before = user.language
        user.language = language
        audit.record(session, actor, "set_language", "user", user.id,
                     {"language": before}, {"language": language})
    return user


def set_active(session: Session, name: str, active: bool, actor: str) -> User:
    """Switch an account off (it can no longer log in or answer; its sessions end at once)
    or back on."""
    with writing(session):
        user = require_user(session, name)
        if not active:
            _keep_an_admin(session, user, f"switch {name!r} off")
        before = public_fields(user)
        user.active = bool(active)
        after = public_fields(user)
        if not active:
            after["sessions_ended"] = end_user_sessions(session, user.id)
        audit.record(session, actor, "set_active", "user", user.id, before, after)
    return user
