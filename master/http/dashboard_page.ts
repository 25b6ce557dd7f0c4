// The dashboard's page and script: plain HTML and JavaScript, served by the master, no CDN.

/** The page at `/dashboard`. */
export const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cache cluster</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f5f6f8; }
  header { background: #1d2330; color: #fff; padding: 12px 24px; display: flex; gap: 24px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  header a { color: #9cc3ff; }
  main { padding: 16px 24px; display: grid; grid-template-columns: minmax(0, 2fr) minmax(280px, 1fr); gap: 16px; }
  section { background: #fff; border-radius: 8px; padding: 12px 16px; box-shadow: 0 1px 2px #0002; }
  h2 { font-size: 15px; margin: 0 0 8px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eee; white-space: nowrap; }
  td.num, th.num { text-align: right; }
  .status { padding: 1px 8px; border-radius: 10px; font-size: 12px; }
  .up { background: #d8f5de; } .down { background: #ffd9d9; } .leaving, .transferring { background: #fff1c7; }
  .muted { color: #778; }
  #totals span { margin-right: 18px; }
  input { font: inherit; padding: 4px 8px; width: 60%; }
  button { font: inherit; padding: 4px 12px; }
  pre { background: #f5f6f8; padding: 8px; margin: 0; white-space: pre-wrap; word-break: break-all; }
  dl { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 4px 12px; }
  dt { color: #778; } dd { margin: 0; word-break: break-all; }
  [hidden] { display: none; } /* else the grid above would show a hidden list */
</style>
</head>
<body>
<header>
  <h1>Cache cluster</h1>
  <span>leader <b id="leader">…</b></span>
  <span>term <b id="term">…</b> epoch <b id="epoch">…</b></span>
  <span id="settled" class="muted"></span>
  <span class="muted">updated <span id="updated">never</span></span>
  <a href="/reference">API reference</a>
  <form id="auth"><input id="token" type="password" placeholder="admin token, if required" aria-label="admin token" style="width:14em"> <button>Use</button></form>
</header>
<main>
  <section>
    <h2>Nodes</h2>
    <div id="totals" class="muted"></div>
    <table>
      <thead><tr><th>address</th><th>status</th>
      <th class="num" title="Copies of keys held here, as primary or backup">copies</th>
      <th class="num" title="Of those copies, the keys this node is the primary of">primary</th>
      <th class="num">memory</th><th class="num">hit rate</th><th class="num">evictions</th><th>breaker</th><th class="num">ring share</th></tr></thead>
      <tbody id="nodes"></tbody>
    </table>
    <p id="error" class="muted"></p>
  </section>
  <section>
    <h2>Ring</h2>
    <svg id="ring" viewBox="-110 -110 220 220" width="100%" height="260" role="img" aria-label="Each node's share of the key space"></svg>
    <div id="legend"></div>
  </section>
  <section>
    <h2>Key inspector</h2>
    <form id="inspect"><input id="key" placeholder="a key, e.g. user:42" aria-label="key"> <button>Look up</button></form>
    <div id="owners"></div>
    <p id="missing" class="muted" hidden></p>
    <dl id="item" hidden>
      <dt>value</dt><dd><pre id="value"></pre></dd>
      <dt>version</dt><dd><code id="version"></code></dd>
      <dt>ttl</dt><dd id="ttl"></dd>
    </dl>
  </section>
</main>
<script src="/dashboard/app.js"></script>
</body>
</html>
`;

/** The page's script: polls `/dashboard/state` every second and draws it. */
export const SCRIPT = `"use strict";
const $ = (id) => document.getElementById(id);
const colors = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
const text = (value) => document.createTextNode(String(value));
const mib = (bytes) => (bytes / 1048576).toFixed(1) + " MiB";
// The admin token, when the master requires one: entered once, kept for this tab only.
const api = (path) => {
  const token = sessionStorage.getItem("token");
  return fetch(path, { cache: "no-store", headers: token ? { authorization: "Bearer " + token } : {} });
};
$("auth").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem("token", $("token").value);
  $("token").value = "";
  refresh();
});

function cell(content, className) {
  const td = document.createElement("td");
  if (className) td.className = className;
  td.append(content instanceof Node ? content : text(content));
  return td;
}

function drawNodes(state) {
  const rows = state.nodes.map((node) => {
    const tr = document.createElement("tr");
    tr.dataset.address = node.address;
    const badge = document.createElement("span");
    // An up node that has not finished moving keys for this epoch is transferring.
    const status = node.status === "up" && !node.synced ? "transferring" : node.status;
    badge.className = "status " + status;
    badge.textContent = status;
    const s = node.stats;
    const reads = s ? s.hits + s.misses : 0;
    tr.append(
      cell(node.address),
      cell(badge),
      cell(s ? s.keys : "–", "num copies"),
      cell(s ? s.primaryKeys : "–", "num primary"),
      cell(s ? mib(s.bytes) + (s.maxBytes ? " / " + mib(s.maxBytes) : "") : "–", "num"),
      cell(reads ? (100 * s.hits / reads).toFixed(1) + " %" : "–", "num"),
      cell(s ? s.evictions : "–", "num"),
      cell(node.breaker),
      cell(node.share === undefined ? "–" : (100 * node.share).toFixed(1) + " %", "num"),
    );
    return tr;
  });
  $("nodes").replaceChildren(...rows);
  const t = state.totals;
  // Distinct keys are counted once, on their primary; copies count backups too.
  $("totals").replaceChildren(...[
    ["keys", "keys " + t.keys, "Distinct keys, each counted once, on its primary"],
    ["copies", "copies " + t.copies, "Copies stored on all nodes, primaries and backups"],
    ["memory", "memory " + mib(t.bytes)], ["hits", "hits " + t.hits],
    ["misses", "misses " + t.misses], ["evictions", "evictions " + t.evictions],
    ["expired", "expired " + t.expired],
  ].map(([name, label, title]) => {
    const span = document.createElement("span");
    span.id = "total-" + name;
    span.textContent = label;
    if (title) span.title = title;
    return span;
  }));
}

function drawRing(state) {
  const svg = $("ring");
  const ns = "http://www.w3.org/2000/svg";
  const parts = [];
  const legend = [];
  let angle = -Math.PI / 2;
  state.nodes.filter((n) => n.share).forEach((node, i) => {
    const sweep = node.share * 2 * Math.PI;
    const end = angle + sweep;
    const large = sweep > Math.PI ? 1 : 0;
    const [x1, y1, x2, y2] = [100 * Math.cos(angle), 100 * Math.sin(angle), 100 * Math.cos(end), 100 * Math.sin(end)];
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", node.share > 0.9999 ? "M 0 -100 A 100 100 0 1 1 -0.01 -100 Z"
      : "M 0 0 L " + x1 + " " + y1 + " A 100 100 0 " + large + " 1 " + x2 + " " + y2 + " Z");
    path.setAttribute("fill", colors[i % colors.length]);
    const title = document.createElementNS(ns, "title");
    title.textContent = node.address + ": " + (100 * node.share).toFixed(1) + " %";
    path.append(title);
    parts.push(path);
    const item = document.createElement("div");
    item.innerHTML = '<span style="display:inline-block;width:10px;height:10px;background:' + colors[i % colors.length] + '"></span> ';
    item.append(text(node.address + " " + (100 * node.share).toFixed(1) + " %"));
    legend.push(item);
    angle = end;
  });
  const hole = document.createElementNS(ns, "circle");
  hole.setAttribute("r", "55");
  hole.setAttribute("fill", "#fff");
  parts.push(hole);
  svg.replaceChildren(...parts);
  $("legend").replaceChildren(...legend);
}

async function refresh() {
  try {
    const answer = await api("/dashboard/state");
    if (!answer.ok) throw new Error((await answer.json()).error);
    const state = await answer.json();
    const { election } = state;
    $("leader").textContent = election.leading
      ? "this master" + (election.mode === "none" ? "" : " (" + election.self + ")")
      : election.leader ?? "none elected";
    $("term").textContent = election.term;
    $("epoch").textContent = state.epoch;
    $("settled").textContent = state.settled ? "keys settled" : "keys moving";
    $("updated").textContent = new Date().toLocaleTimeString();
    $("error").textContent = "";
    drawNodes(state);
    drawRing(state);
  } catch (error) {
    $("error").textContent = "Could not refresh: " + error.message;
  }
}

// A read's ttl is seconds left, fractions included; a key read without one never expires.
function ttlText(ttl) {
  if (ttl === undefined) return "never expires";
  const at = new Date(Date.now() + ttl * 1000);
  return ttl.toFixed(1) + " s left (expires " + at.toLocaleString() + ")";
}

// Shows what a lookup found: the item, or the reason there is none. All of it as text.
function drawItem(found) {
  const stored = found.status === 200;
  $("item").hidden = !stored;
  $("missing").hidden = stored;
  if (!stored) {
    $("missing").textContent = found.body.error ?? "Could not look the key up: " + found.status;
    return;
  }
  $("value").textContent = found.body.value;
  $("version").textContent = found.body.version;
  $("ttl").textContent = ttlText(found.body.ttl);
}

// Answers to quick successive lookups may come back out of order: only the latest is drawn.
let lookups = 0;
$("inspect").addEventListener("submit", async (event) => {
  event.preventDefault();
  const key = $("key").value;
  if (!key) return;
  const lookup = ++lookups;
  if (key === "." || key === "..") { // the browser would resolve it out of the path
    $("owners").replaceChildren();
    drawItem({ status: 400, body: { error: 'Key must not be "." or "..": a URL path cannot carry it' } });
    return;
  }
  const path = encodeURIComponent(key);
  $("item").hidden = true;
  $("missing").hidden = true;
  let owners, found;
  try {
    [owners, found] = await Promise.all([
      api("/ring/owners/" + path).then((r) => r.json()),
      api("/keys/" + path).then(async (r) => ({ status: r.status, body: await r.json() })),
    ]);
  } catch (error) {
    if (lookup !== lookups) return;
    $("owners").replaceChildren();
    drawItem({ status: 0, body: { error: "Could not look the key up: " + error.message } });
    return;
  }
  if (lookup !== lookups) return;
  const list = document.createElement("ol");
  for (const [i, owner] of (owners.owners || []).entries()) {
    const li = document.createElement("li");
    li.textContent = owner + (i === 0 ? " (primary)" : " (backup)");
    list.append(li);
  }
  $("owners").replaceChildren(owners.error ? text(owners.error) : list);
  drawItem(found);
});

refresh();
setInterval(refresh, 1000);
`;
