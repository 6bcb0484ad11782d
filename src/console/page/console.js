// Runnel's web console. It polls /api/objects for the list of sources and views, and keeps a
// live table and a line chart from /api/subscribe event streams: each stream starts with the
// relation's columns and continues with its changes (time, diff, row), which are applied to a
// multiset of rows, exactly as a SUBSCRIBE client would.
"use strict";

const SHOWN_ROWS = 200;        // rows drawn in the live table (all are kept)
const CHART_WINDOWS = 30;      // x values drawn in the chart, the latest ones
const REFRESH_MS = 3000;       // how often the object list is refreshed
const DEFAULT_CHART = "ratings_by_club_status_1min";
const PALETTE = ["#2458d6", "#d97706", "#059669", "#7c3aed", "#dc2626", "#0891b2", "#65a30d", "#db2777"];

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const state = { objects: [], live: null, chart: null };

// A relation kept up to date from its change stream.
class LiveRelation {
  constructor(database, name, onChange, onFailure) {
    this.database = database;
    this.name = name;
    this.columns = [];
    this.rows = new Map(); // JSON of the values -> { values, count }
    this.upper = null;
    this.ended = false;
    const url = `/api/subscribe?database=${encodeURIComponent(database)}&name=${encodeURIComponent(name)}`;
    this.events = new EventSource(url);
    // After a dropped connection EventSource reconnects by itself; the new subscription
    // starts again with the columns and a full snapshot.
    this.events.addEventListener("columns", (e) => {
      this.columns = JSON.parse(e.data);
      this.rows.clear();
      onChange(this);
    });
    this.events.addEventListener("changes", (e) => {
      const changes = JSON.parse(e.data);
      for (const [, diff, values] of changes.updates) {
        const key = JSON.stringify(values);
        const count = (this.rows.get(key)?.count ?? 0) + diff;
        if (count === 0) this.rows.delete(key);
        else this.rows.set(key, { values, count });
      }
      if (changes.upper === null) {
        this.ended = true;
        this.events.close();
      } else {
        this.upper = changes.upper;
      }
      onChange(this);
    });
    this.events.addEventListener("failure", (e) => {
      this.events.close();
      onFailure(e.data);
    });
  }

  close() { this.events.close(); }

  // Every row, repeated by its multiplicity.
  all() {
    const out = [];
    for (const { values, count } of this.rows.values()) {
      for (let i = 0; i < count; i++) out.push(values);
    }
    return out;
  }
}

// Calls `f` at most every `ms` milliseconds, with the latest arguments.
function throttle(f, ms) {
  let timer = null;
  let last = null;
  return (...args) => {
    last = args;
    if (timer === null) {
      timer = setTimeout(() => { timer = null; f(...last); }, ms);
    }
  };
}

const isTime = (type) => type.startsWith("timestamp") || type === "date";
const isNumber = (type) => ["smallint", "integer", "bigint", "real", "double precision", "numeric"].includes(type);

// Milliseconds since the epoch of a timestamp as Runnel prints it (UTC).
function parseTime(text) {
  const iso = text.replace(" ", "T").replace(/\+00$/, "");
  return Date.parse(iso.length <= 10 ? iso + "T00:00:00Z" : iso + "Z");
}

function compareValues(a, b, type) {
  if (a === null || b === null) return (a === null) - (b === null);
  if (isNumber(type)) return Number(a) - Number(b);
  return a < b ? -1 : a > b ? 1 : 0;
}

