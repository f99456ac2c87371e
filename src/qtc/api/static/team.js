/* The team console: sign in with the key (session storage, X-API-Key header only), then the
   portfolio, orders, fills, errors, equity and strategy versions (upload, activate, roll back),
   refreshed on each event of the team's SSE stream (read with fetch so the key travels as a
   header; EventSource cannot send one). */
"use strict";

const STORE = "qtc.team_key";
const $ = (id) => document.getElementById(id);
const chart = new QTC.EquityChart($("chart"));
let team = null;
let key = null;
let stream = null;
let lastEventId = null;
let pending = null;
let shownVersions = "";

const headers = () => ({ "X-API-Key": key });
const api = (path) => `/api/v1/team/${encodeURIComponent(team)}${path}`;

function fillTable(id, items, columns) {
  const body = $(id).tBodies[0];
  body.replaceChildren();
  for (const item of items) {
    const tr = document.createElement("tr");
    for (const [value, className] of columns(item)) QTC.cell(tr, value ?? "—", className);
    body.appendChild(tr);
  }
  return body;
}

function showPortfolio(book) {
  const fields = [["Equity", book.equity], ["Cash", book.cash], ["Free cash", book.free_cash],
    ["Reserved", book.reserved_cash], ["Positions value", book.positions_value],
    ["Realized P&L", book.realized_pnl], ["Unrealized P&L", book.unrealized_pnl],
    ["Return %", book.return_pct]];
  $("summary").replaceChildren(...fields.map(([label, value]) => {
    const div = document.createElement("div");
    const span = document.createElement("span");
    span.textContent = label;
    div.append(span, QTC.money(value));
    div.dataset.field = label;
    return div;
  }));
  fillTable("positions", book.positions, (p) => [[p.symbol, "text"], [p.quantity],
    [QTC.money(p.avg_cost)], [QTC.money(p.price)], [QTC.money(p.market_value)],
    [QTC.money(p.unrealized_pnl), QTC.signClass(p.unrealized_pnl)]]);
}

// "stop_limit", with its group: "limit (bracket leg)", "market (bracket)"
function kind(o) {
  if (!o.order_class) return o.order_type;
  return `${o.order_type} (${o.order_class}${o.parent_id ? " leg" : ""})`;
}

// the prices that make the order: "stop 99.5 limit 99", "trail 0.5%", "$1000"
function terms(o) {
  const parts = [];
  if (o.notional) parts.push(`$${o.notional}`);
  if (o.stop_price) parts.push(`stop ${o.stop_price}`);
  if (o.limit_price) parts.push(`limit ${o.limit_price}`);
  if (o.trail_price) parts.push(`trail ${o.trail_price}`);
  if (o.trail_percent) parts.push(`trail ${o.trail_percent}%`);
  return parts.join(" ") || "market";
}

function showOpenOrders(orders) {
  const body = fillTable("open-orders", orders, (o) => [[o.order_id, "text"], [o.symbol],
    [o.side], [o.quantity], [kind(o), "text"], [terms(o), "text"], [o.filled_qty],
    [o.status]]);
  orders.forEach((order, i) => {
    const row = body.rows[i];
    row.dataset.order = order.order_id;
    const td = document.createElement("td");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "action";
    button.textContent = "Cancel";
    button.setAttribute("aria-label", `Cancel order ${order.order_id}`);
    button.disabled = order.status === "pending_cancel";
    button.addEventListener("click", () => cancel(order.order_id, button));
    td.appendChild(button);
    row.appendChild(td);
  });
}

async function cancel(orderId, button) {
  button.disabled = true;
  const answer = $("cancel-answer");
  try {
    const response = await fetch(api(`/orders/${encodeURIComponent(orderId)}`),
      { method: "DELETE", headers: headers() });
    const body = await response.json().catch(() => ({}));
    answer.className = response.ok ? "" : "error";
    answer.textContent = response.ok
      ? `${body.message} (status: ${body.status})`
      : `Cancel of ${orderId} refused: ${response.status} ${body.detail ?? ""} ${body.status ?? ""}`;
  } catch (error) {
    answer.className = "error";
    answer.textContent = `Cancel of ${orderId} failed: ${error.message}`;
  }
  scheduleRefresh();
}

