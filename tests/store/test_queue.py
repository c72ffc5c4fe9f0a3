"""Queue order: risk first, a share of the most uncertain mixed in, filters, one per group."""

from __future__ import annotations

import random

import pytest

from pipeline.errors import InputError
from pipeline.store import add_scored, add_user, next_items, record_answer
from pipeline.store.queue import group_size, group_sizes, neighbours, status_counts, tasks
from pipeline.store.tables import Item
from tests.store.conftest import scored

WORDS = (
    "tin nóng bà con chia sẻ ngay vắc xin gây hại nước chanh chữa bệnh công an xã thông báo "
    "giá xăng tăng mạnh ngày mai trường học đóng cửa mưa lũ miền trung cứu trợ đội tình nguyện "
    "bệnh viện quá tải tiền điện hóa đơn chợ cá giá rau lúa gạo xuất khẩu bóng đá đội tuyển "
    "thắng lớn ca sĩ ra mắt phim mới đường sắt cao tốc dự án nhà ở xã hội học sinh thi cử"
)
VOCAB = sorted(set(WORDS.split()))


def posts(n: int, seed: int) -> list[str]:
    """Distinct unrelated posts: random word strings share too few 5-grams to group."""
    rng = random.Random(seed)
    return [f"{i} " + " ".join(rng.sample(VOCAB, 12)) for i in range(n)]


@pytest.fixture
def queue_items(session):
    """Ten risky confident posts, five uncertain middling ones, five clean confident ones."""
    texts = posts(20, seed=1)
    records = []
    for i in range(10):  # risk 0.99, 0.98, ..., 0.90; uncertainty 0.06 to 0.24
        clean, hate = round(0.01 + 0.01 * i, 2), round(0.95 - 0.01 * i, 2)
        records.append(scored(f"risky{i}", texts[i], hostile=(clean, 0.04, hate)))
    for i in range(5):  # risk 0.5, 0.49, ...; uncertainty 0.99, 0.97, ...
        clean = round(0.5 + 0.01 * i, 2)
        offensive = round(0.49 - 0.01 * i, 2)
        records.append(scored(f"unsure{i}", texts[10 + i],
                              hostile=(clean, offensive, round(1 - clean - offensive, 2))))
    for i in range(5):
        records.append(scored(f"clean{i}", texts[15 + i], hostile=(0.9, 0.07, 0.03)))
    report = add_scored(session, records, actor="analyst")
    assert report.items_added == 20 and report.grouped == 0
    return {it.source_id: it for it in next_items(session, limit=20, uncertain_share=0)}


def ids(items):
    return [it.source_id for it in items]


def test_risk_order_with_one_place_in_five_for_the_most_uncertain(session, queue_items):
    page = next_items(session, task="hostile", limit=10, uncertain_share=0.2)
    assert ids(page) == [
        "risky0", "risky1", "risky2", "risky3", "unsure0",
        "risky4", "risky5", "risky6", "risky7", "unsure1",
    ]


def test_the_uncertain_share_sets_the_rate(session, queue_items):
    assert ids(next_items(session, limit=4, uncertain_share=0.5)) == [
        "risky0", "unsure0", "risky1", "unsure1"
    ]
    assert ids(next_items(session, limit=3, uncertain_share=0)) == ["risky0", "risky1", "risky2"]
    for share in (0.1, 0.2, 0.3, 0.5):
        page = next_items(session, limit=10, uncertain_share=share)
        # The ten risky posts fill the risk places, so an unsure post (risk 0.5 or less) is
        # on the page only for its uncertainty: exactly in the uncertain places.
        places = [i for i, it in enumerate(page) if it.source_id.startswith("unsure")]
        assert places == [i for i in range(10) if int((i + 1) * share + 1e-9) > int(i * share)]
        assert len(places) == int(10 * share + 1e-9) and len({it.id for it in page}) == 10


def test_offset_pages_continue_the_same_order(session, queue_items):
    whole = ids(next_items(session, limit=20))
    paged = ids(next_items(session, limit=7)) + ids(next_items(session, limit=7, offset=7)) + ids(
        next_items(session, limit=7, offset=14)
    )
    assert paged == whole


def test_filters_by_label_risk_status_and_task(session, queue_items):
    assert set(ids(next_items(session, label="hate", limit=50))) == {f"risky{i}" for i in range(10)}
    in_range = next_items(session, min_risk=0.4, max_risk=0.6, limit=50)
    assert set(ids(in_range)) == {f"unsure{i}" for i in range(5)}
    assert next_items(session, task="false") == []
    assert tasks(session) == ["hostile"]
    add_user(session, "lan", "reviewer", "long password")
    top = queue_items["risky0"]
    record_answer(session, top.id, "lan", "hate", top.version)
    assert ids(next_items(session, status="answered")) == ["risky0"]
    assert "risky0" not in ids(next_items(session, limit=50))
    assert status_counts(session, "hostile") == {
        "open": 19, "answered": 1, "adjudication": 0, "done": 0
    }


def test_a_group_is_in_the_queue_once_through_its_representative(session):
    chanh = "Uống nước chanh nóng chữa khỏi ung thư, chia sẻ ngay cho mọi người!"
    reworded = "Uống nước chanh nóng mỗi sáng chữa khỏi ung thư, chia sẻ ngay cho mọi người nhé"
    add_scored(session, [scored("a", chanh, hostile=(0.5, 0.3, 0.2)),
                         scored("b", reworded, hostile=(0.1, 0.1, 0.8))], actor="analyst")
    page = next_items(session)
    assert ids(page) == ["a"]
    assert group_size(session, page[0]) == 2
    assert group_sizes(session, page) == {page[0].id: 2}


def test_a_reviewer_does_not_see_items_they_answered(session, queue_items):
    add_user(session, "lan", "reviewer", "long password")
    top = queue_items["risky0"]
    session.get(Item, top.id).reviews_needed = 2  # with N >= 2 the item stays open
    session.commit()
    record_answer(session, top.id, "lan", "hate", top.version)
    assert "risky0" in ids(next_items(session, limit=50))
    assert "risky0" not in ids(next_items(session, limit=50, reviewer="lan"))


def test_neighbours_follow_the_queue(session, queue_items):
    page = next_items(session, task="hostile", limit=50)
    assert neighbours(session, page[1]) == (page[0].id, page[2].id)
    assert neighbours(session, page[0]) == (None, page[1].id)


def test_wrong_queue_arguments_say_what_is_expected(session):
    with pytest.raises(InputError, match="status: expected one of"):
        next_items(session, status="closed")
    with pytest.raises(InputError, match="uncertain_share: expected a number from 0 to 1"):
        next_items(session, uncertain_share=1.5)
    with pytest.raises(InputError, match="limit"):
        next_items(session, limit=0)
