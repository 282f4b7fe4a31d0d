"""Export and import of sources, alias sets, watchlists, terms, desks and routes as TOML.

The export is deterministic (sorted by name; no internal ids, timestamps or health state), so a
desk can keep it in version control. Secrets never appear as values: a target stored as an
environment reference exports as ``{ env = "NAME" }``, a target stored by value as
``{ stored = "sha256:…" }`` — a fingerprint that matches the stored secret on re-import but cannot
recreate it. Import adds and updates, never deletes, and importing the same file twice changes
nothing. Durations are written with their unit (``15m``); a bare number in the file is seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import tomli_w

from monitor.actions import desks as desk_actions
from monitor.actions import sources as source_actions
from monitor.actions import terms
from monitor.alerts.routes import route_settings
from monitor.durations import duration_value, format_duration, parse_throttle
from monitor.errors import InvalidInput, NotFound
from monitor.settings import Settings
from monitor.store import desks as desk_repo
from monitor.store import overview
from monitor.store import sources as source_repo
from monitor.store import watch as watch_repo
from monitor.store.db import Session
from monitor.store.records import RouteRecord, TargetRecord


def export_config(s: Session) -> str:
    data: dict[str, Any] = {"desks": [], "sources": [], "aliases": [], "watchlists": []}
    for desk in desk_repo.list_desks(s):
        entry: dict[str, Any] = {"name": desk.name, "timezone": desk.timezone}
        if desk.quiet_start and desk.quiet_end:
            entry["quiet_hours"] = [desk.quiet_start, desk.quiet_end]
        if desk.is_operators:
            entry["operators"] = True
        entry["targets"] = sorted(
            (_target_ref(t) for t in desk.targets), key=lambda r: sorted(r.items())
        )
        data["desks"].append(entry)
    for src in overview.source_records(s):
        entry = {"name": src.name, "type": src.type, "locator": src.locator}
        if src.options:
            entry["options"] = dict(sorted(src.options.items()))
        for key in ("account", "language"):
            if getattr(src, key):
                entry[key] = getattr(src, key)
        if src.pinned_interval:
            entry["interval"] = format_duration(src.pinned_interval)
        if not src.enabled:
            entry["enabled"] = False
        data["sources"].append(entry)
    for name, members in watch_repo.alias_map(s).items():
        data["aliases"].append({"name": name, "members": members})
    routes_by_wl: dict[int, list[RouteRecord]] = {}
    for route in desk_repo.list_routes(s):
        routes_by_wl.setdefault(route.watchlist_id, []).append(route)
    for wl in watch_repo.list_watchlists(s):
        entry = {"name": wl.name}
        if wl.desk:
            entry["desk"] = wl.desk
        if wl.description:
            entry["description"] = wl.description
        if not wl.enabled:
            entry["enabled"] = False
        entry["terms"] = [
            {"query": t.query} | ({} if t.enabled else {"enabled": False})
            for t in watch_repo.list_terms(s, watchlist=wl.id)
        ]
        routes = []
        for route in sorted(routes_by_wl.get(wl.id, []), key=lambda r: r.desk):
            r: dict[str, Any] = {
                "desk": route.desk,
                "mode": route.mode,
                "max_age": format_duration(route.max_age),
            }
            if route.throttle_count:
                r["throttle"] = f"{route.throttle_count}/{format_duration(route.throttle_period)}"
            if route.digest_every:
                r["digest_every"] = route.digest_every
            if route.digest_at:
                r["digest_at"] = route.digest_at
            if route.source_filter:
                r["sources"] = sorted(route.source_filter)
            if route.language_filter:
                r["languages"] = sorted(route.language_filter)
            if route.spread_threshold:
                r["spread_threshold"] = route.spread_threshold
            routes.append(r)
        if routes:
            entry["routes"] = routes
        data["watchlists"].append(entry)
    header = (
        "# monitor configuration export: sources, aliases, watchlists, terms, desks.\n"
        "# Secrets appear only as references. Import with: monitor import-config FILE\n"
    )
    return header + tomli_w.dumps({k: v for k, v in data.items() if v})


def _target_ref(t: TargetRecord) -> dict[str, str]:
    return (
        {"env": t.url_env} if t.url_env else {"stored": desk_repo.target_fingerprint(t.url or "")}
    )


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)


def import_config(s: Session, path: Path, settings: Settings) -> ImportReport:
    """Merge a TOML export into the database (adds and updates; never deletes).

    Sources go through :func:`monitor.actions.sources.add_source` (locators, accounts and
    intervals are checked as on the command line, except that an interval in the file may be
    below the floor: it was accepted once), queries through the matcher's validation."""
    from monitor.files import CONFIG_MAX_BYTES, parse_toml, read_bounded

    data = parse_toml(read_bounded(path, CONFIG_MAX_BYTES, what="TOML file"), str(path))
    report = ImportReport()
    ctx = f"{path}"
    try:
        for i, d in enumerate(data.get("desks", [])):
            _import_desk(s, d, report, f"{ctx}: desks[{i}]")
        for i, d in enumerate(data.get("sources", [])):
            _import_source(s, d, report, f"{ctx}: sources[{i}]", settings)
        for i, d in enumerate(data.get("aliases", [])):
            _import_alias(s, d, report, f"{ctx}: aliases[{i}]", terms.query_check(settings))
        for i, d in enumerate(data.get("watchlists", [])):
            _import_watchlist(s, d, report, f"{ctx}: watchlists[{i}]", terms.validator(s, settings))
    except KeyError as exc:
        raise InvalidInput(f"{ctx}: missing key {exc.args[0]!r}") from None
    return report


