"""Published rebuttals as ClaimReview JSON-LD, in the pack and from the CLI (SQLite and
PostgreSQL)."""

from __future__ import annotations

import json
import zipfile
from io import BytesIO

from pipeline.store import rebuttals as rb
from pipeline.web.claimreview import Publisher, claim_reviews
from pipeline.web.pack import pack_zip, write_pack
from tests.store.test_rebuttals import BODY, HOAX, _confirm, team  # noqa: F401 - fixture

PUBLISHER = Publisher("Trung tâm kiểm tin", "https://kiemtin.example.vn")


def _approved(session):
    hoax = _confirm(session, "hoax", HOAX)
    draft = rb.create_draft(session, hoax.id, "vy", "Chanh không chữa ung thư", BODY)
    return rb.approve(session, draft.id, "khoa", draft.version)


def test_a_published_rebuttal_is_a_claimreview_with_a_vietnamese_verdict(team):  # noqa: F811
    session = team
    approved = _approved(session)
    pack = rb.group_pack(session, approved.group_id)
    assert claim_reviews(pack, PUBLISHER) == []  # approved is not handed out yet
    names = zipfile.ZipFile(BytesIO(pack_zip(pack))).namelist()
    assert not any(name.endswith(".jsonld") for name in names)

    published = rb.publish(session, approved.id, "vy", approved.version)
    pack = rb.group_pack(session, approved.group_id)
    [record] = claim_reviews(pack, PUBLISHER)
    assert record["@context"] == "https://schema.org" and record["@type"] == "ClaimReview"
    assert record["url"] == f"https://kiemtin.example.vn/rebuttals/{published.id}"
    assert record["datePublished"] == published.published_at.date().isoformat()
    assert record["author"] == {
        "@type": "Organization",
        "name": "Trung tâm kiểm tin",
        "url": "https://kiemtin.example.vn",
    }
    assert record["claimReviewed"].startswith("KHẨN: Bộ Y tế xác nhận uống nước chanh")
    assert "0912345678" not in json.dumps(record, ensure_ascii=False)  # masked, as stored
    assert record["reviewRating"] == {
        "@type": "Rating",
        "ratingValue": 1,
        "worstRating": 1,
        "bestRating": 5,
        "alternateName": "Sai sự thật",
    }
    appearance = record["itemReviewed"]["firstAppearance"]
    assert record["itemReviewed"]["@type"] == "Claim"
    assert appearance["dateCreated"] == pack.first_seen.date().isoformat()


def test_the_pack_and_the_cli_export_carry_the_records(team, tmp_path, monkeypatch):  # noqa: F811
    session = team
    approved = _approved(session)
    rb.publish(session, approved.id, "vy", approved.version)
    monkeypatch.delenv("KIEMTIN_PUBLIC_URL", raising=False)
    monkeypatch.delenv("KIEMTIN_ORGANIZATION", raising=False)
    pack = rb.group_pack(session, approved.group_id)
    stem = pack.stem
    archive = zipfile.ZipFile(BytesIO(pack_zip(pack)))
    records = json.loads(archive.read(f"{stem}/{stem}.claimreview.jsonld"))
    assert records[0]["author"] == {"@type": "Organization", "name": "kiemtin"}
    assert "url" not in records[0]  # no public address configured: no made-up one
    monkeypatch.setenv("KIEMTIN_PUBLIC_URL", "https://kiemtin.example.vn/")
    written = write_pack(pack, tmp_path)
    assert [p.name for p in written][-1] == f"{stem}.claimreview.jsonld"
    again = json.loads(written[-1].read_text(encoding="utf-8"))
    assert again[0]["url"] == f"https://kiemtin.example.vn/rebuttals/{approved.id}"