function el(tag, attrs = {}, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function svg(tag, attrs = {}, text) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function timeOf(ms) {
  return new Date(ms).toISOString().replace("T", " ").replace("Z", "");
}

// ---- the object list ----

async function refreshObjects() {
  try {
    const response = await fetch("/api/objects");
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const answer = await response.json();
    state.objects = answer.objects;
    $("status").textContent = `connected · ${answer.objects.length} objects · ${timeOf(answer.now)} UTC`;
    $("status").className = "muted";
    renderObjects();
    chooseDefaults();
  } catch (e) {
    $("status").textContent = `cannot reach Runnel: ${e.message}`;
    $("status").className = "error";
  }
}

function chartable(object) {
  const types = object.columns.map((c) => c.type);
  return types.some(isTime) && types.some((t) => t === "text") && types.some(isNumber);
}

function statusOf(object) {
  if (object.error) return { text: object.error, cls: "error" };
  if (object.source) {
    const s = object.source;
    let text = s.state ?? "";
    if (s.lag !== null) text += `, lag ${s.lag}`;
    if (s.errors && s.errors !== "0") text += `, ${s.errors} bad records`;
    return { text, cls: s.last_error ? "error" : "ok" };
  }
  if (object.hydrated === false) return { text: "hydrating", cls: "muted" };
  if (object.hydrated === true) return { text: "up to date", cls: "ok" };
  return { text: "", cls: "muted" };
}

function renderObjects() {
  const body = $("objects").tBodies[0];
  body.replaceChildren();
  let database = null;
  for (const o of state.objects) {
    if (o.database !== database) {
      database = o.database;
      const header = el("tr", { class: "db" });
      header.append(el("td", { colspan: 4 }, `database ${database}`));
      body.append(header);
    }
    const row = el("tr", { "data-database": o.database, "data-name": o.name });
    if (state.live && state.live.database === o.database && state.live.name === o.name) {
      row.classList.add("selected");
    }
    const type = o.type === "materialized view" ? "mat. view" : o.type;
    row.append(el("td", {}, o.name), el("td", { title: o.type }, type));
    row.append(el("td", { class: "num" }, o.rows === null ? "" : String(o.rows)));
    const status = statusOf(o);
    row.append(el("td", { class: status.cls }, status.text));
    row.addEventListener("click", () => {
      showLive(o.database, o.name);
      if (chartable(o)) showChart(o.database, o.name);
    });
    body.append(row);
  }
}

// The view and chart named in the address, else the first materialized view and the demo's
// chart, once the object list is known.
function chooseDefaults() {
  if (!state.live) {
    const database = params.get("database");
    const name = params.get("view");
    const pick = name
      ? state.objects.find((o) => o.name === name && (!database || o.database === database))
      : state.objects.find((o) => o.type === "materialized view");
    if (pick) showLive(pick.database, pick.name);
  }
  if (!state.chart) {
    const name = params.get("chart") ?? DEFAULT_CHART;
    const database = params.get("database");
    const pick = state.objects.find((o) => o.name === name && (!database || o.database === database));
    if (pick && chartable(pick)) showChart(pick.database, pick.name);
  }
}

function remember(key, value) {
  params.set(key, value);
  history.replaceState(null, "", `?${params}`);
}

// ---- the live table ----

function showLive(database, name) {
  if (state.live) state.live.close();
  $("live-title").textContent = `${database}.${name}`;
  $("live-error").hidden = true;
  remember("database", database);
  remember("view", name);
  state.live = new LiveRelation(database, name, throttle(renderLive, 150), (message) => {
    $("live-error").textContent = message;
    $("live-error").hidden = false;
  });
  renderObjects();
}

function renderLive(relation) {
  if (relation !== state.live) return;
  const table = $("live");
  const header = el("tr");
  for (const c of relation.columns) {
    header.append(el("th", { class: isNumber(c.type) ? "num" : "", title: c.type }, c.name));
  }
  table.tHead.replaceChildren(header);
  // Newest first when there is a time column, then by every column in order.
  const types = relation.columns.map((c) => c.type);
  const timeColumn = types.findIndex(isTime);
  const rows = relation.all().sort((a, b) => {
    if (timeColumn >= 0) {
      const c = compareValues(b[timeColumn], a[timeColumn], types[timeColumn]);
      if (c !== 0) return c;
    }
    for (let i = 0; i < types.length; i++) {
      const c = compareValues(a[i], b[i], types[i]);
      if (c !== 0) return c;
    }
    return 0;
  });
  const body = table.tBodies[0];
  body.replaceChildren();
  for (const values of rows.slice(0, SHOWN_ROWS)) {
    const tr = el("tr");
    values.forEach((v, i) => {
      const cls = v === null ? "null" : isNumber(types[i]) ? "num" : "";
      tr.append(el("td", { class: cls }, v === null ? "null" : v));
    });
    body.append(tr);
  }
  table.dataset.rows = String(rows.length);
  table.dataset.upper = relation.upper === null ? "" : String(relation.upper);
  $("live-more").textContent = rows.length > SHOWN_ROWS
    ? `${rows.length} rows; the first ${SHOWN_ROWS} are shown`
    : `${rows.length} row${rows.length === 1 ? "" : "s"}`;
  $("live-time").textContent = freshness(relation);
}

function freshness(relation) {
  if (relation.ended) return "· ended";
  if (relation.upper === null) return "";
  const lag = Math.max(0, Date.now() - relation.upper);
  return `· complete to ${timeOf(relation.upper)} UTC (${lag} ms ago)`;
}

// ---- the chart ----

function showChart(database, name) {
  if (state.chart) state.chart.close();
  $("chart-panel").hidden = false;
  $("chart-title").textContent = `${database}.${name}`;
  $("chart-error").hidden = true;
  remember("chart", name);
  state.chart = new LiveRelation(database, name, throttle(renderChart, 250), (message) => {
    $("chart-error").textContent = message;
    $("chart-error").hidden = false;
  });
}

// Which columns the chart draws: x the first time column (window_start when there is one),
// one line per value of the first text column, y the last numeric column.
function chartColumns(columns) {
  const named = columns.findIndex((c) => c.name.toLowerCase() === "window_start" || c.name.toLowerCase() === "windowstart");
  const x = named >= 0 ? named : columns.findIndex((c) => isTime(c.type));
  const series = columns.findIndex((c) => c.type === "text");
  let y = -1;
  columns.forEach((c, i) => { if (isNumber(c.type)) y = i; });
  return { x, series, y };
}

function renderChart(relation) {
  if (relation !== state.chart) return;
  const { x, series, y } = chartColumns(relation.columns);
  const chart = $("chart");
  chart.replaceChildren();
  if (x < 0 || series < 0 || y < 0) return;
  // Sum y per (series, x): a view may hold several rows for one point.
  const points = new Map();
  for (const values of relation.all()) {
    if (values[x] === null || values[y] === null) continue;
    const key = JSON.stringify([values[series], values[x]]);
    const p = points.get(key) ?? { series: values[series] ?? "null", xText: values[x], x: parseTime(values[x]), y: 0 };
    p.y += Number(values[y]);
    points.set(key, p);
  }
  const xs = [...new Set([...points.values()].map((p) => p.x))].sort((a, b) => a - b).slice(-CHART_WINDOWS);
  const shown = [...points.values()].filter((p) => xs.includes(p.x));
  const names = [...new Set(shown.map((p) => p.series))].sort();
  const W = 720, H = 300, left = 48, right = 24, top = 12, bottom = 32;
  // A round step for the four gridlines (1, 2, 2.5 or 5 times a power of ten); the top is 4 steps.
  const highest = Math.max(1, ...shown.map((p) => p.y));
  const magnitude = 10 ** Math.floor(Math.log10(highest / 4));
  const tick = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((t) => t * 4 >= highest);
  const maxY = tick * 4;
  const sx = (v) => xs.length <= 1 ? left + (W - left - right) / 2 : left + ((v - xs[0]) / (xs[xs.length - 1] - xs[0])) * (W - left - right);
  const sy = (v) => H - bottom - (v / maxY) * (H - top - bottom);
  for (let i = 0; i <= 4; i++) {
    const v = (maxY * i) / 4;
    chart.append(svg("line", { class: "grid", x1: left, x2: W - right, y1: sy(v), y2: sy(v) }));
    chart.append(svg("text", { x: left - 6, y: sy(v) + 4, "text-anchor": "end" }, String(Number(v.toPrecision(6)))));
  }
  chart.append(svg("line", { class: "axis", x1: left, x2: W - right, y1: H - bottom, y2: H - bottom }));
  const step = Math.max(1, Math.ceil(xs.length / 6));
  xs.forEach((v, i) => {
    if (i % step === 0 || i === xs.length - 1) {
      chart.append(svg("text", { x: sx(v), y: H - bottom + 16, "text-anchor": "middle" }, new Date(v).toISOString().slice(11, 16)));
    }
  });
  const legend = $("legend");
  legend.replaceChildren();
  names.forEach((name, i) => {
    const color = PALETTE[i % PALETTE.length];
    const line = shown.filter((p) => p.series === name).sort((a, b) => a.x - b.x);
    const d = line.map((p, j) => `${j === 0 ? "M" : "L"}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(" ");
    chart.append(svg("path", { class: "series", d, stroke: color, "data-series": name }));
    for (const p of line) {
      const dot = svg("circle", { cx: sx(p.x), cy: sy(p.y), r: 3, fill: color, "data-series": name, "data-x": p.xText, "data-y": String(p.y) });
      dot.append(svg("title", {}, `${name} at ${p.xText}: ${p.y}`));
      chart.append(dot);
    }
    const swatch = el("span", { style: `--swatch: ${color}` }, name);
    legend.append(swatch);
  });
  chart.dataset.points = String(shown.length);
  $("chart-time").textContent = freshness(relation);
}

refreshObjects();
setInterval(refreshObjects, REFRESH_MS);
setInterval(() => {
  if (state.live) $("live-time").textContent = freshness(state.live);
}, 1000);
