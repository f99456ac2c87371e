/* The leaderboard page: status, sortable table and the top teams' equity, polled every 5 s. */
"use strict";

const POLL_MS = 5000;
const TOP_N = 10;
const table = document.getElementById("board");
const chart = new QTC.EquityChart(document.getElementById("chart"));
let rows = [];
let sort = { key: "rank", ascending: true };

function compare(a, b, key, type) {
  const x = a[key], y = b[key];
  if (x === null || x === undefined) return 1;  // nulls last, whatever the direction
  if (y === null || y === undefined) return -1;
  const order = type === "text" ? String(x).localeCompare(String(y)) : Number(x) - Number(y);
  return sort.ascending ? order : -order;
}

function render() {
  const header = table.querySelector(`th[data-key="${sort.key}"]`);
  const sorted = [...rows].sort((a, b) => compare(a, b, sort.key, header.dataset.type));
  const body = table.tBodies[0];
  body.replaceChildren();
  for (const team of sorted) {
    const tr = document.createElement("tr");
    tr.dataset.team = team.team_id;
    QTC.cell(tr, team.rank);
    QTC.cell(tr, team.team_id, "text");
    QTC.cell(tr, QTC.money(team.equity));
    QTC.cell(tr, QTC.num(team.return_pct, 4), QTC.signClass(team.return_pct));
    QTC.cell(tr, QTC.num(team.sharpe));
    QTC.cell(tr, QTC.num(team.max_drawdown_pct));
    QTC.cell(tr, team.fills);
    QTC.cell(tr, team.open_orders);
    body.appendChild(tr);
  }
  for (const th of table.tHead.rows[0].cells) {
    th.setAttribute("aria-sort", th.dataset.key === sort.key
      ? (sort.ascending ? "ascending" : "descending") : "none");
  }
}

function setUpSorting() {
  for (const th of table.tHead.rows[0].cells) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = th.textContent;
    th.replaceChildren(button);
    button.addEventListener("click", () => {
      const key = th.dataset.key;
      // text and rank read best first ascending; other numbers are best first descending
      const natural = key === "rank" || th.dataset.type === "text" || key === "max_drawdown_pct";
      sort = { key, ascending: sort.key === key ? !sort.ascending : natural };
      render();
    });
  }
}

function showStatus(status) {
  const line = document.getElementById("status");
  line.replaceChildren();
  const market = document.createElement("span");
  market.className = `pill ${status.market_open ? "open" : "closed"}`;
  market.id = "market";
  market.textContent = status.market_open ? "market open" : "market closed";
  const minute = document.createElement("span");
  minute.id = "last-minute";
  minute.textContent = ` last minute processed: ${QTC.time(status.last_minute_processed)}`;
  const running = document.createElement("span");
  running.textContent = status.running === false ? " · stopped" : "";
  line.append(market, minute, running);
}

async function refresh() {
  try {
    const [status, board] = await Promise.all([
      QTC.getJSON("/api/v1/status"), QTC.getJSON("/api/v1/leaderboard"),
    ]);
    showStatus(status);
    rows = board.teams;
    render();
    const top = [...rows].sort((a, b) => a.rank - b.rank).slice(0, TOP_N).map((t) => t.team_id);
    document.getElementById("top-n").textContent = String(top.length);
    if (top.length) {
      const query = top.map((t) => `team=${encodeURIComponent(t)}`).join("&");
      const history = await QTC.getJSON(`/api/v1/leaderboard/history?points=200&${query}`);
      chart.draw(history.teams);
    }
    document.body.dataset.updated = new Date().toISOString();
  } catch (error) {
    document.getElementById("status").textContent = `Cannot reach the API: ${error.message}`;
  }
}

setUpSorting();
refresh();
setInterval(refresh, POLL_MS);
