"""``kiemtin users`` as an admin runs it: list, disable, enable, set-role, reset-password;
each change audited, and the account's sessions ended (SQLite; the store suite covers
PostgreSQL)."""

import io
from datetime import timedelta

from pipeline.cli import main
from pipeline.store.db import make_engine, session_factory
from pipeline.store.login_sessions import SessionLimits, find_session, start_session
from pipeline.store.tables import AuditEntry
from pipeline.store.users import get_user, verify_password

LIMITS = SessionLimits(idle=timedelta(hours=1), lifetime=timedelta(hours=8))


def _stdin(monkeypatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text + "\n"))


def test_an_admin_manages_accounts_from_a_shell(store_env, monkeypatch, capsys):
    for name, role in (("root", "admin"), ("lan", "reviewer")):
        _stdin(monkeypatch, "a long enough password")
        assert main(["users", "add", name, "--role", role, "--password-stdin"]) == 0
    sessions = session_factory(make_engine(store_env))
    with sessions() as s:
        token, _ = start_session(s, get_user(s, "lan"), LIMITS)
    capsys.readouterr()

    assert main(["users", "list"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing == ["lan (reviewer)\t1 open sessions", "root (admin)\t0 open sessions"]

    assert main(["users", "disable", "lan"]) == 0
    assert "lan (reviewer, switched off): disabled" in capsys.readouterr().err
    with sessions() as s:
        assert find_session(s, token, LIMITS) is None  # its open tab is logged out
        assert verify_password(s, "lan", "a long enough password") is None
    assert main(["users", "enable", "lan"]) == 0
    assert main(["users", "set-role", "lan", "trainer"]) == 0
    assert main(["users", "set-role", "lan", "boss"]) == 2
    assert "admin, trainer, reviewer" in capsys.readouterr().err
    _stdin(monkeypatch, "short")
    assert main(["users", "reset-password", "lan", "--password-stdin"]) == 2
    assert "at least 8 characters" in capsys.readouterr().err
    _stdin(monkeypatch, "a brand new password")
    assert main(["users", "reset-password", "lan", "--password-stdin"]) == 0
    # The last admin cannot be switched off or demoted: nobody could manage accounts.
    assert main(["users", "disable", "root"]) == 2
    assert main(["users", "set-role", "root", "reviewer"]) == 2
    assert "last active admin" in capsys.readouterr().err
    assert main(["users", "disable", "nobody"]) == 2
    assert "no user named 'nobody'" in capsys.readouterr().err

    with sessions() as s:
        lan = get_user(s, "lan")
        assert (lan.role, lan.active) == ("trainer", True)
        assert verify_password(s, "lan", "a brand new password") is not None
        actions = [
            (e.actor, e.action)
            for e in s.query(AuditEntry).filter_by(entity="user", entity_id=str(lan.id))
            .order_by(AuditEntry.id)
        ]
    assert actions == [("cli", "add"), ("cli", "set_active"), ("cli", "set_active"),
                       ("cli", "set_role"), ("cli", "set_password")]
