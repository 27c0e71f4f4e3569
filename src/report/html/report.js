// gcnsim report: sortable tables and the worker timeline. No libraries, no network.
"use strict";

// Sorting: a click on a header sorts the body by that column (numbers as numbers, empty cells
// last); a second click reverses the order.
function sortableTables() {
  for (const table of document.querySelectorAll("table.sortable")) {
    const heads = table.tHead.rows[0].cells;
    for (let col = 0; col < heads.length; col++) {
      heads[col].addEventListener("click", () => sortBy(table, col));
    }
  }
}

function sortBy(table, col) {
  const head = table.tHead.rows[0].cells[col];
  const dir = head.getAttribute("aria-sort") === "ascending" ? -1 : 1;
  for (const h of table.tHead.rows[0].cells) h.removeAttribute("aria-sort");
  head.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  const key = (row) => {
    const text = row.cells[col] ? row.cells[col].textContent : "";
    const n = Number(text);
    return { empty: text === "", num: text !== "" && Number.isFinite(n), n, text };
  };
  rows.sort((ra, rb) => {
    const a = key(ra), b = key(rb);
    if (a.empty || b.empty) return a.empty - b.empty;
    if (a.num && b.num) return dir * (a.n - b.n);
    return dir * a.text.localeCompare(b.text);
  });
  for (const row of rows) body.appendChild(row);
}

const SVG = "http://www.w3.org/2000/svg";
const LANE = 22, LABEL = 78, AXIS = 22;

function svgNode(name, attrs) {
  const node = document.createElementNS(SVG, name);
  for (const k in attrs) node.setAttribute(k, attrs[k]);
  return node;
}

function seconds(s) {
  if (s === 0) return "0 s";
  const a = Math.abs(s);
  if (a < 1e-3) return (s * 1e6).toPrecision(4) + " µs";
  if (a < 1) return (s * 1e3).toPrecision(4) + " ms";
  return s.toPrecision(4) + " s";
}

function bytes(n) {
  if (n < 1024) return n + " B";
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n, u = -1;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return v.toFixed(1) + " " + units[u] + " (" + n + " B)";
}

function Timeline(data) {
  this.data = data;
  this.view = document.getElementById("timeline-view");
  this.tip = document.getElementById("tooltip");
  this.info = document.getElementById("timeline-info");
  const select = document.getElementById("timeline-run");
  data.runs.forEach((run, i) => {
    const option = document.createElement("option");
    option.value = String(i);
    option.textContent = run.id + " (rounds " + run.rounds + " of " + run.rounds_total + ")";
    select.appendChild(option);
  });
  select.addEventListener("change", () => this.show(Number(select.value)));
  const legend = document.getElementById("timeline-legend");
  data.activities.forEach((name, k) => {
    const span = document.createElement("span");
    const swatch = document.createElement("i");
    swatch.className = "c" + (k % 8);
    span.appendChild(swatch);
    span.appendChild(document.createTextNode(name));
    legend.appendChild(span);
  });
  document.getElementById("zoom-in").addEventListener("click", () => this.zoom(0.5, 0.5));
  document.getElementById("zoom-out").addEventListener("click", () => this.zoom(2, 0.5));
  document.getElementById("zoom-reset").addEventListener("click", () => this.reset());
  this.view.addEventListener("wheel", (e) => {
    e.preventDefault();
    this.zoom(e.deltaY < 0 ? 0.8 : 1.25, this.fraction(e.clientX));
  }, { passive: false });
  this.view.addEventListener("mousedown", (e) => { this.drag = { x: e.clientX, a: this.a, b: this.b }; });
  window.addEventListener("mouseup", () => { this.drag = null; });
  this.view.addEventListener("mousemove", (e) => this.move(e));
  this.view.addEventListener("mouseleave", () => { this.tip.hidden = true; });
  window.addEventListener("resize", () => this.draw());
  this.show(0);
}

Timeline.prototype.show = function (index) {
  this.run = this.data.runs[index];
  this.lane = new Map(this.run.workers.map((w, i) => [w, i]));
  this.reset();
};

Timeline.prototype.reset = function () {
  const iv = this.run.intervals;
  this.lo = iv.length ? Math.min(...iv.map((i) => i[4])) : 0;
  this.hi = iv.length ? Math.max(...iv.map((i) => i[5])) : 1;
  if (!(this.hi > this.lo)) this.hi = this.lo + 1;
  this.a = this.lo; this.b = this.hi;
  this.draw();
};

