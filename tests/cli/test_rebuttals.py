"""The rebuttal commands as a communication lead runs them: approval rights, pack export."""

import io

from pipeline.cli import main
from pipeline.store import add_scored, record_answer
from pipeline.store import rebuttals as rb
from pipeline.store.db import make_engine, session_factory
from pipeline.store.tables import Item, User
from tests.store.conftest import scored

POST = "Bọn <b>miền đó</b> toàn lũ ăn cắp, gọi 0912345678 mà hỏi"


def _add(monkeypatch, *args):
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    return main(["users", "add", *args, "--password-stdin"])


def test_approval_rights_and_a_pack_export(store_env, tmp_path, monkeypatch, capsys):
    assert _add(monkeypatch, "vy", "--role", "communicator") == 0
    assert _add(monkeypatch, "khoa", "--role", "communicator", "--approver") == 0
    assert "approves rebuttals" in capsys.readouterr().err
    assert _add(monkeypatch, "lan", "--role", "reviewer", "--approver") == 2
    assert "communicator" in capsys.readouterr().err
    assert _add(monkeypatch, "hai", "--role", "reviewer") == 0
    assert main(["users", "approver", "vy"]) == 0
    assert main(["users", "approver", "vy", "--revoke"]) == 0
    assert "may no longer approve" in capsys.readouterr().err

    engine = make_engine(store_env)
    sessions = session_factory(engine)
    with sessions() as s:
        assert {u.name: u.approves_rebuttals for u in s.query(User)} == {
            "vy": False, "khoa": True, "hai": False}
        add_scored(s, [scored("p", POST, hostile=(0.1, 0.2, 0.7))], actor="test")
        item = s.query(Item).one()
        record_answer(s, item.id, "hai", "hate", item.version)
        draft = rb.create_draft(s, item.id, "vy", "Không quy chụp", "**Sai.** <i>x</i>")
        group_id = draft.group_id

    out = tmp_path / "pack"
    assert main(["rebuttals", "export", str(group_id), "-o", str(out)]) == 2
    assert "approved rebuttal" in capsys.readouterr().err  # a draft is not handed out
    with sessions() as s:
        rb.approve(s, draft.id, "khoa", 0)
    assert main(["rebuttals", "export", str(group_id), "-o", str(out)]) == 0
    md = (out / f"narrative-{group_id}.md").read_text(encoding="utf-8")
    html = (out / f"narrative-{group_id}.html").read_text(encoding="utf-8")
    assert "Không quy chụp" in md and "**Sai.** <i>x</i>" in md and "khoa phê duyệt" in md
    assert main(["rebuttals", "export", str(group_id), "-o", str(tmp_path / "en"),
                 "--language", "en"]) == 0
    assert "approved by khoa" in (tmp_path / "en" / f"narrative-{group_id}.md").read_text("utf-8")
    assert "&lt;b&gt;miền đó&lt;/b&gt;" in html and "<strong>Sai.</strong> &lt;i&gt;x" in html
    assert "0912345678" not in md + html
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main(["rebuttals", "export", str(group_id), "-o", str(out)]) == 0
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # deterministic
    assert main(["rebuttals", "export", "999", "-o", str(out)]) == 2
    assert "no group 999" in capsys.readouterr().err
    engine.dispose()
