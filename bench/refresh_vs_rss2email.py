"""Side by side: rss2email vs ``monitor collect --all`` over the same N local feeds, two passes.

    python bench/refresh_vs_rss2email.py [--feeds 2000] [--terms 1000] [--only monitor|rss2email]

N feeds (RSS 2.0 and Atom, 10-40 entries each) are written to a temporary folder and served by
a loopback HTTP server in its own process (HTTP/1.1 keep-alive, ``ETag`` and ``Last-Modified``,
``304`` on a matching conditional GET). The entries are built from real feed entries of the
shared corpus (``../shared/corpus``: titles and sentences of real news feeds, each entry a mix
of them, a few reposted across feeds); without the corpus, from a small built-in vocabulary.

Each tool runs twice as its own process tree: the first pass sees every feed new, the second
pass gets ``304 Not Modified`` everywhere.

- rss2email (``pip install rss2email``, the ``bench`` extra): ``r2e run --no-send`` with a
  config listing every feed (no fetch interval between feeds of one server): it fetches, parses
  and records every entry as seen, without sending mail.
- monitor: a fresh SQLite database built by the migrations, N ``rss`` sources and 1,000 watch
  terms taken from the feeds' vocabulary, then ``monitor collect --all -q`` (everything stored,
  clustered into stories, matched).

Printed per tool and pass: wall time, CPU time of the whole process tree (user + system of
every process, from ``wait4`` and sampled ``/proc``), peak PSS summed over the process tree
(sampled every 0.1 s from ``/proc/PID/smaps_rollup``), items; then monitor / rss2email ratios.
The load average is printed beside them: the machine may be shared.
"""

from __future__ import annotations

import argparse
import email.utils
import hashlib
import html
import json
import multiprocessing as mp
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CORPUS = ROOT.parent / "shared" / "corpus"
BIN = Path(sys.executable).parent

FALLBACK = ("the ministry said on monday that the new rules would take effect next month after "
            "a long debate in parliament analysts called the move overdue while opposition "
            "leaders warned of rising prices for energy food and housing across the region").split()


# ---- the feeds ---------------------------------------------------------------------------------

def corpus_pool() -> tuple[list[str], list[str]]:
    """(titles, sentences) of real feed entries in the shared corpus; empty without it."""
    import feedparser

    titles, sentences = [], []
    for folder in ("FeedReader", "rss-parser", "miniflux-v2", "feed-rs", "newsboat"):
        for path in sorted((CORPUS / folder).rglob("*")):
            if path.suffix.lower() not in (".xml", ".rss", ".atom") or path.stat().st_size > 3e6:
                continue
            try:
                parsed = feedparser.parse(path.read_bytes())
            except Exception:  # noqa: BLE001 - a broken corpus file is just not a template
                continue
            for e in parsed.entries:
                if e.get("title"):
                    titles.append(" ".join(e.title.split()))
                body = (e.get("content") or [{}])[0].get("value") or e.get("summary") or ""
                plain = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())
                sentences += [s.strip() for s in re.split(r"(?<=[.!?])\s+", plain)
                              if 40 <= len(s.strip()) <= 400]
    return sorted(set(titles)), sorted(set(sentences))


def make_pool() -> tuple[list[str], list[str]]:
    titles, sentences = corpus_pool() if CORPUS.is_dir() else ([], [])
    if len(titles) < 50 or len(sentences) < 200:
        rng = random.Random(5)
        titles = [" ".join(rng.choice(FALLBACK) for _ in range(8)).capitalize()
                  for _ in range(2000)]
        sentences = [" ".join(rng.choice(FALLBACK) for _ in range(20)).capitalize() + "."
                     for _ in range(5000)]
    return titles, sentences


