"""Accounts: roles checked, argon2 hashes, passwords verified, every change audited."""

from __future__ import annotations

import json

import pytest
from argon2 import PasswordHasher

from pipeline.errors import InputError
from pipeline.store import users
from pipeline.store.audit import entries
from pipeline.store.users import (
    UserError,
    add_user,
    get_user,
    set_active,
    set_password,
    set_role,
    verify_password,
)


def test_add_and_verify(session):
    user = add_user(session, "lan.nguyen", "reviewer", "mật khẩu dài")
    assert (user.name, user.role, user.active) == ("lan.nguyen", "reviewer", True)
    assert user.password_hash.startswith("$argon2id$") and "mật" not in user.password_hash
    assert verify_password(session, "lan.nguyen", "mật khẩu dài").id == user.id
    assert verify_password(session, "lan.nguyen", "mật khẩu sai") is None
    assert verify_password(session, "nobody", "mật khẩu dài") is None


def test_production_hashes_use_argon2id_defaults(session, monkeypatch):
    monkeypatch.setattr(users, "_hasher", PasswordHasher())
    user = add_user(session, "hoa", "trainer", "a long passphrase")
    assert user.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_a_wrong_role_says_which_roles_exist(session):
    with pytest.raises(InputError, match="role: expected one of admin, trainer, reviewer, "
                       "communicator, analyst, but found 'editor'"):
        add_user(session, "lan", "editor", "long password")
    assert get_user(session, "lan") is None


def test_names_passwords_and_duplicates_are_checked(session):
    with pytest.raises(InputError, match="at least 8 characters"):
        add_user(session, "lan", "reviewer", "short")
    with pytest.raises(InputError, match="user name: expected 1 to 64 letters"):
        add_user(session, "lan nguyen", "reviewer", "long password")
    add_user(session, "lan", "reviewer", "long password")
    with pytest.raises(UserError, match="a user named 'lan' already exists"):
        add_user(session, "lan", "admin", "long password")


def test_switched_off_accounts_cannot_log_in_and_changes_are_audited(session):
    add_user(session, "lan", "reviewer", "long password", actor="an")
    set_active(session, "lan", False, actor="an")
    assert verify_password(session, "lan", "long password") is None
    set_active(session, "lan", True, actor="an")
    set_role(session, "lan", "trainer", actor="an")
    set_password(session, "lan", "another long one", actor="an")
    assert verify_password(session, "lan", "another long one").role == "trainer"
    rows = entries(session, "user")
    assert [(e.actor, e.action) for e in rows] == [
        ("an", "add"), ("an", "set_active"), ("an", "set_active"), ("an", "set_role"),
        ("an", "set_password"),
    ]
    assert rows[1].before["active"] is True and rows[1].after["active"] is False
    text = json.dumps([e.to_dict() for e in rows], ensure_ascii=False)
    assert "argon2" not in text and "long password" not in text


def test_an_accounts_language_is_kept_and_audited(session):
    from pipeline.store.tables import AuditEntry
    from pipeline.store.users import set_language

    add_user(session, "lan", "reviewer", "a long enough password")
    assert get_user(session, "lan").language is None  # the site's default
    set_language(session, "lan", "en", actor="lan")
    assert get_user(session, "lan").language == "en"
    with pytest.raises(InputError, match="one of vi, en"):
        set_language(session, "lan", "fr", actor="lan")
    entry = session.query(AuditEntry).filter_by(action="set_language").one()
    assert (entry.before, entry.after) == ({"language": None}, {"language": "en"})
