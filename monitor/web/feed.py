"""The hits feed (with live updates), the item/story page, reviews and exports (CSV, JSON Lines,
Atom per watchlist)."""

from __future__ import annotations

import csv
import difflib
import io
import json
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator
from xml.etree import ElementTree as ET

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from monitor.durations import parse_duration
from monitor.errors import InvalidInput, NotFound
from monitor.store import users as user_repo
from monitor.store import views
from monitor.store.models import DeskRow, HitRow, SourceRow, UserRow, WatchlistRow
from monitor.web.deps import Ctx, act, need
from monitor.web.security import safe_url

router = APIRouter()
PAGE = 50
FILTER_KEYS = ("watchlist", "desk", "source", "lang", "state", "since")


def _int(value: str | None) -> int | None:
    return int(value) if value and value.strip().isdigit() else None


def hit_filter(request: Request, ctx: Ctx) -> views.HitFilter:
    """The filter from the query string (``since`` is a duration back from now: 24h, 7d)."""
    q = request.query_params
    since = None
    if q.get("since"):
        try:
            since = datetime.now(timezone.utc) - timedelta(seconds=parse_duration(q["since"]) or 0)
        except InvalidInput:
            since = None
    state = q.get("state") if q.get("state") in user_repo.VERDICTS else None
    return views.HitFilter(
        watchlist_id=_int(q.get("watchlist")), desk_id=_int(q.get("desk")), source_id=_int(q.get("source")),
        language=(q.get("lang") or "").strip().lower() or None, review_state=state, since=since,
        allowed=ctx.allowed,
    )



def _filter_query(request: Request) -> str:
    from urllib.parse import urlencode

    return urlencode({k: request.query_params[k] for k in FILTER_KEYS if request.query_params.get(k)})


@router.get("/")
def feed_page(request: Request, ctx: Ctx = Depends(need("viewer"))):
    f = hit_filter(request, ctx)
    before = _int(request.query_params.get("before"))
    with ctx.unit() as s:
        rows = views.feed(s, f, before=before, limit=PAGE)
        wl_q = s.query(WatchlistRow).order_by(WatchlistRow.name)
        if ctx.allowed is not None:
            wl_q = wl_q.filter(WatchlistRow.id.in_(ctx.allowed or (-1,)))
        desk_q = s.query(DeskRow).order_by(DeskRow.name)
        if ctx.desk_ids is not None:
            desk_q = desk_q.filter(DeskRow.id.in_(ctx.desk_ids or [-1]))
        choices = {"watchlists": wl_q.all(), "desks": desk_q.all(),
                   "sources": s.query(SourceRow.id, SourceRow.name).order_by(SourceRow.name).all()}
        users = s.query(UserRow.id, UserRow.name).filter(UserRow.disabled.is_(False)).order_by(UserRow.name).all()
        # Live updates continue from the newest row shown (or the newest hit when the page is empty).
        last_id = rows[0].id if rows and before is None else (views.latest_hit_id(s) if before is None else 0)
    web = request.app.state.web
    return web.render("feed.html", ctx, rows=rows, users=users, q=request.query_params, choices=choices,
                      filter_qs=_filter_query(request), last_id=last_id, live=before is None,
                      older=rows[-1].id if len(rows) == PAGE else None)


@router.get("/api/hits")
def feed_updates(request: Request, ctx: Ctx = Depends(need("viewer"))):
    """New rows since ``after`` (a hit id) as rendered HTML, newest first, for the live feed."""
    after = _int(request.query_params.get("after")) or 0
    f = hit_filter(request, ctx)
    with ctx.unit() as s:
        rows = views.feed(s, f, after=after, limit=200)
        users = s.query(UserRow.id, UserRow.name).filter(UserRow.disabled.is_(False)).order_by(UserRow.name).all()
    web = request.app.state.web
    html = web.fragment("_hit_rows.html", rows=rows, users=users, me=ctx)
    return JSONResponse({"last_id": rows[0].id if rows else after, "count": len(rows), "html": html})


def _word_diff(old: str, new: str) -> list[tuple[str, str]]:
    """(op, text) pieces of a word-level diff: op is ``=``, ``-`` or ``+``; rendered escaped."""
    a, b = old.split(" "), new.split(" ")
    out: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(("=", " ".join(a[i1:i2])))
            continue
        if op in ("replace", "delete"):
            out.append(("-", " ".join(a[i1:i2])))
        if op in ("replace", "insert"):
            out.append(("+", " ".join(b[j1:j2])))
    return out


@router.get("/items/{item_id}")
def item_page(item_id: int, request: Request, ctx: Ctx = Depends(need("viewer"))):
    with ctx.unit() as s:
        page = views.item_page(s, item_id)
        if page is None:
            raise NotFound(f"no item {item_id}")
        hits = page["hits"]
        if ctx.allowed is not None:
            hits = [h for h in hits if h[3] in ctx.allowed]
            if not hits:  # viewers reach items only through their desks' hits
                raise NotFound(f"no item {item_id}")
        story = page["story"]
        timeline = views.story_timeline(s, story.id) if story else []
        reviews = views.reviews_of(s, [h[0].id for h in hits])
        users = s.query(UserRow.id, UserRow.name).filter(UserRow.disabled.is_(False)).order_by(UserRow.name).all()
    item = page["item"]
    spans = {"title": [], "text": []}
    for hit, *_ in hits:
        if hit.field in spans and isinstance(hit.spans, list):
            spans[hit.field].extend(sp for sp in hit.spans if isinstance(sp, (list, tuple)) and len(sp) == 2)
    diffs = []
    versions = page["versions"]
    for prev, cur in zip(versions, versions[1:]):
        diffs.append({"version": cur.version, "edited_at": cur.edited_at, "fetched_at": cur.fetched_at,
                      "title": _word_diff(prev.title or "", cur.title or "") if prev.title != cur.title else None,
                      "text": _word_diff(prev.text or "", cur.text or "")})
    return request.app.state.web.render(
        "item.html", ctx, item=item, source=page["source"], versions=versions, diffs=diffs, hits=hits,
        story=story, timeline=timeline, reviews=reviews, users=users, spans=spans,
        fwd_url=safe_url(item.fwd_url),
    )