def feed_body(i: int, titles: list[str], sentences: list[str]) -> tuple[bytes, int]:
    """Feed ``i``'s bytes and number of entries (deterministic)."""
    rng = random.Random(i)
    n = rng.randint(10, 40)
    host = f"site{i}.example"
    entries = []
    for k in range(n, 0, -1):  # newest first
        if rng.random() < 0.05:  # a repost of another feed's entry: stories have work to do
            er = random.Random((rng.randrange(1_000_000)) * 31 + 7)
        else:
            er = random.Random(i * 100_003 + k)
        title = er.choice(titles)
        paras = "".join("<p>" + html.escape(" ".join(er.choice(sentences)
                                                     for _ in range(er.randint(1, 4)))) + "</p>"
                        for _ in range(er.randint(2, 5)))
        stamp = 1_733_000_000 - (n - k) * 3600 * rng.randint(1, 6) - i
        entries.append((k, html.escape(title), paras, stamp))
    if i % 3 == 0:  # Atom
        parts = ['<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
                 f"<title>Site {i}</title><id>urn:site:{i}</id><updated>2024-12-01T00:00:00Z"
                 f'</updated><link href="https://{host}/"/>']
        for k, title, paras, stamp in entries:
            when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))
            parts.append(f"<entry><id>urn:site:{i}:{k}</id><title>{title}</title>"
                         f'<link href="https://{host}/news/{k}"/><updated>{when}</updated>'
                         f"<author><name>Desk {i}</name></author>"
                         f'<content type="html"><![CDATA[{paras}]]></content></entry>')
        parts.append("</feed>")
    else:  # RSS 2.0
        parts = ['<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                 f"<title>Site {i}</title><link>https://{host}/</link>"]
        for k, title, paras, stamp in entries:
            when = email.utils.formatdate(stamp, usegmt=True)
            parts.append(f"<item><title>{title}</title><link>https://{host}/news/{k}</link>"
                         f'<guid isPermaLink="false">{host}-{k}</guid><pubDate>{when}</pubDate>'
                         f"<description><![CDATA[{paras}]]></description></item>")
        parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8"), n


def write_feeds(folder: Path, feeds: int) -> tuple[int, int, list[str]]:
    """Write the feeds; returns (bytes, entries, a sample of titles and sentences for terms)."""
    titles, sentences = make_pool()
    size = entries = 0
    for i in range(feeds):
        body, n = feed_body(i, titles, sentences)
        (folder / f"{i}.xml").write_bytes(body)
        size += len(body)
        entries += n
    return size, entries, titles + sentences


class FeedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    folder: Path = Path(".")
    stamp = email.utils.formatdate(1_733_000_000, usegmt=True)

    def do_GET(self):  # noqa: N802 - the http.server API
        name = self.path.rsplit("/", 1)[-1]
        path = self.folder / f"{name}.xml"
        if not name.isdigit() or not path.is_file():
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = path.read_bytes()
        etag = '"' + hashlib.md5(body).hexdigest() + '"'
        if (self.headers.get("If-None-Match") == etag
                or (self.headers.get("If-None-Match") is None
                    and self.headers.get("If-Modified-Since") == self.stamp)):
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", self.stamp)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", self.stamp)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # quiet
        pass