Timeline.prototype.width = function () { return Math.max(this.view.clientWidth - LABEL - 8, 100); };

Timeline.prototype.fraction = function (clientX) {
  const box = this.view.getBoundingClientRect();
  return Math.min(Math.max((clientX - box.left - LABEL) / this.width(), 0), 1);
};

Timeline.prototype.zoom = function (factor, at) {
  const span = this.b - this.a, centre = this.a + at * span;
  const next = Math.min(Math.max(span * factor, (this.hi - this.lo) * 1e-6), this.hi - this.lo);
  this.a = centre - at * next; this.b = this.a + next;
  this.clamp(); this.draw();
};

Timeline.prototype.clamp = function () {
  const span = this.b - this.a;
  if (this.a < this.lo) { this.a = this.lo; this.b = this.lo + span; }
  if (this.b > this.hi) { this.b = this.hi; this.a = this.hi - span; }
};

Timeline.prototype.draw = function () {
  const run = this.run, w = this.width();
  const height = AXIS + LANE * run.workers.length + 4;
  const svg = svgNode("svg", { width: LABEL + w + 8, height, "aria-label": "worker timeline of " + run.id });
  const x = (t) => LABEL + (t - this.a) / (this.b - this.a) * w;
  run.workers.forEach((worker, i) => {
    const label = svgNode("text", { x: 4, y: AXIS + LANE * i + 15 });
    label.textContent = "worker " + worker;
    svg.appendChild(label);
  });
  for (let k = 0; k <= 4; k++) {
    const t = this.a + (this.b - this.a) * k / 4;
    const tick = svgNode("text", { x: x(t), y: 14, "text-anchor": k === 0 ? "start" : k === 4 ? "end" : "middle" });
    tick.textContent = seconds(t);
    svg.appendChild(tick);
  }
  run.intervals.forEach((iv, i) => {
    if (iv[5] < this.a || iv[4] > this.b) return;
    const x0 = Math.max(x(iv[4]), LABEL), x1 = Math.min(x(iv[5]), LABEL + w);
    svg.appendChild(svgNode("rect", {
      class: "interval c" + (iv[1] % 8), "data-i": i,
      x: x0, y: AXIS + LANE * this.lane.get(iv[0]) + 2, width: Math.max(x1 - x0, 0.5), height: LANE - 4,
    }));
  });
  this.view.replaceChildren(svg);
  this.info.textContent = "showing " + seconds(this.a) + " to " + seconds(this.b) + "; " +
    run.intervals.length + " of the run's " + run.intervals_total + " intervals (rounds 0 to " + (run.rounds - 1) + ")";
};

Timeline.prototype.move = function (e) {
  if (this.drag) {
    const shift = (e.clientX - this.drag.x) / this.width() * (this.drag.b - this.drag.a);
    this.a = this.drag.a - shift; this.b = this.drag.b - shift;
    this.clamp(); this.draw();
    return;
  }
  const i = e.target.getAttribute && e.target.getAttribute("data-i");
  if (i === null || i === undefined) { this.tip.hidden = true; return; }
  this.tip.textContent = this.describe(this.run.intervals[Number(i)]);
  this.tip.hidden = false;
  this.tip.style.left = (e.clientX + 14) + "px";
  this.tip.style.top = (e.clientY + 14) + "px";
};

// The event of an interval, as the tooltip shows it.
Timeline.prototype.describe = function (iv) {
  const [worker, activity, clock, version, start, end, round] = iv;
  const lines = [
    "worker " + worker + ": " + this.data.activities[activity],
    clock === null ? "round " + round + " (no clock of its own: the worker's last was " + round + ")"
      : "round (clock) " + clock + ", weight version " + (version === null ? "none" : version),
    "start " + seconds(start) + ", end " + seconds(end) + " (" + seconds(end - start) + ")",
  ];
  const exchanged = this.run.exchange_bytes[round];
  if (exchanged !== undefined) lines.push("boundary exchange in the round: " + bytes(exchanged) + " (all workers)");
  const gradient = this.run.gradients[worker + "/" + round];
  if (gradient !== undefined && clock !== null) lines.push("gradient: " + gradient);
  return lines.join("\n");
};

sortableTables();
const timelineData = document.getElementById("timeline-data");
if (timelineData) window.gcnsimTimeline = new Timeline(JSON.parse(timelineData.textContent));
