"""The desk's feed: one card per story (with live updates), or single hits for a term; the item
page, reviews and exports (CSV, JSON Lines, Atom per watchlist).

Pages filtered to one desk (by desk, or by a watchlist that belongs to one) show times in that
desk's time zone; elsewhere the reader's browser zone; UTC in every tooltip.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from monitor.durations import parse_duration
from monitor.errors import InvalidInput, NotFound
from monitor.store import desks as desk_repo
from monitor.store import feed as story_repo
from monitor.store import users as user_repo
from monitor.store import views
from monitor.textout import csv_cell
from monitor.web.deps import ID, Ctx, act, need, strict_int
from monitor.web.security import safe_url

router = APIRouter()
PAGE = 50
CARDS = 30
FILTER_KEYS = ("watchlist", "desk", "source", "lang", "state", "since", "term", "view")


def _int(value: str | None, what: str = "number") -> int | None:
    return strict_int(value, what)


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
        watchlist_id=_int(q.get("watchlist"), "watchlist"),
        desk_id=_int(q.get("desk"), "desk"),
        source_id=_int(q.get("source"), "source"),
        term_id=_int(q.get("term"), "term"),
        language=(q.get("lang") or "").strip().lower() or None,
        review_state=state,
        since=since,
        allowed=ctx.allowed,
    )


def filter_query(request: Request, *, drop: tuple[str, ...] = ()) -> str:
    return urlencode(
        {
            k: request.query_params[k]
            for k in FILTER_KEYS
            if request.query_params.get(k) and k not in drop
        }
    )


def page_zone(s, f: views.HitFilter) -> str | None:
    """The time zone of the one desk a page is filtered to, if it is."""
    desk_id = f.desk_id
    if desk_id is None and f.watchlist_id is not None:
        desk_id = story_repo.watchlist_desk(s, f.watchlist_id)
    if desk_id is None:
        return None
    try:
        return desk_repo.get_desk(s, desk_id).timezone
    except NotFound:
        return None


def choices(s, ctx: Ctx) -> dict[str, list[tuple[int, str]]]:
    return {
        "watchlists": views.names(s, "watchlists", ctx.allowed),
        "desks": views.names(s, "desks", ctx.desk_ids),
        "sources": views.names(s, "sources"),
    }


@router.get("/")
def feed_page(request: Request, ctx: Ctx = Depends(need("viewer"))):
    """Story cards (default), or single hits with ``view=hits`` (tuning a term: ``term=ID``)."""
    f = hit_filter(request, ctx)
    single = request.query_params.get("view") == "hits" or f.term_id is not None
    web = request.app.state.web
    with ctx.unit() as s:
        menus = choices(s, ctx)
        users = views.names(s, "users")
        zone = page_zone(s, f)
        latest = views.latest_hit_id(s)
        if single:
            before = _int(request.query_params.get("before"), "before")
            rows = views.feed(s, f, before=before, limit=PAGE)
            terms = {}
            if f.term_id is not None:
                from monitor.store import watch as watch_repo

                term = watch_repo.get_term(s, f.term_id)
                if ctx.allowed is not None and term.watchlist_id not in ctx.allowed:
                    raise NotFound("no such term")
                terms[term.id] = term.query
            older = f"before={rows[-1].id}" if len(rows) == PAGE else None
            last_id = rows[0].id if rows and before is None else (latest if before is None else 0)
            return web.render(
                "feed.html",
                ctx,
                single=True,
                rows=rows,
                cards=[],
                users=users,
                q=request.query_params,
                choices=menus,
                filter_qs=filter_query(request),
                last_id=last_id,
                live=before is None,
                older=older,
                tz=zone,
                terms=terms,
            )
        at, sid = request.query_params.get("at"), _int(request.query_params.get("story"), "story")
        before = None
        if at and sid is not None:
            try:
                before = (datetime.fromisoformat(at), sid)
            except ValueError:
                raise InvalidInput(f"at={at!r}: expected an ISO time") from None
        cards = story_repo.story_feed(s, f, before=before, limit=CARDS)
    older = None
    if len(cards) == CARDS:
        last = cards[-1].story
        older = urlencode({"at": last.last_seen_at.isoformat(), "story": last.id})
    return web.render(
        "feed.html",
        ctx,
        single=False,
        rows=[],
        cards=cards,
        users=users,
        q=request.query_params,
        choices=menus,
        filter_qs=filter_query(request),
        last_id=latest,
        live=before is None,
        older=older,
        tz=zone,
        terms={},
    )


@router.get("/api/hits")
def feed_updates(request: Request, ctx: Ctx = Depends(need("viewer"))):
    """What arrived since ``after`` (a hit id), rendered, for the live feed: the cards of the
    stories with new hits (``view`` unset), or the new single hits."""
    after = _int(request.query_params.get("after"), "after") or 0
    f = hit_filter(request, ctx)
    single = request.query_params.get("view") == "hits" or f.term_id is not None
    web = request.app.state.web
    with ctx.unit() as s:
        users = views.names(s, "users")
        zone = page_zone(s, f)
        if single:
            rows = views.feed(s, f, after=after, limit=200)
            html = web.fragment("_hit_rows.html", rows=rows, users=users, me=ctx, tz=zone)
            return JSONResponse(
                {"last_id": rows[0].id if rows else after, "count": len(rows), "html": html}
            )
        cards = story_repo.story_feed(s, f, after=after, limit=50)
    html = web.fragment("_story_cards.html", cards=cards, users=users, me=ctx, tz=zone)
    last = max((c.last_hit_id for c in cards), default=after)
    return JSONResponse(
        {
            "last_id": max(last, after),
            "count": len(cards),
            "html": html,
            "stories": [c.story.id for c in cards],
        }
    )


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
def item_page(item_id: ID, request: Request, ctx: Ctx = Depends(need("viewer"))):
    with ctx.unit() as s:
        page = views.item_page(s, item_id, allowed=ctx.allowed)
        if page is None:
            raise NotFound(f"no item {item_id}")
        item = page.item
        story = story_repo.get_story(s, item.story_id) if item.story_id else None
        line = story_repo.timeline(s, story.id) if story else []
        reviews = views.reviews_of(s, [h.id for h in page.hits])
        users = views.names(s, "users")
    spans: dict[str, list] = {"title": [], "text": []}
    for hit in page.hits:
        if hit.field in spans:
            spans[hit.field].extend(list(sp) for sp in hit.spans if len(sp) == 2)
    diffs = []
    versions = page.versions
    for prev, cur in zip(versions, versions[1:]):
        diffs.append(
            {
                "version": cur.version,
                "edited_at": cur.edited_at,
                "fetched_at": cur.fetched_at,
                "title": _word_diff(prev.title or "", cur.title or "")
                if prev.title != cur.title
                else None,
                "text": _word_diff(prev.text or "", cur.text or ""),
            }
        )
    return request.app.state.web.render(
        "item.html",
        ctx,
        item=item,
        versions=versions,
        diffs=diffs,
        hits=page.hits,
        story=story,
        timeline=line,
        reviews=reviews,
        users=users,
        spans=spans,
        fwd_url=safe_url(item.fwd_url),
    )


@router.post("/hits/{hit_id}/review")
def review(hit_id: ID, ctx: Ctx = Depends(act("viewer"))):
    verdict = ctx.field("verdict") or None
    assignee = ctx.field("assignee")
    with ctx.unit() as s:
        watchlist = views.hit_watchlist(s, hit_id)
        if watchlist is None or (ctx.allowed is not None and watchlist not in ctx.allowed):
            raise NotFound(f"no hit {hit_id}")
        state = user_repo.review_hit(
            s,
            hit_id,
            reviewer_id=ctx.user_id,
            verdict=verdict,
            note=ctx.field("note") or None,
            assignee_id=ctx.int_field("assignee") if assignee not in ("", "none") else None,
            unassign=assignee == "none",
        )
    if ctx.request.headers.get("x-requested-with") == "fetch":
        return JSONResponse({"ok": True, "review_state": state})
    ctx.flash("Review saved.")
    back = ctx.field("back")
    return RedirectResponse(
        back if back.startswith("/") and not back.startswith("//") else "/", status_code=303
    )


# ---------------------------------------------------------------- exports

EXPORT_COLUMNS = (
    "hit_id",
    "created_at",
    "watchlist",
    "term",
    "review_state",
    "source",
    "language",
    "published_at",
    "title",
    "url",
    "snippet",
    "story_id",
    "story_sources",
    "item_id",
)


def _export_rows(ctx: Ctx, f: views.HitFilter) -> Iterator[dict[str, Any]]:
    with ctx.unit() as s:
        for r in views.iter_feed(s, f):
            yield {
                "hit_id": r.id,
                "created_at": r.created_at.isoformat(),
                "watchlist": r.watchlist,
                "term": r.term_query,
                "review_state": r.review_state,
                "source": r.source,
                "language": r.language,
                "published_at": r.published_at.isoformat() if r.published_at else None,
                "title": r.title,
                "url": r.url,
                "snippet": r.snippet,
                "story_id": r.story_id,
                "story_sources": r.source_count,
                "item_id": r.item_id,
            }


_csv_cell = csv_cell  # spreadsheets run cells starting with = + - @ as formulas: quoted


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

    return StreamingResponse(
        gen(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="hits.csv"'},
    )


@router.get("/export.jsonl")
def export_jsonl(request: Request, ctx: Ctx = Depends(need("viewer"))):
    f = hit_filter(request, ctx)
    gen = (json.dumps(row, ensure_ascii=False) + "\n" for row in _export_rows(ctx, f))
    return StreamingResponse(
        gen,
        media_type="application/x-ndjson; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="hits.jsonl"'},
    )


ATOM = "http://www.w3.org/2005/Atom"
# what XML 1.0 cannot hold at all, escaped or not: C0 controls but tab/newline/return, lone
# surrogates, U+FFFE/U+FFFF. ElementTree writes them as they are, which no reader parses.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: str | None) -> str:
    """``value`` with the characters XML cannot carry replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", value or "")


