"""The route form: throttle, filters and max age can be set from the web, and a save that leaves
fields blank keeps the route's stored settings (no silent reset of a throttle set elsewhere)."""

from sqlalchemy import select

from monitor.store.models import DeskRow, RouteRow, WatchlistRow


def route_of(store):
    with store.unit() as s:
        wl = s.scalar(select(WatchlistRow).where(WatchlistRow.name == "ports"))
        desk = s.scalar(select(DeskRow).where(DeskRow.name == "news"))
        return wl.id, desk.id, s.scalar(select(RouteRow).where(RouteRow.watchlist_id == wl.id, RouteRow.desk_id == desk.id))


def test_route_throttle_filters_and_blank_fields(client_for, store):
    c = client_for("oper")
    wl, desk, _ = route_of(store)
    form = {"watchlist": str(wl), "desk": str(desk), "mode": "realtime", "throttle": "5/1h",
            "max_age": "none", "sources": "feed-a, feed-b", "languages": "ru,uk", "digest_at": ""}
    assert c.post("/routes", form).status_code == 303
    r = route_of(store)[2]
    assert (r.throttle_count, r.throttle_period, r.max_age) == (5, 3600, None)
    assert (r.source_filter, r.language_filter) == (["feed-a", "feed-b"], ["ru", "uk"])
    # a later save that only changes the mode keeps everything else
    blank = {"watchlist": str(wl), "desk": str(desk), "mode": "digest", "throttle": "", "max_age": "",
             "sources": "", "languages": "", "digest_at": "08:30"}
    assert c.post("/routes", blank).status_code == 303
    r = route_of(store)[2]
    assert (r.mode, r.digest_at, r.throttle_count, r.max_age) == ("digest", "08:30", 5, None)
    assert r.source_filter == ["feed-a", "feed-b"]
    # 'none' clears
    clear = {**blank, "throttle": "none", "sources": "all", "max_age": "48h"}
    assert c.post("/routes", clear).status_code == 303
    r = route_of(store)[2]
    assert (r.throttle_count, r.source_filter, r.max_age) == (None, [], 48 * 3600)
    # a bad throttle is refused without touching the route
    assert c.post("/routes", {**blank, "throttle": "lots"}).status_code in (303, 400)
    assert route_of(store)[2].throttle_count is None
