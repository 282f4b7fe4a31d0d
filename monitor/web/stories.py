"""The Stories pages: the list (the feed's filters, stories with visible hits) and a story's page
with its timeline (first seen where and when, then each outlet or channel and how it joined), and
a review of a whole story at once."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse

from monitor.actions import stories as story_actions
from monitor.errors import InvalidInput, NotFound
from monitor.store import feed as story_repo
from monitor.store import users as user_repo
from monitor.store import views
from monitor.web.deps import ID, Ctx, act, need
from monitor.web.feed import _int, choices, filter_query, hit_filter, page_zone

router = APIRouter()
PAGE = 50


@router.get("/stories")
def stories_page(request: Request, ctx: Ctx = Depends(need("viewer"))):
    f = hit_filter(request, ctx)
    at, sid = request.query_params.get("at"), _int(request.query_params.get("story"), "story")
    before = None
    if at and sid is not None:
        try:
            before = (datetime.fromisoformat(at), sid)
        except ValueError:
            raise InvalidInput(f"at={at!r}: expected an ISO time") from None
    with ctx.unit() as s:
        cards = story_repo.story_feed(s, f, before=before, limit=PAGE)
        menus = choices(s, ctx)
        zone = page_zone(s, f)
    older = None
    if len(cards) == PAGE:
        last = cards[-1].story
        older = urlencode({"at": last.last_seen_at.isoformat(), "story": last.id})
    return request.app.state.web.render(
        "stories.html",
        ctx,
        cards=cards,
        choices=menus,
        q=request.query_params,
        filter_qs=filter_query(request, drop=("view", "term")),
        older=older,
        tz=zone,
    )


@router.get("/stories/{story_id}")
def story_page(story_id: ID, request: Request, ctx: Ctx = Depends(need("viewer"))):
    desk = _int(request.query_params.get("desk"), "desk")
    with ctx.unit() as s:
        story = story_repo.get_story(s, story_id)
        if story is None or not story_repo.story_visible(s, story_id, ctx.allowed):
            raise NotFound(f"no story {story_id}")
        if story.merged_into is not None:  # a desk merged it: its items are there now
            return RedirectResponse(f"/stories/{story.merged_into}", status_code=303)
        f = views.HitFilter(desk_id=desk, allowed=ctx.allowed)
        card = next(iter(story_repo.cards(s, [story], views.HitFilter(allowed=ctx.allowed))), None)
        line = story_repo.timeline(s, story_id)
        zone = page_zone(s, f)
        users = views.names(s, "users")
    return request.app.state.web.render(
        "story.html", ctx, story=story, card=card, timeline=line, tz=zone, users=users
    )


@router.post("/stories/{story_id}/review")
def story_review(story_id: ID, ctx: Ctx = Depends(act("viewer"))):
    """One verdict for every hit of the story the reader may see (each gets its review row)."""
    verdict = ctx.field("verdict")
    if verdict not in user_repo.VERDICTS:
        raise InvalidInput(f"verdict {verdict!r}: expected one of {', '.join(user_repo.VERDICTS)}")
    with ctx.unit() as s:
        ids = story_repo.story_hit_ids(s, story_id, ctx.allowed)
        if not ids:
            raise NotFound(f"no story {story_id}")
        for hit_id in ids:
            user_repo.review_hit(
                s, hit_id, reviewer_id=ctx.user_id, verdict=verdict, note=ctx.field("note") or None
            )
    if ctx.request.headers.get("x-requested-with") == "fetch":
        return JSONResponse({"ok": True, "review_state": verdict, "hits": len(ids)})
    ctx.flash(f"Story {story_id}: {len(ids)} hit(s) marked {verdict.replace('_', ' ')}.")
    back = ctx.field("back")
    return RedirectResponse(
        back if back.startswith("/") and not back.startswith("//") else f"/stories/{story_id}",
        status_code=303,
    )


@router.post("/stories/{story_id}/split")
def story_split(story_id: int, ctx: Ctx = Depends(act("operator"))):
    """Move one item of the story into a story of its own (later ingest keeps it there)."""
    item_id = ctx.int_field("item_id", lo=1)
    if item_id is None:
        raise InvalidInput("item_id: expected an item id")
    with ctx.unit() as s:
        done = story_actions.split_item(s, item_id, user_id=ctx.user_id, by=ctx.name,
                                        story_id=story_id)
    ctx.flash(f"Item {item_id} split out of story {story_id} into story {done.new_story}.")
    return RedirectResponse(f"/stories/{story_id}", status_code=303)


@router.post("/stories/{story_id}/merge")
def story_merge(story_id: int, ctx: Ctx = Depends(act("operator"))):
    """Merge another story into this one (its items, keys and hits move here)."""
    other = ctx.int_field("other", lo=1)
    if other is None:
        raise InvalidInput("other: expected a story id")
    with ctx.unit() as s:
        done = story_actions.merge_stories(s, story_id, other, user_id=ctx.user_id, by=ctx.name)
    ctx.flash(f"Story {other} merged into story {story_id} ({done.items} item(s)).")
    return RedirectResponse(f"/stories/{story_id}", status_code=303)
