"""Rebuttals: drafts for confirmed narratives only, approval by a second person with the right,
publication, suggestions from earlier approved rebuttals, packs, and the audit trail."""

from __future__ import annotations

import zipfile
from io import BytesIO

import pytest

from pipeline.errors import InputError
from pipeline.store import ConflictError, ForbiddenError, add_scored, add_user, record_answer
from pipeline.store import rebuttals as rb
from pipeline.store.audit import entries
from pipeline.store.tables import Item
from pipeline.store.users import set_approver
from pipeline.web.pack import pack_html, pack_markdown, pack_zip, write_pack
from tests.store.conftest import scored

HOAX = (
    "KHẨN: Bộ Y tế xác nhận uống nước chanh nóng mỗi sáng chữa khỏi ung thư giai đoạn cuối, "
    "gọi 0912345678 để mua chanh sạch <script>alert('x')</script>"
)
HOAX_NEAR_DUPLICATE = (
    "Khẩn: Bộ Y tế xác nhận uống nước chanh nóng mỗi sáng chữa khỏi ung thư giai đoạn cuối!! "
    "gọi 0987654321 để mua chanh sạch"
)
# The same claim reworded: not a near-duplicate, but the earlier rebuttal answers it.
HOAX_REWORDED = (
    "Nghe nói uống nước chanh nóng mỗi sáng là chữa khỏi ung thư, Bộ Y tế đã xác nhận rồi "
    "đấy, mọi người chia sẻ đi"
)
PRICE = "Từ mai giá xăng tăng 5.000 đồng một lít, đổ đầy bình ngay hôm nay kẻo lỡ"
BODY = """**Sai.** Bộ Y tế chưa từng xác nhận điều này.

- Nước chanh không chữa được ung thư.
- Hãy đi khám ở cơ sở y tế: [moh.gov.vn](https://moh.gov.vn).

<b>raw html</b> stays text."""


def _false(rid, text, unreliable=0.8):
    return scored(rid, text, hostile=None, false=(1 - unreliable, unreliable))


@pytest.fixture
def team(session):
    for name, role in [
        ("lan", "reviewer"),
        ("hoa", "trainer"),
        ("an", "admin"),
        ("vy", "communicator"),
        ("khoa", "communicator"),
        ("tu", "communicator"),
    ]:
        add_user(session, name, role, f"{name} password", approves_rebuttals=name == "khoa")
    return session


def _confirm(session, rid, text, label="unreliable"):
    add_scored(session, [_false(rid, text)], actor="test")
    item = session.query(Item).filter_by(source_id=rid).one()
    record_answer(session, item.id, "lan", label, item.version)
    return session.get(Item, item.id, populate_existing=True)


def test_a_draft_needs_a_confirmed_risky_narrative(team):
    session = team
    add_scored(session, [_false("open", PRICE)], actor="test")
    open_item = session.query(Item).filter_by(source_id="open").one()
    with pytest.raises(ConflictError, match="confirmed"):
        rb.create_draft(session, open_item.id, "vy", "Giá xăng", "Không đúng.")
    reliable = _confirm(session, "ok", HOAX, label="reliable")
    with pytest.raises(ConflictError, match="risky label"):
        rb.create_draft(session, reliable.id, "vy", "Chanh", "Không đúng.")
    hoax = _confirm(session, "hoax", HOAX_REWORDED)
    with pytest.raises(ForbiddenError):
        rb.create_draft(session, hoax.id, "lan", "Chanh", "Không đúng.")  # a reviewer
    with pytest.raises(InputError, match="title"):
        rb.create_draft(session, hoax.id, "vy", "  ", "Không đúng.")
    draft = rb.create_draft(session, hoax.id, "vy", "Chanh không chữa ung thư", BODY)
    assert draft.status == "draft" and draft.version == 0
    # A post that stood alone gets a narrative group of its own, so near-duplicates join it.
    hoax = session.get(Item, hoax.id, populate_existing=True)
    assert hoax.group_id == draft.group_id and hoax.is_representative


