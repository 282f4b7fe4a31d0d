"""Bounded work on hostile sizes: a 200,000-entry feed and a 1 GB Telegram Desktop export.

Each scenario runs the real ``monitor`` command in a child process against a fresh SQLite
database and prints its wall time and the peak resident memory of the largest process it ran
(``ru_maxrss`` over the child and the feed-parsing workers it reaped).

``feed``: serves one RSS document of ``--entries`` small entries (200,000 ≈ 13 MB) on loopback
and runs ``monitor collect --all`` once.

``export``: writes a Telegram Desktop full-account export of about ``--gigabytes`` GB to
``--path`` (kept between runs; never commit it), with one large channel, a group and a private
chat, then runs ``monitor import telegram-export`` on it.

    python bench/bounds.py feed --entries 200000
    python bench/bounds.py export --gigabytes 1 --path /tmp/export-1g/result.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.settings import FetchSettings  # noqa: E402

WORDS = ("северокорейский офицер солдат фронт КНДР военный новости сводка заявил сообщает "
         "погиб область Курская удар дрон армия генерал штаб переговоры Kim Jong Un officers "
         "report Ukraine border troops").split()


def _monitor(db: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "monitor", "--db", db, *args], cwd=ROOT,
                          env=env, capture_output=True, text=True)


def _measured(db: str, *args: str, env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, peak MB of the largest process, output) of one ``monitor`` command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    done = _monitor(db, *args, env=env)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak <= before:
        print("  (peak not above an earlier child's; figure is a lower bound)")
    if done.returncode:
        print(done.stdout, done.stderr, file=sys.stderr)
    return wall, peak / 1024, (done.stdout + done.stderr).strip()


def _env(allow: str | None) -> dict[str, str]:
    env = dict(os.environ)
    # The guard against private addresses exists on newer code only; older code forbids the key.
    if allow and "allowed_private_networks" in FetchSettings.model_fields:
        env["MONITOR_FETCH__ALLOWED_PRIVATE_NETWORKS"] = json.dumps([allow])
    return env


def feed_body(entries: int) -> bytes:
    head = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            "<title>Huge</title><link>https://huge.example/</link>")
    items = [f"<item><title>Entry {k}</title><guid>id-{k}</guid></item>\n"
             for k in range(entries, 0, -1)]  # newest first, as feeds list them
    return (head + "".join(items) + "</channel></rss>").encode()


def run_feed(args) -> None:
    from tests.sources.feedserver import FeedServer, Route

    body = feed_body(args.entries)
    print(f"feed: {args.entries} entries, {len(body) / 1e6:.1f} MB")
    with tempfile.TemporaryDirectory() as tmp, FeedServer() as server:
        server.route("/huge", Route(body=body, headers={"Content-Type": "application/rss+xml"}))
        db = f"sqlite:///{tmp}/bench.db"
        env = _env("127.0.0.1/32") | {"MONITOR_DATA_DIR": tmp}
        for cmd in (("db", "upgrade"), ("source", "add", "rss", server.url("/huge"))):
            if (done := _monitor(db, *cmd, env=env)).returncode:
                sys.exit(done.stdout + done.stderr)
        wall, peak, out = _measured(db, "collect", "--all", "--quiet", env=env)
        print("\n".join("  " + ln for ln in out.splitlines() if ln.startswith("sources:")))
        print(f"  wall {wall:.1f} s, peak {peak:.0f} MB")


def _message(rng: random.Random, msg_id: int, stamp: int) -> dict:
    n = rng.randint(60, 700)
    text = " ".join(rng.choice(WORDS) for _ in range(n))
    cut = rng.randint(1, max(1, len(text) // 2))
    return {"id": msg_id, "type": "message", "date": time.strftime("%Y-%m-%dT%H:%M:%S",
                                                                    time.gmtime(stamp)),
            "date_unixtime": str(stamp), "from": "Канал", "from_id": "channel777",
            "text": [text[:cut], {"type": "bold", "text": text[cut:]}],
            "text_entities": [{"type": "plain", "text": text[:cut]},
                              {"type": "bold", "text": text[cut:]}]}


def write_export(path: Path, gigabytes: float) -> None:
    """A full-account export: a big channel (almost all bytes), a group, a private chat."""
    target = int(gigabytes * 1e9)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    stamp = 1700000000
    with open(path, "w", encoding="utf-8") as fh:
        fh.write('{"about": "bench", "chats": {"about": "x", "list": [\n')
        small = [("Личный чат", 501, "personal_chat"), ("Группа", 502, "private_supergroup")]
        for name, chat_id, kind in small:
            msgs = [_message(rng, i, stamp + i) for i in range(1, 201)]
            json.dump({"name": name, "type": kind, "id": chat_id, "messages": msgs}, fh,
                      ensure_ascii=False)
            fh.write(",\n")
        fh.write('{"name": "Большой канал", "type": "public_channel", "id": 777, "messages": [\n')
        msg_id = 0
        while fh.tell() < target:
            msg_id += 1
            if msg_id > 1:
                fh.write(",\n")
            json.dump(_message(rng, msg_id, stamp + msg_id * 60), fh, ensure_ascii=False)
        fh.write("\n]}]}}\n")
    print(f"wrote {path} ({path.stat().st_size / 1e9:.2f} GB, {msg_id} channel messages)")


def run_export(args) -> None:
    path = Path(args.path)
    if not path.exists() or args.rewrite:
        write_export(path, args.gigabytes)
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{tmp}/bench.db"
        env = _env(None) | {"MONITOR_DATA_DIR": tmp}
        if (done := _monitor(db, "db", "upgrade", env=env)).returncode:
            sys.exit(done.stdout + done.stderr)
        extra = ["--chat", args.chat] if args.chat else []
        wall, peak, out = _measured(db, "import", "telegram-export", str(path), *extra, env=env)
        print("\n".join("  " + ln for ln in out.splitlines()[-5:]))
        print(f"  wall {wall:.1f} s, peak {peak:.0f} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    f = sub.add_parser("feed")
    f.add_argument("--entries", type=int, default=200_000)
    e = sub.add_parser("export")
    e.add_argument("--gigabytes", type=float, default=1.0)
    e.add_argument("--path", default="/tmp/monitor-bench-export/result.json")
    e.add_argument("--rewrite", action="store_true", help="write the export even if it exists")
    e.add_argument("--chat", default=None, help="import only this chat (e.g. 777)")
    args = ap.parse_args()
    run_feed(args) if args.what == "feed" else run_export(args)


if __name__ == "__main__":
    main()