def _require(d: Any, key: str, where: str, kind: type = str) -> Any:
    if not isinstance(d, dict):
        raise InvalidInput(f"{where}: expected a table")
    value = d.get(key)
    if not isinstance(value, kind):
        raise InvalidInput(f"{where}.{key}: expected {kind.__name__}")
    return value


def _import_desk(s: Session, d: dict, report: ImportReport, where: str) -> None:
    name = _require(d, "name", where)
    quiet = d.get("quiet_hours") or [None, None]
    if not isinstance(quiet, list) or len(quiet) != 2:
        raise InvalidInput(f'{where}.quiet_hours: expected ["HH:MM", "HH:MM"]')
    try:
        desk = desk_repo.get_desk(s, name)
    except NotFound:
        desk = desk_repo.add_desk(
            s,
            name,
            timezone=d.get("timezone", "UTC"),
            quiet_start=quiet[0],
            quiet_end=quiet[1],
            is_operators=bool(d.get("operators")),
        )
        report.created.append(f"desk {name}")
    else:
        wanted = (d.get("timezone", "UTC"), quiet[0], quiet[1], bool(d.get("operators")))
        if (desk.timezone, desk.quiet_start, desk.quiet_end, desk.is_operators) != wanted:
            desk = desk_repo.update_desk(
                s,
                desk.id,
                timezone=wanted[0],
                is_operators=wanted[3],
                quiet=(quiet[0], quiet[1]) if quiet[0] else None,
                clear_quiet=not quiet[0],
            )
            report.updated.append(f"desk {name}")
    known = {_target_ref(t).get("env") or _target_ref(t)["stored"] for t in desk.targets}
    for ref in d.get("targets", []):
        if not isinstance(ref, dict):
            raise InvalidInput(f'{where}.targets: expected {{ env = "NAME" }} tables')
        if "env" in ref and ref["env"] not in known:
            desk_actions.add_target(s, desk.id, f"env:{ref['env']}")
            report.created.append(f"desk {name} target env:{ref['env']}")
        elif "stored" in ref and ref["stored"] not in known:
            report.warnings.append(
                f"desk {name}: stored target {ref['stored']} is not in this "
                f"database; add it with `monitor desk target-add {name} URL` "
                "(or export it as an env: reference)"
            )


def _import_source(
    s: Session, d: dict, report: ImportReport, where: str, settings: Settings
) -> None:
    from monitor.sources import source_class

    name = _require(d, "name", where)
    type_ = _require(d, "type", where)
    locator = source_class(type_).check_locator(_require(d, "locator", where))
    interval = (
        duration_value(d["interval"], where=f"{where}.interval") if d.get("interval") else None
    )
    options = d.get("options", {})
    if not isinstance(options, dict):
        raise InvalidInput(f"{where}.options: expected a table")
    fields = {
        "options": options,
        "account": d.get("account"),
        "language": d.get("language"),
        "pinned_interval": interval,
        "enabled": d.get("enabled", True),
    }
    try:
        src = overview.source_record(s, name)
    except NotFound:
        source_actions.add_source(
            s,
            settings,
            type=type_,
            locator=locator,
            name=name,
            interval=interval,
            force=True,
            account=fields["account"],
            language=fields["language"],
            options=options,
            enabled=fields["enabled"],
        )
        report.created.append(f"source {name}")
        return
    if src.type != type_:
        raise InvalidInput(f"{where}: source {name!r} exists as a {src.type} source, not {type_}")
    current = {k: getattr(src, k) for k in fields}
    if src.locator != locator or current != fields:
        source_actions.update_source(
            s,
            settings,
            src.id,
            locator=locator,
            interval=interval,
            force=True,
            language=fields["language"],
            account=fields["account"],
        )
        source_repo.update_source(s, src.id, options=dict(options))
        if src.enabled != fields["enabled"]:
            source_repo.set_enabled(s, name, fields["enabled"])
        report.updated.append(f"source {name}")