def test_approval_by_a_second_person_with_the_right_then_publication(team):
    session = team
    hoax = _confirm(session, "hoax", HOAX)
    draft = rb.create_draft(session, hoax.id, "vy", "Chanh không chữa ung thư", BODY)
    edited = rb.edit_draft(session, draft.id, "tu", draft.title, BODY + "\n\nNguồn: BYT.", 0)
    assert edited.version == 1 and edited.editor.name == "tu"
    with pytest.raises(ConflictError, match="version 0"):
        rb.edit_draft(session, draft.id, "vy", draft.title, BODY, 0)  # stale page
    for who, why in [("vy", "approval right"), ("lan", "role 'reviewer'")]:
        with pytest.raises(ForbiddenError, match=why):
            rb.approve(session, draft.id, who, 1)
    set_approver(session, "tu", True, actor="an")
    with pytest.raises(ForbiddenError, match="wrote or last edited"):
        rb.approve(session, draft.id, "tu", 1)  # the right does not cover one's own text
    approved = rb.approve(session, draft.id, "khoa", 1)
    assert approved.status == "approved" and approved.approver.name == "khoa"
    with pytest.raises(ConflictError, match="final"):
        rb.edit_draft(session, draft.id, "vy", draft.title, "changed", approved.version)
    with pytest.raises(ConflictError, match="a draft"):
        rb.approve(session, draft.id, "hoa", approved.version)
    published = rb.publish(session, draft.id, "vy", approved.version)
    assert published.status == "published" and published.published_at is not None
    actions = [(e.actor, e.action) for e in entries(session, "rebuttal", draft.id)]
    assert actions == [("vy", "add"), ("tu", "edit"), ("khoa", "approve"), ("vy", "publish")]
    assert entries(session, "rebuttal", draft.id)[1].before["body"] == BODY


def test_trainers_and_admins_approve_without_the_flag_and_it_is_refused_to_others(team):
    session = team
    hoax = _confirm(session, "hoax", HOAX)
    first = rb.create_draft(session, hoax.id, "vy", "Một", BODY)
    second = rb.create_draft(session, hoax.id, "an", "Hai", BODY)
    assert rb.approve(session, first.id, "hoa", 0).status == "approved"
    assert rb.approve(session, second.id, "khoa", 0).status == "approved"
    with pytest.raises(InputError, match="communicator"):
        add_user(session, "x", "reviewer", "x password!", approves_rebuttals=True)


def test_suggestions_come_from_earlier_approved_rebuttals_most_similar_first(team):
    session = team
    earlier = _confirm(session, "hoax", HOAX)
    other = _confirm(session, "price", PRICE)
    for item, title in [(earlier, "Chanh"), (other, "Xăng")]:
        draft = rb.create_draft(session, item.id, "vy", title, BODY)
        rb.approve(session, draft.id, "khoa", 0)
    unapproved = _confirm(session, "draft-only", "Vắc xin gây vô sinh, đừng cho con tiêm")
    rb.create_draft(session, unapproved.id, "vy", "Vắc xin", BODY)

    new = _confirm(session, "reworded", HOAX_REWORDED)
    assert new.group_id is None  # reworded, not a near-duplicate: a narrative of its own
    found = rb.suggestions(session, new.id)
    assert found and found[0].item.id == earlier.id and found[0].rebuttal.title == "Chanh"
    assert all(s.rebuttal.status in ("approved", "published") for s in found)
    assert [s.similarity for s in found] == sorted((s.similarity for s in found), reverse=True)
    assert unapproved.id not in {s.item.id for s in found}
    # Its own narrative's rebuttals are not suggested back to it.
    assert earlier.id not in {s.item.id for s in rb.suggestions(session, earlier.id)}
    reused = rb.create_draft(
        session, new.id, "vy", "Chanh (2)", found[0].rebuttal.body, reused_from=found[0].rebuttal.id
    )
    assert reused.reused_from_id == found[0].rebuttal.id
    with pytest.raises(InputError, match="approved"):
        rb.create_draft(session, new.id, "vy", "x", "y", reused_from=reused.id)  # a draft