async function refresh() {
  const [book, open, orders, trades, errors] = await Promise.all([
    QTC.getJSON(api("/portfolio"), headers()),
    QTC.getJSON(api("/orders/open"), headers()),
    QTC.getJSON(api("/orders?limit=100"), headers()),
    QTC.getJSON(api("/trades?limit=100"), headers()),
    QTC.getJSON(api("/errors?limit=50"), headers()),
  ]);
  showPortfolio(book);
  showOpenOrders(open.orders);
  const rows = fillTable("orders", orders.orders, (o) => [[o.order_id, "text"], [o.symbol],
    [o.side], [o.quantity], [kind(o), "text"], [terms(o), "text"], [o.filled_qty],
    [QTC.money(o.filled_avg_price)], [o.status], [QTC.time(o.updated_at)]]);
  orders.orders.forEach((o, i) => { rows.rows[i].dataset.order = o.order_id; });
  fillTable("fills", trades.trades, (t) => [[QTC.time(t.timestamp), "text"], [t.symbol],
    [t.side], [t.quantity], [QTC.money(t.execution_price)], [t.order_id]]);
  fillTable("errors", errors.errors, (e) => [[QTC.time(e.timestamp), "text"],
    [e.message ?? JSON.stringify(e), "text"]]);
  showStrategy();
  const history = await QTC.getJSON(`/api/v1/leaderboard/history?points=200&team=${encodeURIComponent(team)}`);
  chart.draw(history.teams);
  document.body.dataset.updated = new Date().toISOString();
}

/* The active strategy version, flagged when it keeps failing, and the Strategy panel's
   versions (absent under `qtc serve`, which takes no uploads). */
async function showStrategy() {
  const line = $("strategy");
  let info;
  try {
    info = await QTC.getJSON(api("/strategy"), headers());
  } catch (e) {
    line.hidden = true;
    $("strategy-panel").hidden = true;
    return;
  }
  const failing = info.failing ? ` (FAILING for ${info.failure.consecutive_minutes} minutes)` : "";
  line.textContent = `Strategy: v${info.active} of ${info.versions.length}${failing}`;
  line.classList.toggle("bad", info.failing);
  line.hidden = info.active === null;
  $("strategy-panel").hidden = false;
  showVersions(info);
}

/* Rebuilt only when something changed, so a focused button keeps its focus between refreshes. */
function showVersions(info) {
  const seen = JSON.stringify([info.active, info.failing, info.versions]);
  if (seen === shownVersions) return;
  shownVersions = seen;
  const newest = [...info.versions].reverse();
  const state = (v) => {
    if (v.version !== info.active) return "";
    return info.failing ? "active · FAILING" : "active";
  };
  const body = fillTable("versions", newest, (v) => [[`v${v.version}`, "text"],
    [QTC.time(v.created_at)], [v.size], [v.entry, "text"], [v.uploaded_by, "text"],
    [v.sha256.slice(0, 12), "text"], [state(v), info.failing && v.version === info.active ? "bad" : ""]]);
  newest.forEach((v, i) => {
    const row = body.rows[i];
    row.dataset.version = v.version;
    if (v.version === info.active) row.dataset.active = "true";
    row.cells[5].title = v.sha256;
    const td = document.createElement("td");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "action";
    button.textContent = "Activate";
    button.setAttribute("aria-label", `Activate v${v.version}`);
    button.disabled = v.version === info.active;
    button.addEventListener("click", () => strategyCall("/strategy/activate", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ version: v.version }),
    }));
    td.appendChild(button);
    row.appendChild(td);
  });
}

/* One call of the strategy API; its answer (the reasons of a 422, the wait of a 429) goes
   in the panel, and the versions are read again. */
