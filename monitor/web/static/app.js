// monitor web UI: live feed, live query validation, test and backtest. No inline script anywhere
// (the CSP forbids it); data from the server is inserted only as server-rendered, escaped HTML
// fragments or through textContent.
"use strict";
(function () {
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  async function post(url, data) {
    const resp = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {"X-CSRF-Token": csrf, "X-Requested-With": "fetch",
                "Content-Type": "application/x-www-form-urlencoded"},
      body: new URLSearchParams(data),
    });
    return resp.json();
  }

  // ---- times: the server writes UTC; show each in the reader's time zone (UTC in the tooltip).
  // Times the server already wrote in a desk's zone (data-tz) stay as they are.
  const pad = (n) => String(n).padStart(2, "0");
  function localize(root) {
    root.querySelectorAll("time[datetime]:not([data-local]):not([data-tz])").forEach((el) => {
      const d = new Date(el.getAttribute("datetime"));
      if (Number.isNaN(d.getTime())) return;
      const offset = -d.getTimezoneOffset();
      const zone = offset === 0 ? "UTC" : `UTC${offset > 0 ? "+" : "-"}${pad(Math.floor(Math.abs(offset) / 60))}` +
        (Math.abs(offset) % 60 ? `:${pad(Math.abs(offset) % 60)}` : "");
      el.title = el.textContent;
      el.textContent = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
        `${pad(d.getHours())}:${pad(d.getMinutes())} ${zone}`;
      el.dataset.local = "1";
    });
  }
  localize(document);

  // ---- live feed: poll for hits newer than the newest shown. Story cards: a story with new
  // hits is re-rendered and moves to the top; single hits are prepended.
  const live = document.getElementById("live-status");
  const stories = live && live.dataset.mode === "stories";
  const list = document.getElementById(stories ? "stories" : "hits");
  if (live && list) {
    let last = live.dataset.lastId || "0";
    const filter = live.dataset.filter || "";
    const tick = async () => {
      try {
        const resp = await fetch(`/api/hits?after=${encodeURIComponent(last)}&${filter}`,
                                 {credentials: "same-origin"});
        if (resp.ok) {
          const data = await resp.json();
          if (data.count > 0) {
            if (stories) {
              (data.stories || []).forEach((id) => {
                const old = document.getElementById(`story-${id}`);
                if (old) old.remove();
              });
            }
            list.insertAdjacentHTML("afterbegin", data.html);
            localize(list);
            const empty = document.getElementById("no-hits");
            if (empty) empty.remove();
            live.textContent = stories ? `Live: ${data.count} story(ies) with new hits just now.`
                                       : `Live: ${data.count} new hit(s) just arrived.`;
          }
          last = String(data.last_id);
        }
      } catch (e) { /* offline for a moment: try again on the next tick */ }
      setTimeout(tick, 2000);
    };
    setTimeout(tick, 2000);
  }

  // ---- term editor
  const query = document.getElementById("query");
  const status = document.getElementById("query-status");
  if (query && status) {
    let timer = null;
    const show = (res) => {
      status.textContent = "";
      status.className = "query-status " + (res.ok ? "ok" : "bad");
      if (res.ok) { status.textContent = "Query is valid."; return; }
      const q = query.value, pos = Math.max(0, Math.min(res.position || 0, q.length));
      const msg = document.createElement("span");
      msg.className = "query-error";
      msg.textContent = `${res.message || "invalid query"} (at ${pos}${res.expected ? ", expected " + res.expected : ""}) `;
      const code = document.createElement("code");
      code.className = "query-pointer";
      code.append(q.slice(0, pos));
      const at = document.createElement("mark");
      at.className = "error-at";
      at.textContent = q.slice(pos, pos + 1) || " ";
      code.append(at, q.slice(pos + 1));
      status.append(msg, code);
      status.dataset.position = String(pos);
    };
    const check = async () => {
      if (!query.value.trim()) { status.textContent = ""; return; }
      try { show(await post("/api/validate", {query: query.value})); } catch (e) { /* ignore */ }
    };
    query.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(check, 250); });
    if (query.value.trim()) check();
  }

  const tools = document.getElementById("tools");
  if (tools && query) {
    const run = async (url, data, out) => {
      out.textContent = "Working…";
      try {
        const res = await post(url, data);
        if (res.ok === false || res.error) {
          out.textContent = res.message || res.error || "failed";
          out.className = "bad";
        } else {
          out.className = "";
          out.innerHTML = res.html; // server-rendered with autoescape; marks re-sanitized
          localize(out);
        }
      } catch (e) { out.textContent = "Request failed."; }
    };
    document.getElementById("test-run").addEventListener("click", () =>
      run("/api/test", {query: query.value, title: document.getElementById("test-title").value,
                        text: document.getElementById("test-text").value},
          document.getElementById("test-result")));
    document.getElementById("backtest-run").addEventListener("click", () =>
      run("/api/backtest", {query: query.value, term: tools.dataset.term || "",
                            days: document.getElementById("backtest-days").value},
          document.getElementById("backtest-result")));
  }
})();