def test_near_duplicates_join_the_narrative_and_the_pack_quotes_them_safely(team, tmp_path):
    session = team
    hoax = _confirm(session, "hoax", HOAX)
    draft = rb.create_draft(session, hoax.id, "vy", "Chanh <không> chữa ung thư", BODY)
    with pytest.raises(ConflictError, match="approved"):
        rb.group_pack(session, draft.group_id)
    rb.approve(session, draft.id, "khoa", 0)
    add_scored(session, [_false("dup", HOAX_NEAR_DUPLICATE)], actor="test")
    dup = session.query(Item).filter_by(source_id="dup").one()
    # The post joined the narrative after its label was decided: it takes the label.
    assert dup.group_id == draft.group_id and dup.status == "done" and dup.label == "unreliable"

    pack = rb.group_pack(session, draft.group_id)
    assert pack.posts == 2 and len(pack.examples) == 1 and len(pack.rebuttals) == 1
    md, html = pack_markdown(pack), pack_html(pack)  # in Vietnamese unless asked
    assert "Bộ Y tế chưa từng xác nhận" in md and "khoa phê duyệt lúc" in md
    assert md.startswith(f"# Luận điệu {pack.group_id} (tin sai lệch: không đáng tin)\n")
    assert '<html lang="vi">' in html and "<h2>Luận điệu</h2>" in html
    english = pack_markdown(pack, "en")
    assert "approved by khoa" in english and "## The narrative" in english
    assert '<html lang="en">' in pack_html(pack, "en")
    assert "0912345678" not in md + html and "•" * 10 in md  # personal data stays masked
    # Markdown: posts sit in code blocks; HTML: posts and the rebuttal's raw HTML are text.
    assert "```text\n" + pack.representative + "\n```" in md
    assert "<script>" not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "<b>raw html</b>" not in html and "&lt;b&gt;raw html&lt;/b&gt;" in html
    assert "<strong>Sai.</strong>" in html and 'href="https://moh.gov.vn"' in html
    assert "Chanh &lt;không&gt; chữa ung thư" in html
    # Same database, same bytes.
    assert pack_zip(pack) == pack_zip(rb.group_pack(session, draft.group_id))
    names = zipfile.ZipFile(BytesIO(pack_zip(pack))).namelist()
    assert names == [
        f"narrative-{pack.group_id}/narrative-{pack.group_id}.md",
        f"narrative-{pack.group_id}/narrative-{pack.group_id}.html",
    ]
    written = write_pack(pack, tmp_path / "packs")
    assert [p.read_text(encoding="utf-8") for p in written] == [md, html]


def test_confirmed_narratives_lists_decided_risky_representatives_with_rebuttal_counts(team):
    session = team
    hoax = _confirm(session, "hoax", HOAX)
    _confirm(session, "fine", PRICE, label="reliable")
    add_scored(session, [_false("open", "Vắc xin gây vô sinh, đừng cho con tiêm")], actor="t")
    draft = rb.create_draft(session, hoax.id, "vy", "Chanh", BODY)
    rb.approve(session, draft.id, "khoa", 0)
    rb.create_draft(session, hoax.id, "vy", "Chanh, bản ngắn", "Sai.")
    narratives = rb.confirmed_narratives(session, task="false")
    assert [n.item.id for n in narratives] == [hoax.id]
    assert narratives[0].rebuttals == {"approved": 1, "draft": 1} and narratives[0].posts == 1
    assert rb.confirmed_narratives(session, task="hostile") == []
    assert [n.item.id for n in rb.confirmed_narratives(session)] == [hoax.id]


def test_titles_and_texts_past_their_limits_are_refused_saying_both_lengths(team):
    session = team
    hoax = _confirm(session, "hoax", HOAX)
    with pytest.raises(InputError, match=r"1 to 200 characters, but found 201 characters"):
        rb.create_draft(session, hoax.id, "vy", "t" * 201, BODY)
    with pytest.raises(InputError, match=r"1 to 20,000 characters .*found 20,001 characters"):
        rb.create_draft(session, hoax.id, "vy", "Chanh", "b" * 20_001)
    draft = rb.create_draft(session, hoax.id, "vy", "t" * 200, "b" * 20_000)
    with pytest.raises(InputError, match="201"):
        rb.edit_draft(session, draft.id, "vy", "t" * 201, BODY, draft.version)
