"""The event list's text search (`q`) through the character-pair index: exactly the events a
plain substring search finds, for one- and two-character Chinese queries, codes, addresses,
mixed case and LIKE's own wildcards; and the index serves it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from events.query import list_events
from events.schemas import EventFilter
from tests.events.workflow_city import MONDAY_10, build_city, file

# (description, address) of the corpus; codes come from the filing.
CORPUS = [
    ("小区门口井盖缺失，有人掉进去", "西陵区夷陵大道121号"),
    ("井盖松动", None),
    ("楼上漏水，已三天", "前进里社区12栋3单元502"),
    ("夜间施工噪音扰民", "学院街1号"),
    ("噪 音", None),  # a space between: "噪音" is not in it
    ("Street lamp BROKEN at night", "Yiling Road 7"),
    ("路灯不亮 broken", None),
    ("打折50%促销占道经营", "解放路_3号"),
    ("井", None),
    ("占道", "占道经营街"),
]
QUERIES = [
    "井",  # one character
    "井盖",  # two characters
    "漏水",
    "噪音",
    "占道",
    "broken",  # ASCII, in either case
    "BROKEN",
    "Ro",
    "50%",  # LIKE's wildcard taken literally
    "%",
    "_",
    "解放路_3",
    "121号",
    "3单元502",
    "大道121",
    "噪 音",
    "井盖缺失有人",  # not in any text as written
    "水漏",
]


def _substring(query: str, *texts: str | None) -> bool:
    """The expected answer, worked out in Python: the text holds the query, ignoring case."""
    return any(query.lower() in t.lower() for t in texts if t)


@pytest.fixture
def corpus(session):
    city = build_city(session)
    filed = []
    for i, (description, address) in enumerate(CORPUS):
        event = file(city, now=MONDAY_10 + timedelta(minutes=i))
        session.execute(
            text("UPDATE event SET description = :d, address = :a WHERE code = :c"),
            {"d": description, "a": address, "c": event.code},
        )
        filed.append((event.code, description, address))
    return city, filed


@pytest.mark.parametrize("query", QUERIES)
def test_the_search_finds_exactly_what_a_substring_search_finds(corpus, query):
    city, filed = corpus
    expected = {code for code, d, a in filed if _substring(query, code, d, a)}
    page = list_events(
        city["session"], actor=city["admin"], filters=EventFilter(q=query, page_size=200)
    )
    assert {item.code for item in page.items} == expected
    assert page.total == len(expected)


def test_part_of_an_event_code_finds_it(corpus):
    city, filed = corpus
    code = filed[3][0]
    page = list_events(city["session"], actor=city["admin"], filters=EventFilter(q=code[-6:]))
    assert [item.code for item in page.items] == [code]


@pytest.mark.parametrize("query", ["井", "井盖", "broken"])
def test_the_character_pair_index_serves_short_queries(corpus, query):
    city, _ = corpus
    session = city["session"]
    session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(
        session.scalars(
            text(
                "EXPLAIN SELECT id FROM event "
                "WHERE search_grams @> query_grams(:q) AND description ILIKE :p"
            ),
            {"q": query, "p": f"%{query}%"},
        )
    )
    assert "search_grams" in plan and "Bitmap Index Scan" in plan, plan