@router.get("/atom/{token}")
def atom(token: str, request: Request):
    """A watchlist's newest hits as Atom; the URL's token is the only credential (rotatable)."""
    with request.app.state.web.store.unit() as s:
        found = views.watchlist_by_token(s, token)
        if found is None:
            return Response("not found", status_code=404, media_type="text/plain")
        wl_id, name = found
        rows = views.feed(s, views.HitFilter(watchlist_id=wl_id), limit=100)
    ET.register_namespace("", ATOM)
    feed_el = ET.Element(f"{{{ATOM}}}feed")
    ET.SubElement(feed_el, f"{{{ATOM}}}title").text = xml_text(f"monitor: {name}")
    ET.SubElement(feed_el, f"{{{ATOM}}}id").text = f"urn:monitor:watchlist:{token[:8]}"
    updated = rows[0].created_at if rows else datetime.now(timezone.utc)
    ET.SubElement(feed_el, f"{{{ATOM}}}updated").text = updated.isoformat()
    for r in rows:
        entry = ET.SubElement(feed_el, f"{{{ATOM}}}entry")
        ET.SubElement(entry, f"{{{ATOM}}}id").text = f"urn:monitor:hit:{r.id}"
        ET.SubElement(entry, f"{{{ATOM}}}title").text = xml_text((r.title or r.snippet or "")[:300])
        ET.SubElement(entry, f"{{{ATOM}}}updated").text = r.created_at.isoformat()
        author = ET.SubElement(entry, f"{{{ATOM}}}author")
        ET.SubElement(author, f"{{{ATOM}}}name").text = xml_text(r.source)
        if safe_url(r.url):
            ET.SubElement(entry, f"{{{ATOM}}}link", href=xml_text(r.url))
        # type="text": readers show it as text; ElementTree escapes it for the XML.
        ET.SubElement(entry, f"{{{ATOM}}}summary", type="text").text = xml_text(r.snippet)
    body = ET.tostring(feed_el, encoding="unicode", xml_declaration=True)
    return Response(body, media_type="application/atom+xml; charset=utf-8")
