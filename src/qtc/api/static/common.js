/* Shared by the pages: fetching JSON, formatting decimals and times, the equity chart. */
"use strict";

const QTC = {
  async getJSON(url, headers = {}) {
    const answer = await fetch(url, { headers, cache: "no-store" });
    let body = null;
    try { body = await answer.json(); } catch (e) { body = null; }
    if (!answer.ok) {
      const detail = body && body.detail ? body.detail : answer.statusText;
      const error = new Error(`${answer.status}: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
      error.status = answer.status;
      throw error;
    }
    return body;
  },

  /* Money and quantities arrive as decimal strings: shown as given, grouped for reading. */
  money(value) {
    if (value === null || value === undefined) return "—";
    const [whole, frac] = String(value).split(".");
    const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return frac === undefined ? grouped : `${grouped}.${frac}`;
  },

  num(value, digits = 2) {
    if (value === null || value === undefined || value === "") return "—";
    const n = Number(value);
    return Number.isFinite(n) ? n.toFixed(digits) : String(value);
  },

  signClass(value) {
    const n = Number(value);
    return n > 0 ? "good" : n < 0 ? "bad" : "";
  },

  time(iso) {
    return iso ? String(iso).replace("T", " ").replace(/(\.\d+)?(\+00:00|Z)$/, " UTC") : "—";
  },

  cell(row, text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  },

  COLORS: ["#6cb6ff", "#5fd38d", "#ffb454", "#ff7b72", "#d2a8ff", "#56d4dd", "#f778ba",
    "#e3b341", "#a5d6ff", "#7ee787"],

  /* One uPlot chart of equity curves (history's {team_id, times, equity}), redrawn in place. */
  EquityChart: class {
    constructor(element) { this.element = element; this.plot = null; this.names = ""; }

    draw(curves) {
      const seconds = (iso) => Date.parse(iso) / 1000;
      const times = [...new Set(curves.flatMap((c) => c.times.map(seconds)))].sort((a, b) => a - b);
      const data = [times];
      for (const curve of curves) {
        const at = new Map(curve.times.map((t, i) => [seconds(t), Number(curve.equity[i])]));
        data.push(times.map((t) => (at.has(t) ? at.get(t) : null)));
      }
      const names = curves.map((c) => c.team_id).join(",");
      if (this.plot && names === this.names) { this.plot.setData(data); return; }
      if (this.plot) this.plot.destroy();
      this.names = names;
      const width = Math.max(300, this.element.clientWidth || 600);
      const series = [{ label: "time (UTC)", value: (u, v) => (v ? new Date(v * 1000).toISOString().slice(0, 16).replace("T", " ") : "—") }];
      curves.forEach((c, i) => series.push({
        label: c.team_id, stroke: QTC.COLORS[i % QTC.COLORS.length], width: 2, spanGaps: true,
        value: (u, v) => (v === null || v === undefined ? "—" : v.toFixed(2)),
      }));
      const axis = { stroke: "#b3bec9", grid: { stroke: "#33404d" }, ticks: { stroke: "#33404d" } };
      this.plot = new uPlot({
        width, height: 300, series, scales: { x: { time: true } },
        axes: [{ ...axis }, { ...axis, size: 80 }],
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      }, data, this.element);
    }
  },
};
