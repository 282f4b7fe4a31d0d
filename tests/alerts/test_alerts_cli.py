"""The alert commands: desk test, mute, alerts list/retry/send — and `alerts send` killed with
SIGKILL mid-delivery, then run again."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.store.models import MuteRow
from monitor.types import utcnow

from tests.alerts.sinks import WebhookSink
from tests.alerts.test_outbox_helpers import alerts, attempts, deliveries, hit, make_world

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sink():
    with WebhookSink() as s:
        yield s


def test_desk_test_reports_per_target(cli, sink, monkeypatch):
    monkeypatch.delenv("MONITOR_NO_SUCH_HOOK", raising=False)
    assert cli("desk", "add", "kyiv", "--target", sink.url(path="/secret-token"))[0] == 0
    code, out, err = cli("desk", "test", "kyiv")
    assert code == 0 and "json://127.0.0.1:" in out and ": sent" in out and "1/1" in out
    assert "secret-token" not in out
    (req,) = sink.requests
    assert req.json()["kind"] == "test" and req.json()["alert_id"] > 0
    assert cli("desk", "target-add", "kyiv", "env:MONITOR_NO_SUCH_HOOK")[0] == 0
    code, out, _ = cli("desk", "test", "kyiv")
    assert code == 1 and "env:MONITOR_NO_SUCH_HOOK: permanent" in out and "1/2" in out
    code, _, err = cli("desk", "test", "nowhere")
    assert code == 1 and "no desk named" in err
    assert cli("desk", "add", "empty")[0] == 0
    code, _, err = cli("desk", "test", "empty")
    assert code == 2 and "no enabled target" in err


def test_mute_story_and_term(cli, store):
    w = make_world(store)
    _, story, _ = hit(store, w, now=utcnow())
    code, out, _ = cli("mute", "story", str(story), "--for", "6h")
    assert code == 0 and f"muted story {story} until" in out
    assert cli("mute", "term", str(w.term_id), "--for", "2d")[0] == 0
    with store.unit() as s:
        mutes = sorted((m.kind, m.ref_id, round((m.until - utcnow()).total_seconds() / 3600))
                       for m in s.query(MuteRow))
    assert mutes == [("story", story, 6), ("term", w.term_id, 48)]
    code, _, err = cli("mute", "term", "999", "--for", "1h")
    assert code == 1 and "no watch term with id 999" in err
    code, _, err = cli("mute", "story", str(story), "--for", "soon")
    assert code == 2 and "duration" in err


def test_alerts_list_filters_and_formats(cli, store):
    w = make_world(store)
    now = utcnow()
    hit(store, w, now=now)
    hit(store, w, now=now, published_at=now - timedelta(days=10))  # recorded as skipped
    code, out, _ = cli("alerts", "--format", "jsonl")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["status"] for r in rows] == ["skipped", "pending"]  # newest first
    assert rows[1]["desk"] == "kyiv" and rows[1]["targets"] == "0/1"
    code, out, _ = cli("alerts", "--status", "pending", "--format", "csv")
    assert [r["status"] for r in csv.DictReader(io.StringIO(out))] == ["pending"]
    code, out, _ = cli("alerts", "--limit", "1", "--desk", "kyiv")
    assert code == 0 and "skipped" in out and "pending" not in out
    code, out, _ = cli("alerts", "--since", "2999-01-01", "--format", "jsonl")
    assert out == ""
    code, _, err = cli("alerts", "--desk", "nowhere")
    assert code == 1 and "no desk named" in err


def test_alerts_send_and_retry(cli, store, sink):
    w = make_world(store, targets=[sink.url()])
    hit(store, w, now=utcnow())
    sink.mode, sink.status = "status", 410
    code, out, _ = cli("alerts", "send")
    assert code == 0 and "failed: 1" in out
    (a,) = alerts(store)
    assert a.status == "failed"
    sink.mode = "ok"
    code, out, _ = cli("alerts", "retry", str(a.id))
    assert code == 0 and "1 delivery(ies) queued again" in out
    code, out, _ = cli("alerts", "send")
    assert "sent: 1" in out and alerts(store)[0].status == "sent"
    assert [r.json()["alert_id"] for r in sink.requests] == [a.id, a.id]
    code, _, err = cli("alerts", "retry", "999")
    assert code == 1 and "no alert with id 999" in err


def _monitor(db_url: str, tmp_path: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "MONITOR_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT)}
    env.pop("MONITOR_CONFIG", None)
    return subprocess.Popen([sys.executable, "-m", "monitor", "--db", db_url, *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_alerts_send_killed_mid_delivery_then_rerun(db_url, store, sink, tmp_path):
    """SIGKILL while the receiver holds the request: the re-run (after the lease) sends the cut-
    short alert again with the same id, then the rest; nothing is lost, nothing else repeats."""
    w = make_world(store, targets=[sink.url()])
    now = utcnow()
    for _ in range(4):
        hit(store, w, now=now)
    ids = [a.id for a in alerts(store)]
    sink.mode, sink.status, sink.delay = "slow", 200, 30.0  # the first request hangs
    proc = _monitor(db_url, tmp_path, "alerts", "send")
    deadline = time.monotonic() + 60
    while not sink.requests and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)  # waiting for the receiver to hold the request (not a timing assertion)
    assert sink.requests, proc.communicate()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert [r.json()["alert_id"] for r in sink.requests] == ids[:1]
    sink.mode = "ok"
    later = (utcnow() + timedelta(minutes=2)).isoformat()  # past the dead worker's lease
    rerun = _monitor(db_url, tmp_path, "alerts", "send", "--now", later)
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert "sent: 4" in out
    got = [r.json()["alert_id"] for r in sink.requests]
    assert got == [ids[0]] + ids  # one repeat, the same alert id, then the rest in order
    assert all(a.status == "sent" for a in alerts(store))
    head = deliveries(store)[0].id
    assert [x.outcome for x in attempts(store) if x.delivery_id == head] == ["interrupted", "sent"]
