"""Published rebuttals as fact-check records: schema.org ClaimReview in JSON-LD, the format
search engines and fact-check aggregators read (https://schema.org/ClaimReview).

One ClaimReview per published rebuttal of a narrative: the claim is the narrative's
representative post (personal data masked, as stored), the rating says in Vietnamese what
review found (``alternateName``), the first appearance is when its first post reached the
queue. Only published rebuttals: approved ones are not handed out yet.

Settings: ``KIEMTIN_PUBLIC_URL`` (where the team publishes, e.g. https://kiemtin.example.vn;
without it the records carry no ``url``) and ``KIEMTIN_ORGANIZATION`` (the reviewing
organisation's name, "kiemtin" by default). The author is the organisation, never a person.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime

from ..store.rebuttals import Pack

# What review found, in the words a Vietnamese reader expects on a fact-check.
VERDICTS = {
    "unreliable": "Sai sự thật",
    "offensive": "Nội dung xúc phạm",
    "hate": "Ngôn từ thù ghét",
}
# ClaimReview ratings run from 1 (false) to 5 (true); every confirmed narrative is a 1.
WORST, BEST = 1, 5
CLAIM_EXCERPT = 500


@dataclass(frozen=True)
class Publisher:
    organization: str = "kiemtin"
    public_url: str | None = None

    @classmethod
    def from_env(cls) -> Publisher:
        url = os.environ.get("KIEMTIN_PUBLIC_URL", "").strip().rstrip("/") or None
        return cls(os.environ.get("KIEMTIN_ORGANIZATION", "").strip() or "kiemtin", url)


def _date(value: datetime | None) -> str | None:
    return value.date().isoformat() if value else None


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= CLAIM_EXCERPT else text[: CLAIM_EXCERPT - 1] + "…"


def claim_reviews(pack: Pack, publisher: Publisher | None = None) -> list[dict]:
    """The ClaimReview records of ``pack``'s published rebuttals (none published: [])."""
    publisher = publisher or Publisher.from_env()
    author = {"@type": "Organization", "name": publisher.organization}
    if publisher.public_url:
        author["url"] = publisher.public_url
    records = []
    for r in pack.rebuttals:
        if r.status != "published":
            continue
        record = {
            "@context": "https://schema.org",
            "@type": "ClaimReview",
            "datePublished": _date(r.published_at),
            "name": r.title,
            "author": author,
            "claimReviewed": _excerpt(pack.representative),
            "reviewRating": {
                "@type": "Rating",
                "ratingValue": WORST,
                "worstRating": WORST,
                "bestRating": BEST,
                "alternateName": VERDICTS.get(pack.label or "", pack.label),
            },
            "itemReviewed": {
                "@type": "Claim",
                "firstAppearance": {
                    "@type": "CreativeWork",
                    "dateCreated": _date(pack.first_seen),
                    "description": f"{pack.posts} bài đăng cùng luận điệu",
                },
            },
            "inLanguage": "vi",
        }
        if publisher.public_url:
            record["url"] = f"{publisher.public_url}/rebuttals/{r.id}"
        records.append(record)
    return records


def claim_reviews_json(pack: Pack, publisher: Publisher | None = None) -> str:
    """The records as a JSON-LD file (a list; stable bytes for the same pack)."""
    return json.dumps(claim_reviews(pack, publisher), ensure_ascii=False, indent=2) + "\n"