async function strategyCall(path, init) {
  const answer = $("strategy-answer");
  const controls = $("strategy-panel").querySelectorAll("button");
  controls.forEach((b) => { b.dataset.was = b.disabled; b.disabled = true; });
  answer.className = "";
  answer.textContent = "…";
  try {
    const response = await fetch(api(path),
      { ...init, headers: { ...headers(), ...(init.headers ?? {}) }, cache: "no-store" });
    const body = await response.json().catch(() => ({}));
    answer.className = response.ok ? "" : "error";
    if (response.ok) {
      answer.textContent = body.message ?? `${response.status}`;
    } else if (response.status === 422 && Array.isArray(body.reasons)) {
      const list = document.createElement("ul");
      for (const reason of body.reasons) {
        const item = document.createElement("li");
        item.textContent = reason;
        list.appendChild(item);
      }
      const title = document.createElement("p");
      title.textContent = "Refused (nothing changed):";
      answer.replaceChildren(title, list);
    } else if (response.status === 429) {
      answer.textContent = `Too many uploads: try again in ${response.headers.get("Retry-After") ?? "a few"} s`;
    } else {
      const detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail ?? "");
      answer.textContent = `Refused: ${response.status} ${detail}`;
    }
    return response.ok;
  } catch (error) {
    answer.className = "error";
    answer.textContent = `Failed: ${error.message}`;
    return false;
  } finally {
    controls.forEach((b) => { b.disabled = b.dataset.was === "true"; delete b.dataset.was; });
    shownVersions = "";
    await showStrategy();
  }
}

$("upload-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData();
  for (const file of $("upload-files").files) form.append("file", file, file.name);
  const entry = $("upload-entry").value.trim();
  if (entry) form.append("entry", entry);
  if (await strategyCall("/strategy", { method: "POST", body: form })) event.target.reset();
});
$("rollback").addEventListener("click", () => strategyCall("/strategy/rollback", { method: "POST" }));

/* Many events in a burst (a fill and its order update) make one refresh. */
function scheduleRefresh() {
  if (pending) return;
  pending = setTimeout(() => {
    pending = null;
    refresh().catch((error) => { $("live").textContent = `Refresh failed: ${error.message}`; });
  }, 150);
}

function onEvent(message) {
  if (message.id) lastEventId = message.id;
  if (message.event === "order" || message.event === "fill" || message.event === "reset") {
    $("live").textContent = `live · last event ${message.event} #${lastEventId}`;
    scheduleRefresh();
  }
}

/* Reads `text/event-stream` with fetch, resuming with Last-Event-ID after a drop. */
async function follow() {
  const controller = new AbortController();
  stream = controller;
  while (stream === controller) {
    try {
      const extra = lastEventId ? { "Last-Event-ID": lastEventId } : {};
      const response = await fetch(api("/orders/stream"),
        { headers: { ...headers(), ...extra, Accept: "text/event-stream" }, signal: controller.signal });
      if (!response.ok) throw new Error(`stream answered ${response.status}`);
      $("live").textContent = "live";
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n?/g, "\n");
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const message = { event: "message", data: "" };
          for (const line of block.split("\n")) {
            if (!line || line.startsWith(":")) continue;
            const colon = line.indexOf(":");
            const field = colon < 0 ? line : line.slice(0, colon);
            const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
            if (field === "data") message.data += text;
            else if (field === "id" || field === "event") message[field] = text;
          }
          onEvent(message);
        }
      }
    } catch (error) {
      if (stream !== controller) return;
      $("live").textContent = `reconnecting (${error.message})`;
    }
    await new Promise((resolve) => setTimeout(resolve, 3000));
  }
}

async function signIn(candidate) {
  const who = await QTC.getJSON("/api/v1/whoami", { "X-API-Key": candidate });
  key = candidate;
  team = who.team_id;
  sessionStorage.setItem(STORE, key);
  $("team-name").textContent = `· ${team}`;
  $("login").hidden = true;
  $("console").hidden = false;
  await refresh();
  follow();
}

function signOut() {
  sessionStorage.removeItem(STORE);
  if (stream) stream.abort();
  stream = null;
  key = team = lastEventId = null;
  shownVersions = "";
  $("strategy-answer").replaceChildren();
  $("team-name").textContent = "";
  $("live").textContent = "";
  $("console").hidden = true;
  $("login").hidden = false;
  $("key").focus();
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("login-error").textContent = "";
  try {
    await signIn($("key").value.trim());
    $("key").value = "";
  } catch (error) {
    signOut();
    $("login-error").textContent = `Sign-in refused: ${error.message}`;
  }
});
$("logout").addEventListener("click", signOut);

const saved = sessionStorage.getItem(STORE);
if (saved) signIn(saved).catch(signOut);