def _import_alias(
    s: Session, d: dict, report: ImportReport, where: str, check: watch_repo.QueryCheck | None
) -> None:
    name = _require(d, "name", where)
    members = _require(d, "members", where, list)
    before = watch_repo.alias_map(s).get(name)
    if before != members:
        try:
            watch_repo.set_alias_set(s, name, members, check=check)
        except InvalidInput as exc:
            raise InvalidInput(f"{where}: {exc}") from None
        (report.updated if before is not None else report.created).append(f"alias {name}")


def _import_watchlist(
    s: Session, d: dict, report: ImportReport, where: str, validate: Callable[[str], None] | None
) -> None:
    name = _require(d, "name", where)
    desk = desk_repo.get_desk(s, d["desk"]) if d.get("desk") else None
    try:
        wl = watch_repo.get_watchlist(s, name)
    except NotFound:
        # the routes come from the file: no default route for the desk here
        wl = watch_repo.add_watchlist(s, name, description=d.get("description"))
        wl = watch_repo.update_watchlist(
            s, wl.id, desk=desk.id if desk else None, enabled=d.get("enabled", True)
        )
        report.created.append(f"watchlist {name}")
    else:
        wanted = (desk.id if desk else None, d.get("description"), d.get("enabled", True))
        if (wl.desk_id, wl.description, wl.enabled) != wanted:
            wl = watch_repo.update_watchlist(
                s, wl.id, desk=wanted[0], description=wanted[1], enabled=wanted[2]
            )
            report.updated.append(f"watchlist {name}")
    existing = {t.query: t for t in watch_repo.list_terms(s, watchlist=wl.id)}
    for j, t in enumerate(d.get("terms", [])):
        query = _require(t, "query", f"{where}.terms[{j}]")
        enabled = t.get("enabled", True)
        if query.strip() not in existing:
            term = watch_repo.add_term(s, wl.id, query, validate=validate)
            if not enabled:
                watch_repo.edit_term(s, term.id, enabled=False)
            report.created.append(f"term {name}: {query}")
        elif existing[query.strip()].enabled != enabled:
            watch_repo.edit_term(s, existing[query.strip()].id, enabled=enabled)
            report.updated.append(f"term {name}: {query}")
    current = {route.desk: route for route in desk_repo.list_routes(s, watchlist=wl.id)}
    for j, r in enumerate(d.get("routes", [])):
        at = f"{where}.routes[{j}]"
        rdesk = desk_repo.get_desk(s, _require(r, "desk", at))
        kwargs = {
            "mode": r.get("mode", "realtime"),
            "throttle": parse_throttle(r["throttle"]) if r.get("throttle") else None,
            "digest_every": r.get("digest_every"),
            "digest_at": r.get("digest_at"),
            "max_age": duration_value(
                r.get("max_age", "48h"), allow_none=True, where=f"{at}.max_age"
            ),
            "sources": r.get("sources", []),
            "languages": r.get("languages", []),
            "spread_threshold": r.get("spread_threshold"),
        }
        before = current.get(rdesk.name)
        snapshot = _route_tuple(before) if before else None
        route = desk_repo.add_route(s, wl.id, rdesk.id, route_settings(**kwargs))
        if snapshot is None:
            report.created.append(f"route {name} -> {rdesk.name}")
        elif snapshot != _route_tuple(route):
            report.updated.append(f"route {name} -> {rdesk.name}")


def _route_tuple(route) -> tuple:
    return (
        route.mode,
        route.throttle_count,
        route.throttle_period,
        route.digest_every,
        route.digest_at,
        route.max_age,
        sorted(route.source_filter or []),
        sorted(route.language_filter or []),
        route.spread_threshold,
    )
