"""Alerts stay once per story when rewritten coverage joins it (the coverage level in ingest)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from monitor.ingest.pipeline import Pipeline
from monitor.settings import Settings
from monitor.sources.base import Batch
from monitor.store.models import AlertRow, HitRow, ItemRow
from monitor.types import Item as Value
from monitor.types import utcnow
from tests.alerts.test_outbox_helpers import add_source, make_world
from tests.ingest.test_coverage import BACKGROUND

FIRST = ("Северокорейские военные впервые замечены в Курской области: около 500 военнослужащих "
         "КНДР прибыли в район Суджи, сообщил источник в Генштабе ВСУ")
REWRITE = ("Около 500 военнослужащих КНДР прибыли под Суджу в Курской области, заявили в Генштабе "
           "ВСУ: северокорейские военные впервые замечены на фронте")


def _run(store, coverage: bool):
    w = make_world(store)
    other = add_source(store, "src-b")
    bg = add_source(store, "src-bg")
    p = Pipeline(store, Settings(database_url=store.url, dedup={"coverage": coverage}))
    now = utcnow().replace(microsecond=0)

    def value(eid: str, text: str, minutes: float) -> Value:
        at = now - timedelta(minutes=120 - minutes)
        return Value(external_id=eid, fetched_at=at, published_at=at, text=text)

    p.ingest(bg, Batch(items=[value(f"bg{i}", t, i) for i, t in enumerate(BACKGROUND)]))
    first = p.ingest(w.source_id, Batch(items=[value("a", FIRST, 30)]))
    assert (first.hits, first.alerts) == (1, 1)
    return w, p.ingest(other, Batch(items=[value("b", REWRITE, 60)]))


def test_a_coverage_join_into_an_alerted_story_does_not_alert_again(store):
    w, again = _run(store, coverage=True)
    with store.unit() as s:
        by = {it.external_id: it for it in s.scalars(select(ItemRow))}
        assert by["b"].story_id == by["a"].story_id and by["b"].dedup_kind == "rewrite"
        assert again.hits == 1 and again.alerts == 0
        hits = s.scalars(select(HitRow)).all()
        assert {h.story_id for h in hits} == {by["a"].story_id} and len(hits) == 2
        (alert,) = s.scalars(select(AlertRow)).all()
        assert alert.key == f"story:{w.desk_id}:{by['a'].story_id}"


def test_without_coverage_the_rewrite_is_a_story_and_an_alert_of_its_own(store):
    _, again = _run(store, coverage=False)
    assert (again.hits, again.alerts) == (1, 1)
