#pragma once
// The console's one page (`fab serve`, engine/console.h): plain HTML, CSS and JS, no build step.
// It reads the JSON API and re-reads it on every "change" event from /events, so it follows a
// running factory without a reload. Views (by the URL's hash):
//   #/                    lines with counts per state, every item (id="item-<id>", data-state),
//                         throughput (merged per minute, time per state), the op log with causes
//   #/item/<line>/<item>  the item's attempts, feedback, drop reason (id="drop-reason"), diff and
//                         transcript tail; a Retry button with steering on
// A steering token in the URL (#token=..., as `fab serve --allow-steer` prints it) is kept in the
// tab's sessionStorage. window.fabSeen records every state the page showed for each item.
namespace fab::engine {

inline constexpr const char* kConsolePage = R"FABPAGE(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fab console</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#1d2330;color:#fff;padding:10px 20px;display:flex;gap:16px;align-items:center}
header h1{font-size:18px;margin:0} header a{color:#fff;text-decoration:none}
#live{font-size:12px;padding:2px 8px;border-radius:10px;background:#555}
#live.on{background:#2e7d32}
main{padding:16px 20px;display:grid;gap:16px}
section{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:12px 16px}
h2{font-size:15px;margin:0 0 8px} table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:3px 8px;border-bottom:1px solid #eef0f3;vertical-align:top}
th{font-weight:600;color:#555;font-size:12px}
.state{padding:1px 7px;border-radius:9px;font-size:12px;background:#e3e7ee}
.state-merged{background:#c8e6c9}.state-dropped{background:#ffcdd2}.state-rework{background:#ffe0b2}
.state-building,.state-inspecting,.state-refining{background:#bbdefb}
pre{background:#f3f4f6;padding:8px;overflow:auto;max-height:360px;font-size:12px;white-space:pre-wrap}
*{box-sizing:border-box} .muted{color:#777}.err{color:#b71c1c}
.grid2{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:16px} svg{width:100%;height:auto}
button{cursor:pointer}
</style></head>
<body>
<header><h1><a href="#/">fab console</a></h1><span id="live">connecting</span>
<span id="summary" class="muted"></span><span style="flex:1"></span>
<button id="stop" hidden>Stop the run</button></header>
<main id="view"><p class="muted">loading…</p></main>
<script>
"use strict";
window.fabPageId = Math.random().toString(36).slice(2);
window.fabSeen = {};
window.fabRenders = 0;
const STATES = ["queued","building","inspecting","rework","refining","merged","dropped"];
let steer = false;
(function keepToken() {
  const m = location.hash.match(/token=([0-9a-f]+)/);
  if (m) { sessionStorage.setItem("fabToken", m[1]); location.hash = "#/"; }
})();
const token = () => sessionStorage.getItem("fabToken") || "";
const esc = s => String(s ?? "").replace(/[&<>"']/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;","'":"&#39;"}[c]));
const badge = s => `<span class="state state-${esc(s)}">${esc(s)}</span>`;
async function get(path) {
  const r = await fetch(path, {cache: "no-store"});
  const j = await r.json();
  if (!r.ok) throw new Error(j.error + (j.hint ? " (" + j.hint + ")" : ""));
  return j;
}
async function post(path) {
  const r = await fetch(path, {method: "POST", body: "{}", headers: {"Authorization": "Bearer " + token(), "Content-Type": "application/json"}});
  const j = await r.json();
  if (!r.ok) alert(j.error + (j.hint ? "\n" + j.hint : ""));
  return j;
}
function seen(id, state) {
  const s = window.fabSeen[id] || (window.fabSeen[id] = []);
  if (s[s.length - 1] !== state) s.push(state);
}
function ms(n) { return n < 1000 ? n + " ms" : n < 60000 ? (n / 1000).toFixed(1) + " s" : Math.floor(n / 60000) + "m" + String(Math.floor(n / 1000) % 60).padStart(2, "0") + "s"; }
function bars(rows, label, value, fmt) {
  const max = Math.max(1, ...rows.map(value)), w = 560, bh = 18;
  const h = rows.length * (bh + 4) + 4;
  let svg = `<svg viewBox="0 0 ${w} ${h}" role="img">`;
  rows.forEach((r, i) => {
    const y = 4 + i * (bh + 4), bw = Math.round((w - 220) * value(r) / max);
    svg += `<text x="0" y="${y + 13}" font-size="12">${esc(label(r))}</text>` +
           `<rect x="150" y="${y}" width="${bw}" height="${bh}" fill="#5c8dd6"></rect>` +
           `<text x="${156 + bw}" y="${y + 13}" font-size="12">${esc(fmt(value(r)))}</text>`;
  });
  return svg + "</svg>";
}
async function renderHome() {
  const [lines, through, oplog] = await Promise.all([get("/api/lines"), get("/api/throughput"), get("/api/oplog?limit=30")]);
  const itemLists = await Promise.all(lines.map(l => get(`/api/lines/${encodeURIComponent(l.id)}/items`)));
  let html = `<section><h2>Lines</h2><table id="lines"><tr><th>line</th><th>blueprint</th>` +
             STATES.map(s => `<th>${s}</th>`).join("") + `<th>total</th></tr>`;
  for (const l of lines) {
    html += `<tr id="line-${esc(l.id)}"><td>${esc(l.id)}${l.dropped ? " <span class='muted'>(dropped)</span>" : ""}</td>` +
            `<td>${esc(l.blueprint)}</td>` + STATES.map(s => `<td>${l.counts[s] || ""}</td>`).join("") + `<td>${l.total}</td></tr>`;
  }
  html += `</table></section><section><h2>Items</h2><table id="items"><tr><th>item</th><th>title</th><th>state</th><th>attempts</th><th>change</th><th>why dropped</th></tr>`;
  for (const list of itemLists) {
    for (const it of list.items) {
      seen(it.id, it.state);
      html += `<tr id="item-${esc(it.id)}" data-state="${esc(it.state)}"><td><a href="#/item/${esc(it.id.split(".")[0])}/${esc(it.id)}">${esc(it.id)}</a></td>` +
              `<td>${esc(it.title)}</td><td>${badge(it.state)}</td><td>${it.attempts}</td>` +
              `<td class="muted">${esc((it.change_id || "-").slice(0, 12))}</td><td class="err">${esc(it.drop_reason || "")}</td></tr>`;
    }
  }
  html += `</table></section><div class="grid2"><section><h2>Merged per minute</h2>` +
          (through.merged_per_minute.length ? bars(through.merged_per_minute, r => r.minute.replace("T", " "), r => r.merged, String)
                                            : `<p class="muted">nothing merged yet</p>`) +
          `</section><section><h2>Time spent per state</h2>` +
          bars(STATES.filter(s => s !== "merged" && s !== "dropped").map(s => ({s, v: through.ms_in_state[s] || 0})), r => r.s, r => r.v, ms) +
          `</section></div><section><h2>Operation log</h2><table id="oplog"><tr><th>operation</th><th>time</th><th>cause</th><th>description</th></tr>`;
  for (const op of oplog) {
    html += `<tr><td class="muted">${esc(op.op.slice(0, 12))}</td><td>${esc(op.time)}</td>` +
            `<td>${op.fab ? esc(op.cause || "") : "<span class='muted'>(not fab)</span>"}</td><td>${esc(op.description)}</td></tr>`;
  }
  html += `</table></section>`;
  const total = {};
  lines.forEach(l => STATES.forEach(s => total[s] = (total[s] || 0) + (l.counts[s] || 0)));
  document.getElementById("summary").textContent = STATES.filter(s => total[s]).map(s => `${s} ${total[s]}`).join(" · ");
  return html;
}
async function renderItem(line, id) {
  const it = await get(`/api/items/${encodeURIComponent(line)}/${encodeURIComponent(id)}`);
  seen(it.id, it.state);
  let html = `<section><h2>Item ${esc(it.id)}: ${esc(it.title)}</h2>` +
             `<p id="item-state" data-state="${esc(it.state)}">${badge(it.state)} · ${it.attempts} attempt(s) · change <code>${esc(it.change_id || "-")}</code></p>`;
  if (it.drop_reason) html += `<p>Dropped: <span id="drop-reason" class="err">${esc(it.drop_reason)}</span></p>`;
  if (steer && it.state === "dropped") html += `<button id="retry">Retry this item</button>`;
  html += `</section><section><h2>Attempts</h2>`;
  for (const a of it.attempt_records) {
    html += `<h3>round ${a.round}, attempt ${a.attempt} ${a.outcome ? "→ " + badge(a.outcome) : "(under way)"} ` +
            `<span class="muted">${esc(a.started)} ${a.wall_ms != null ? ms(a.wall_ms) : ""}</span></h3>` +
            `<table><tr><th>step</th><th>plugin</th><th>result</th><th>time</th><th>summary</th></tr>` +
            a.steps.map(s => `<tr><td>${esc(s.step)}</td><td>${esc(s.plugin || "-")}</td><td>${s.ok ? "ok" : "<span class='err'>failed</span>"}</td>` +
                             `<td>${s.ms != null ? ms(s.ms) : "-"}</td><td>${esc((s.path ? s.path + ": " : "") + s.summary)}</td></tr>`).join("") +
            `</table>` + (a.feedback ? `<p>feedback:</p><pre class="feedback">${esc(a.feedback)}</pre>` : "");
  }
  if (!it.attempt_records.length) html += `<p class="muted">no attempts yet</p>`;
  html += `</section><section><h2>Diff</h2><pre id="diff">${esc(it.diff === "" ? "(the change is empty)" : it.diff ?? it.diff_error ?? "(no change)")}</pre></section>` +
          `<section><h2>Transcript (last attempt)</h2><pre id="transcript">${esc(it.transcript ?? "(none)")}</pre></section>` +
          `<section><h2>History</h2><table>` + it.history.map(h => `<tr><td class="muted">${esc(h.time)}</td><td>${esc(h.event)}</td><td>${esc(h.detail)}</td></tr>`).join("") + `</table></section>`;
  return html;
}
let rendering = false, again = false;
async function render() {
  if (rendering) { again = true; return; }
  rendering = true;
  try {
    const m = location.hash.match(/^#\/item\/([^/]+)\/([^/]+)$/);
    const html = m ? await renderItem(decodeURIComponent(m[1]), decodeURIComponent(m[2])) : await renderHome();
    document.getElementById("view").innerHTML = html;
    const retry = document.getElementById("retry");
    if (retry) retry.onclick = async () => { await post(`/api/items/${encodeURIComponent(m[1])}/${encodeURIComponent(m[2])}/retry`); render(); };
    window.fabRenders++;
  } catch (e) {
    document.getElementById("view").innerHTML = `<section><p class="err" id="error">${esc(e.message)}</p></section>`;
  } finally {
    rendering = false;
    if (again) { again = false; render(); }
  }
}
async function start() {
  try { steer = (await get("/api/steer")).allowed && token() !== ""; } catch (e) {}
  const stop = document.getElementById("stop");
  stop.hidden = !steer;
  stop.onclick = () => post("/api/stop");
  window.addEventListener("hashchange", render);
  await render();
  const live = document.getElementById("live");
  const events = new EventSource("/events");
  events.addEventListener("change", () => render());
  events.onopen = () => { live.textContent = "live"; live.className = "on"; };
  events.onerror = () => { live.textContent = "reconnecting"; live.className = ""; };
}
window.addEventListener("load", () => setTimeout(start, 0));
</script></body></html>
)FABPAGE";

}  // namespace fab::engine
