"""The story page's corrections over HTTP: operators only, with the CSRF token; the item must be in
the story; a merged story's page leads to the one it joined."""

from __future__ import annotations

from sqlalchemy import select

from monitor.sources.base import Batch
from monitor.store import sources as source_repo
from monitor.store.models import ItemRow
from tests.ingest.test_coverage import FIRE, FIRE_REWRITE, NIGHT1, background, make, post


def _stories(store):
    with store.unit() as s:
        chans = [source_repo.add_source(s, type="telegram-web", locator=f"c{i}", name=f"c{i}").id
                 for i in range(3)]
    p = make(store)
    background(p, chans[2])
    p.ingest(chans[0], Batch(items=[post("f1", FIRE, 0)]))
    p.ingest(chans[1], Batch(items=[post("f2", FIRE_REWRITE, 0.7)]))
    p.ingest(chans[1], Batch(items=[post("n1", NIGHT1, 0.8)]))
    with store.unit() as s:
        return {it.external_id: (it.id, it.story_id) for it in s.scalars(select(ItemRow))}


def test_only_operators_correct_stories_and_only_with_the_token(store, client_for):
    by = _stories(store)
    (f2, story), (_, night) = by["f2"], by["n1"]
    assert by["f1"][1] == story
    viewer, oper = client_for("viewer"), client_for("oper")
    assert viewer.post(f"/stories/{story}/split", {"item_id": f2}).status_code == 403
    assert oper.post(f"/stories/{story}/split", {"item_id": f2}, csrf=False).status_code == 403
    assert oper.post(f"/stories/{night}/split", {"item_id": f2}).status_code == 404
    r = oper.post(f"/stories/{story}/merge", {"other": "x"})  # back to the form, with a message
    assert r.status_code == 303 and "other: expected a whole number" in oper.get("/stories").text
    r = oper.post(f"/stories/{story}/merge", {"other": ""})
    assert r.status_code == 303 and "other: expected a story id" in oper.get("/stories").text
    r = oper.post(f"/stories/{story}/split", {"item_id": f2})
    assert r.status_code == 303 and r.headers["location"] == f"/stories/{story}"
    r = oper.post(f"/stories/{story}/merge", {"other": night})
    assert r.status_code == 303
    r = oper.get(f"/stories/{night}")
    assert r.status_code == 303 and r.headers["location"] == f"/stories/{story}"
    page = oper.get(f"/stories/{story}").text
    assert 'data-level="desk"' in page and f"story {night} merged in by oper" in page
    assert "Split out" in page and 'id="merge-form"' in page
    admin_page = client_for("admin").get(f"/stories/{story}").text
    assert "Split out" in admin_page