@router.post("/hits/{hit_id}/review")
def review(hit_id: int, ctx: Ctx = Depends(act("viewer"))):
    verdict = ctx.field("verdict") or None
    assignee = ctx.field("assignee")
    with ctx.unit() as s:
        hit = s.get(HitRow, hit_id)
        if hit is None or (ctx.allowed is not None and hit.watchlist_id not in ctx.allowed):
            raise NotFound(f"no hit {hit_id}")
        user_repo.review_hit(
            s, hit, reviewer_id=ctx.user_id, verdict=verdict, note=ctx.field("note") or None,
            assignee_id=int(assignee) if assignee.isdigit() else None, unassign=assignee == "none",
        )
        state, item_id = hit.review_state, hit.item_id
    if ctx.request.headers.get("x-requested-with") == "fetch":
        return JSONResponse({"ok": True, "review_state": state})
    ctx.flash("Review saved.")
    back = ctx.field("back")
    return RedirectResponse(back if back.startswith("/") and not back.startswith("//") else f"/items/{item_id}",
                            status_code=303)


# ---------------------------------------------------------------- exports

EXPORT_COLUMNS = ("hit_id", "created_at", "watchlist", "term", "review_state", "source", "language",
                  "published_at", "title", "url", "snippet", "story_sources", "item_id")


def _export_rows(ctx: Ctx, f: views.HitFilter) -> Iterator[dict[str, Any]]:
    with ctx.unit() as s:
        for r in views.iter_feed(s, f):
            yield {"hit_id": r.id, "created_at": r.created_at.isoformat(), "watchlist": r.watchlist,
                   "term": r.term_query, "review_state": r.review_state, "source": r.source,
                   "language": r.language, "published_at": r.published_at.isoformat() if r.published_at else None,
                   "title": r.title, "url": r.url, "snippet": r.snippet, "story_sources": r.source_count,
                   "item_id": r.item_id}


def _csv_cell(value: Any) -> Any:
    # Spreadsheets run cells starting with = + - @ as formulas: quote them (CSV injection).
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


@router.get("/export.csv")
def export_csv(request: Request, ctx: Ctx = Depends(need("viewer"))):
    f = hit_filter(request, ctx)

    def gen():
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(EXPORT_COLUMNS)
        for i, row in enumerate(_export_rows(ctx, f)):
            w.writerow([_csv_cell(row[c]) for c in EXPORT_COLUMNS])
            if i % 500 == 0:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
        yield buf.getvalue()

    return StreamingResponse(gen(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="hits.csv"'})


@router.get("/export.jsonl")
def export_jsonl(request: Request, ctx: Ctx = Depends(need("viewer"))):
    f = hit_filter(request, ctx)
    gen = (json.dumps(row, ensure_ascii=False) + "\n" for row in _export_rows(ctx, f))
    return StreamingResponse(gen, media_type="application/x-ndjson; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="hits.jsonl"'})


ATOM = "http://www.w3.org/2005/Atom"


@router.get("/atom/{token}")
def atom(token: str, request: Request):
    """A watchlist's newest hits as Atom; the URL's token is the only credential (rotatable)."""
    with request.app.state.web.store.unit() as s:
        wl = views.watchlist_by_token(s, token)
        if wl is None:
            return Response("not found", status_code=404, media_type="text/plain")
        rows = views.feed(s, views.HitFilter(watchlist_id=wl.id), limit=100)
        name = wl.name
    ET.register_namespace("", ATOM)
    feed_el = ET.Element(f"{{{ATOM}}}feed")
    ET.SubElement(feed_el, f"{{{ATOM}}}title").text = f"monitor: {name}"
    ET.SubElement(feed_el, f"{{{ATOM}}}id").text = f"urn:monitor:watchlist:{token[:8]}"
    updated = rows[0].created_at if rows else datetime.now(timezone.utc)
    ET.SubElement(feed_el, f"{{{ATOM}}}updated").text = updated.isoformat()
    for r in rows:
        entry = ET.SubElement(feed_el, f"{{{ATOM}}}entry")
        ET.SubElement(entry, f"{{{ATOM}}}id").text = f"urn:monitor:hit:{r.id}"
        ET.SubElement(entry, f"{{{ATOM}}}title").text = (r.title or r.snippet or "")[:300]
        ET.SubElement(entry, f"{{{ATOM}}}updated").text = r.created_at.isoformat()
        author = ET.SubElement(entry, f"{{{ATOM}}}author")
        ET.SubElement(author, f"{{{ATOM}}}name").text = r.source
        if safe_url(r.url):
            ET.SubElement(entry, f"{{{ATOM}}}link", href=r.url)
        # type="text": readers show it as text; ElementTree escapes it for the XML.
        ET.SubElement(entry, f"{{{ATOM}}}summary", type="text").text = r.snippet or ""
    body = ET.tostring(feed_el, encoding="unicode", xml_declaration=True)
    return Response(body, media_type="application/atom+xml; charset=utf-8")