def serve(folder: str, conn) -> None:
    FeedHandler.folder = Path(folder)
    server = ThreadingHTTPServer(("127.0.0.1", 0), FeedHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conn.send(f"http://127.0.0.1:{server.server_address[1]}")
    conn.recv()
    server.shutdown()


# ---- measuring a process tree ------------------------------------------------------------------

def _tree(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += parents.get(pid, [])
    return out


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(cmd: list[str], env: dict[str, str], cwd: Path) -> dict:
    """Run ``cmd``; its wall time, CPU of the whole tree, peak summed PSS, output."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    peak, cpu_seen = 0, {}
    out: list[bytes] = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True)
    reader.start()
    while True:
        try:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        except ChildProcessError:
            break
        if pid:
            break
        pids = _tree(proc.pid)
        peak = max(peak, sum(_pss_kb(p) for p in pids))
        for p in pids:
            cpu_seen[p] = max(cpu_seen.get(p, 0.0), _cpu_s(p))
        time.sleep(0.1)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    reader.join(timeout=10)
    # wait4 counts the root and every descendant it waited for; the samples catch the others
    cpu = max(usage.ru_utime + usage.ru_stime, sum(cpu_seen.values()))
    text = b"".join(out).decode("utf-8", "replace")
    if proc.returncode:
        print(text[-3000:], file=sys.stderr)
        raise SystemExit(f"{cmd[0]} exited with {proc.returncode}")
    return {"wall": wall, "cpu": cpu, "pss_mb": peak / 1024, "out": text}


def load() -> str:
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


# ---- the tools ---------------------------------------------------------------------------------

def rss2email_setup(work: Path, base: str, feeds: int) -> list[str]:
    r2e = BIN / "r2e"
    if not r2e.exists():
        raise SystemExit("rss2email is not installed: pip install -e '.[bench]'")
    lines = ["[DEFAULT]", "to = bench@example.invalid", "from = bench@example.invalid",
             "same-server-fetch-interval = 0", "use-8bit = True", ""]
    for i in range(feeds):
        lines += [f"[feed.f{i}]", f"url = {base}/feed/{i}", ""]
    (work / "r2e.cfg").write_text("\n".join(lines))
    return [str(r2e), "-c", str(work / "r2e.cfg"), "-d", str(work / "r2e.json"), "run",
            "--no-send"]


def rss2email_items(work: Path) -> int:
    data = json.loads((work / "r2e.json").read_text())
    return sum(len(f.get("seen", {})) for f in data["feeds"])


def make_terms(pool: list[str], n: int) -> list[str]:
    rng = random.Random(1)
    words = sorted({w.strip(".,:;!?«»()\"'").lower() for p in pool for w in p.split()
                    if len(w) > 6 and w.strip(".,:;!?«»()\"'").isalpha()})
    terms: set[str] = set()
    while len(terms) < n and words:
        a, b = rng.sample(words, 2)
        kind = rng.random()
        terms.add(a if kind < 0.4 else f'"{a} {b}"' if kind < 0.7 else
                  f"{a} AND {b}" if kind < 0.85 else f"{a} NEAR/5 {b}")
    return sorted(terms)


def monitor_setup(work: Path, base: str, feeds: int, terms: list[str]) -> tuple[list[str], dict]:
    from monitor.store import sources as source_repo
    from monitor.store import watch as watch_repo
    from monitor.store.db import Store
    from monitor.store.migrate import upgrade

    url = f"sqlite:///{work / 'monitor.db'}"
    store = Store(url)
    upgrade(store)
    with store.unit() as s:
        for i in range(feeds):
            source_repo.add_source(s, type="rss", locator=f"{base}/feed/{i}", name=f"f{i}")
        wl = watch_repo.add_watchlist(s, "bench")
        for q in terms:
            watch_repo.add_term(s, wl, q)
    store.dispose()
    env = {**os.environ, "MONITOR_DATA_DIR": str(work / "data"),
           "MONITOR_FETCH__ALLOWED_PRIVATE_NETWORKS": '["127.0.0.1/32"]',
           # every feed lives on one loopback host here, unlike the real world
           "MONITOR_FETCH__PER_HOST_CONCURRENCY": os.environ.get(
               "MONITOR_FETCH__PER_HOST_CONCURRENCY", "20")}
    return [str(BIN / "monitor"), "--db", url, "collect", "--all", "-q"], env


def monitor_items(out: str) -> int:
    found = re.search(r"new items: (\d+)", out)
    return int(found.group(1)) if found else -1


# ---- main --------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=2000)
    ap.add_argument("--terms", type=int, default=1000)
    ap.add_argument("--only", choices=["monitor", "rss2email"], default=None)
    ap.add_argument("--keep", action="store_true", help="keep the work folder (printed)")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="refresh_vs_r2e_"))
    folder = work / "feeds"
    folder.mkdir()
    size, entries, pool = write_feeds(folder, args.feeds)
    print(f"{args.feeds:,} feeds, {size / 1e6:.1f} MB, {entries:,} entries, "
          f"{os.cpu_count()} cores; {load()}")
    parent, child = mp.Pipe()
    server = mp.Process(target=serve, args=(str(folder), child), daemon=True)
    server.start()
    base = parent.recv()
    results: dict[str, list[dict]] = {}
    try:
        if args.only in (None, "rss2email"):
            cmd = rss2email_setup(work, base, args.feeds)
            results["rss2email"] = []
            for n in (1, 2):
                r = measure(cmd, dict(os.environ), work)
                r["items"] = rss2email_items(work) if n == 1 else 0
                r["load"] = load()
                results["rss2email"].append(r)
        if args.only in (None, "monitor"):
            terms = make_terms(pool, args.terms)
            cmd, env = monitor_setup(work, base, args.feeds, terms)
            results["monitor"] = []
            for n in (1, 2):
                r = measure(cmd, env, work)
                r["items"] = monitor_items(r["out"])
                r["load"] = load()
                results["monitor"].append(r)
                print("  monitor:", r["out"].strip().splitlines()[-1])
            print(f"  monitor: {len(terms):,} watch terms")
    finally:
        parent.send("stop")
        server.join(timeout=10)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"work folder: {work}")

    print(f"{'':10} {'pass':6} {'wall s':>8} {'CPU s':>8} {'peak PSS MB':>12} {'items':>8}")
    for tool, runs in results.items():
        for n, r in enumerate(runs, 1):
            what = "first" if n == 1 else "304"
            print(f"{tool:10} {what:6} {r['wall']:8.1f} {r['cpu']:8.1f} {r['pss_mb']:12.0f} "
                  f"{r['items']:8,}   ({r['load']})")
    if len(results) == 2:
        for n, what in ((0, "first pass"), (1, "304 pass")):
            m, r = results["monitor"][n], results["rss2email"][n]
            print(f"monitor / rss2email, {what}: wall {m['wall'] / r['wall']:.2f}x, "
                  f"CPU {m['cpu'] / r['cpu']:.2f}x, peak PSS {m['pss_mb'] / r['pss_mb']:.2f}x")


if __name__ == "__main__":
    main()
