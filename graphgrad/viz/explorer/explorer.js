// The backward explorer: interactivity over the SVG that Graphviz drew for draw_graph.
// Data (one JSON object, written by graphgrad/viz/_explore.py):
//   vertices: {id: {kind, title, op, count, cluster, module, inputs, output, value, grad,
//              formula, rule, where, order, roots}}   (id = the SVG node's <title>)
//   clusters: [{id, label, path, parent, calls, vertices}] (id = the SVG cluster's <title>)
//   steps:    [[vertex id, op name, gradient norm, [vertex ids the gradient goes to]]],
//             in the order the engine ran the nodes
//   params:   [{name, vertex, shape, done (the step after which its gradient is complete),
//              mean_abs, max_abs, finite}]
//   hist:     {lo, decades}: the signed-log histogram bins of every stats.hist
(function () {
  "use strict";
  const t0 = performance.now();
  const data = JSON.parse(document.getElementById("data").textContent);
  const svg = document.querySelector("#graph > svg");
  const graphLayer = svg.querySelector("g.graph");
  const SVGNS = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);

  // ------------------------------------------------------------------ the SVG's parts
  const nodeEl = {};
  for (const g of svg.querySelectorAll("g.node")) {
    g.dataset.id = g.querySelector("title").textContent;
    nodeEl[g.dataset.id] = g;
  }
  const edges = [];
  const edgesInto = {};
  for (const g of svg.querySelectorAll("g.edge")) {
    const [src, dst] = g.querySelector("title").textContent.split("->");
    const edge = { src: src, dst: dst, el: g };
    edges.push(edge);
    (edgesInto[dst] = edgesInto[dst] || []).push(edge);
  }
  const clusterEl = {};
  for (const g of svg.querySelectorAll("g.cluster")) {
    clusterEl[g.querySelector("title").textContent] = g;
  }
  for (const g of svg.querySelectorAll("title")) g.remove();  // no browser tooltips over our panel

  // ------------------------------------------------------------------ pan and zoom
  const base = svg.viewBox.baseVal;
  const full = { x: base.x, y: base.y, w: base.width, h: base.height };
  let view = Object.assign({}, full);
  svg.removeAttribute("width");
  svg.removeAttribute("height");
  svg.setAttribute("preserveAspectRatio", "xMidYMid meet");

  function setView(v) {
    view = v;
    svg.setAttribute("viewBox", `${v.x} ${v.y} ${v.w} ${v.h}`);
  }
  function toSvg(clientX, clientY) {
    const p = svg.createSVGPoint();
    p.x = clientX;
    p.y = clientY;
    return p.matrixTransform(svg.getScreenCTM().inverse());
  }
  function fit() {
    const box = svg.getBoundingClientRect();
    const aspect = box.width / Math.max(box.height, 1);
    // A very tall graph shrunk to fit is unreadable: fit its width and show its bottom,
    // where backward starts (the loss), instead.
    if (full.h / full.w > 3 * Math.max(1 / aspect, 1)) {
      const w = full.w;
      const h = w / aspect;
      setView({ x: full.x, y: full.y + full.h - h, w: w, h: h });
    } else {
      setView(Object.assign({}, full));
    }
  }
  function centerOn(el) {
    const r = el.getBoundingClientRect();
    const c = toSvg(r.left + r.width / 2, r.top + r.height / 2);
    setView({ x: c.x - view.w / 2, y: c.y - view.h / 2, w: view.w, h: view.h });
  }
  function visibleInView(el) {
    const r = el.getBoundingClientRect();
    const b = svg.getBoundingClientRect();
    return r.left >= b.left && r.right <= b.right && r.top >= b.top && r.bottom <= b.bottom;
  }
  svg.addEventListener("wheel", (e) => {
    e.preventDefault();
    const p = toSvg(e.clientX, e.clientY);
    const k = Math.exp(e.deltaY * 0.0015);
    const w = Math.min(Math.max(view.w * k, 20), full.w * 4);
    const s = w / view.w;
    setView({ x: p.x - (p.x - view.x) * s, y: p.y - (p.y - view.y) * s, w: w, h: view.h * s });
  }, { passive: false });
  let drag = null;
  svg.addEventListener("mousedown", (e) => {
    drag = { x: e.clientX, y: e.clientY, view: Object.assign({}, view), moved: false };
  });
  window.addEventListener("mousemove", (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x;
    const dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) {
      drag.moved = true;
      $("graph").classList.add("dragging");
    }
    const scale = view.w / svg.getBoundingClientRect().width;
    setView({ x: drag.view.x - dx * scale, y: drag.view.y - dy * scale, w: view.w, h: view.h });
  });
  window.addEventListener("mouseup", () => {
    $("graph").classList.remove("dragging");
    setTimeout(() => { drag = null; }, 0);
  });

  // ------------------------------------------------------------------ folding modules
  const folded = new Set();
  const foldEl = {};
  function isInside(i, j) {  // cluster i inside cluster j (or j itself)
    for (let k = i; k >= 0; k = data.clusters[k].parent) if (k === j) return true;
    return false;
  }
  function outermostFold(i) {  // the outermost folded cluster holding cluster i, or -1
    let found = -1;
    for (let k = i; k >= 0; k = data.clusters[k].parent) if (folded.has(k)) found = k;
    return found;
  }
  function hiddenIn(vertexId) {  // the folded cluster hiding a vertex, or -1
    const v = data.vertices[vertexId];
    return v && v.cluster >= 0 ? outermostFold(v.cluster) : -1;
  }
  function applyFolds() {
    for (const el of Object.values(foldEl)) el.remove();
    for (const k in foldEl) delete foldEl[k];
    for (const id in nodeEl) nodeEl[id].style.display = hiddenIn(id) >= 0 ? "none" : "";
    for (const e of edges) {
      const a = hiddenIn(e.src);
      e.el.style.display = a >= 0 && a === hiddenIn(e.dst) ? "none" : "";
    }
    data.clusters.forEach((c, i) => {
      const outer = outermostFold(i);
      clusterEl[c.id].style.display = outer >= 0 && outer !== i ? "none" : "";
      if (outer === i) foldEl[i] = drawFold(i);
    });
  }
  function drawFold(i) {
    const c = data.clusters[i];
    const box = clusterEl[c.id].getBBox();
    const g = document.createElementNS(SVGNS, "g");
    g.setAttribute("class", "fold");
    g.dataset.cluster = i;
    const rect = document.createElementNS(SVGNS, "rect");
    for (const [k, v] of [["x", box.x], ["y", box.y], ["width", box.width], ["height", box.height]]) {
      rect.setAttribute(k, v);
    }
    const text = document.createElementNS(SVGNS, "text");
    text.setAttribute("x", box.x + 8);
    text.setAttribute("y", box.y + 20);
    const count = (kind) => c.vertices.filter((id) => data.vertices[id].kind === kind).length;
    const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
    text.textContent = `\u25B8 ${c.label}: ${plural(count("op"), "op")}, ` +
      `${plural(count("param"), "parameter")} (click to unfold)`;
    g.append(rect, text);
    graphLayer.appendChild(g);
    return g;
  }
  function toggleFold(i) {
    if (folded.has(i)) folded.delete(i); else folded.add(i);
    applyFolds();
    showCurrent();
  }
  $("fold-all").onclick = () => { data.clusters.forEach((c, i) => folded.add(i)); applyFolds(); showCurrent(); };
  $("unfold-all").onclick = () => { folded.clear(); applyFolds(); showCurrent(); };
  $("fit").onclick = fit;

  // ------------------------------------------------------------------ formatting
  function fmt(x) {
    if (x === null || x === undefined) return "n/a";
    if (x === 0) return "0";
    const a = Math.abs(x);
    return a >= 1e-3 && a < 1e4 ? String(Number(x.toPrecision(4))) : x.toExponential(3);
  }
  function esc(s) {
    return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  }
  function row(label, valueHtml) { return `<tr><td>${label}</td><td>${valueHtml}</td></tr>`; }
  function num(key, x) { return `<span data-k="${key}" data-v="${x === null ? "" : x}">${fmt(x)}</span>`; }
  function histogram(counts) {
    const n = data.hist.decades;
    const W = 250, H = 44, bw = W / counts.length;
    const top = Math.max(...counts, 1);
    let bars = "";
    counts.forEach((c, j) => {
      const h = c ? Math.max(2, (H - 12) * Math.sqrt(c / top)) : 0;
      const zero = j === n ? ' class="zero"' : "";
      bars += `<rect${zero} x="${j * bw + 0.5}" y="${H - 12 - h}" width="${bw - 1}" height="${h}"><title>${binLabel(j)}: ${c}</title></rect>`;
    });
    const hi = data.hist.lo + n;
    return `<svg class="hist" width="${W}" height="${H}">${bars}` +
      `<text x="0" y="${H - 1}">-1e${hi}</text><text x="${W / 2 - 4}" y="${H - 1}">0</text>` +
      `<text x="${W - 26}" y="${H - 1}">1e${hi}</text></svg>`;
  }
  function binLabel(j) {
    const n = data.hist.decades, lo = data.hist.lo;
    if (j === n) return `|x| < 1e${lo}`;
    const k = j > n ? j - n - 1 : n - 1 - j;
    return `${j > n ? "" : "-"}[1e${lo + k}, 1e${lo + k + 1})`;
  }
  function statsTable(prefix, s, grad) {
    if (!s) return `<p class="hint" data-k="${prefix}">${grad ?
      "no gradient recorded (run backward inside gg.viz.record_gradients())" :
      "forward value not kept after backward"}</p>`;
    let rows = row("elements", `${s.size} ${esc(s.dtype)}`);
    if (grad) {
      rows += row("norm", num(`${prefix}.norm`, s.norm)) +
        row("mean |g|", num(`${prefix}.mean_abs`, s.mean_abs)) +
        row("max |g|", num(`${prefix}.max_abs`, s.max_abs));
    }
    rows += row("mean", num(`${prefix}.mean`, s.mean)) + row("std", num(`${prefix}.std`, s.std)) +
      row("min / max", num(`${prefix}.min`, s.min) + " / " + num(`${prefix}.max`, s.max));
    if (s.nan || s.inf) {
      rows += row("non-finite", `<span class="flag" data-k="${prefix}.flags">NaN x${s.nan}, Inf x${s.inf}</span>`);
    }
    return `<table>${rows}</table>${histogram(s.hist)}`;
  }

  // ------------------------------------------------------------------ the node panel
  let selected = null;
  function select(id, center) {
    const v = data.vertices[id];
    if (!v) return;
    if (selected && nodeEl[selected]) nodeEl[selected].classList.remove("selected");
    selected = id;
    const hidden = hiddenIn(id);
    if (hidden >= 0) {  // unfold what hides it
      for (let k = data.vertices[id].cluster; k >= 0; k = data.clusters[k].parent) folded.delete(k);
      applyFolds();
    }
    nodeEl[id].classList.add("selected");
    if (center && !visibleInView(nodeEl[id])) centerOn(nodeEl[id]);
    $("panel").innerHTML = panelHtml(id, v);
    $("panel").dataset.vertex = id;
    for (const el of document.querySelectorAll(".flow-row")) {
      el.classList.toggle("selected", el.dataset.vertex === id);
    }
  }
  function panelHtml(id, v) {
    let h = `<h2><span data-k="title">${esc(v.title)}</span>` +
      (v.count > 1 ? ` <span data-k="count">x${v.count}</span>` : "") +
      ` <small>(${v.kind === "op" ? "operation" : v.kind})</small></h2>`;
    let rows = "";
    if (v.roots.length) rows += row("root", esc(v.roots.join(", ")));
    if (v.module) rows += row("module", `<span data-k="module">${esc(v.module)}</span>`);
    if (v.inputs) {
      v.inputs.forEach((m, i) => {
        rows += row(`input ${i}`, m ? `<span data-k="input${i}">${esc(m[0])} ${esc(m[1])}</span>` : "a number");
      });
    }
    rows += row("output", `<span data-k="output">${esc(v.output[0])} ${esc(v.output[1])}</span>`);
    if (v.order) {
      rows += row("backward step", v.order[0] === v.order[1] ? `#${v.order[0]}` :
        `#${v.order[0]} .. #${v.order[1]} (${v.count} calls)`);
    }
    if (v.kind === "op") {
      rows += row("created at", v.where ? `<code data-k="where">${esc(v.where)}</code>` :
        '<span class="hint">run the forward inside gg.autograd.detect_anomaly() to know</span>');
    }
    h += `<table>${rows}</table>`;
    if (v.formula) h += `<div class="doc"><b>forward</b> <span data-k="formula">${esc(v.formula)}</span></div>`;
    if (v.rule) h += `<div class="doc"><b>gradient</b> <span data-k="rule">${esc(v.rule)}</span></div>`;
    if (v.origin) h += '<p class="flag">NaN/Inf starts here: this op\'s backward produced it</p>';
    h += `<h3>forward value${v.count > 1 ? "s (all calls)" : ""}</h3>` + statsTable("value", v.value, false);
    if (v.kind !== "const") {
      h += `<h3>gradient${v.count > 1 ? "s (all calls)" : ""}</h3>` + statsTable("grad", v.grad, true);
    }
    return h;
  }
  svg.addEventListener("click", (e) => {
    if (drag && drag.moved) return;
    const fold = e.target.closest("g.fold");
    if (fold) { toggleFold(Number(fold.dataset.cluster)); return; }
    const node = e.target.closest("g.node");
    if (node) {
      if (node.dataset.id in data.vertices) select(node.dataset.id, false);
      return;
    }
    const cluster = e.target.closest("g.cluster");
    if (cluster) {
      const i = data.clusters.findIndex((c) => clusterEl[c.id] === cluster);
      if (i >= 0) toggleFold(i);
    }
  });

  // ------------------------------------------------------------------ the backward player
  const steps = data.steps;
  let step = -1;
  let timer = null;
  let flowing = [];
  let currentEl = null;
  const doneAt = data.params.filter((p) => p.done >= 0).sort((a, b) => a.done - b.done);
  function showCurrent() {
    if (currentEl) currentEl.classList.remove("current");
    for (const e of flowing) e.el.classList.remove("flow");
    flowing = [];
    currentEl = null;
    if (step < 0) return;
    const [id, , , sources] = steps[step];
    const fold = hiddenIn(id);
    currentEl = fold >= 0 ? foldEl[fold] : nodeEl[id];
    currentEl.classList.add("current");
    for (const e of edgesInto[id] || []) {
      if (sources.includes(e.src)) { e.el.classList.add("flow"); flowing.push(e); }
    }
  }
  function goTo(k) {
    k = Math.max(-1, Math.min(k, steps.length - 1));
    for (const id in nodeEl) nodeEl[id].classList.remove("visited");
    for (let j = 0; j < k; j++) nodeEl[steps[j][0]].classList.add("visited");
    step = k;
    render();
  }
  function forward() {
    if (step >= steps.length - 1) { pause(); return; }
    if (step >= 0) nodeEl[steps[step][0]].classList.add("visited");
    step += 1;
    render();
  }
  function render() {
    showCurrent();
    const player = $("player");
    player.dataset.step = step;
    if (step < 0) {
      player.dataset.vertex = "";
      $("status").textContent = "Press \u25B6 to run backward from the loss, one node at a time.";
    } else {
      const [id, op, norm, sources] = steps[step];
      player.dataset.vertex = id;
      const into = sources.map((s) => data.vertices[s] ? data.vertices[s].title : s);
      $("status").innerHTML = `step <b>${step + 1}</b> / ${steps.length}: <b>${esc(op)}</b> ` +
        `(gradient norm ${fmt(norm)}) sends its gradient to ${into.length ? esc(into.join(", ")) : "nothing that needs one"}`;
      if (currentEl && !visibleInView(currentEl)) centerOn(currentEl);
    }
    const done = doneAt.filter((p) => p.done <= step);
    const complete = new Set(done.map((p) => p.vertex));
    for (const el of document.querySelectorAll(".flow-row")) {
      el.classList.toggle("done", complete.has(el.dataset.vertex));
    }
    $("done-count").textContent = `${done.length} / ${data.params.length}`;
    $("done").innerHTML = done.map((p) => `<li>${esc(p.name)} <small>${esc(p.shape)}</small></li>`).join("");
  }
  function play() {
    if (step >= steps.length - 1) goTo(-1);
    timer = setInterval(forward, 1000 / Number($("speed").value));
    $("play").textContent = "pause";
  }
  function pause() {
    clearInterval(timer);
    timer = null;
    $("play").textContent = "play";
  }
  $("step").onclick = () => { pause(); forward(); };
  $("back").onclick = () => { pause(); goTo(step - 1); };
  $("reset").onclick = () => { pause(); goTo(-1); };
  $("end").onclick = () => { pause(); goTo(steps.length - 1); };
  $("play").onclick = () => (timer ? pause() : play());
  $("speed").onchange = () => { if (timer) { pause(); play(); } };

  // ------------------------------------------------------------------ gradient flow
  function flowPanel() {
    const values = data.params.flatMap((p) => [p.mean_abs, p.max_abs]).filter((x) => x > 0);
    const lo = Math.floor(Math.log10(Math.min(...values, 1)));
    const hi = Math.ceil(Math.log10(Math.max(...values, 1)));
    const width = (x) => (x > 0 ? Math.max(1, 100 * (Math.log10(x) - lo) / Math.max(hi - lo, 1)) : 0);
    $("flow-rows").innerHTML = data.params.map((p) =>
      `<div class="flow-row${p.finite ? "" : " bad"}" data-vertex="${esc(p.vertex)}" ` +
      `title="${esc(p.name)} ${esc(p.shape)}: mean |g| ${fmt(p.mean_abs)}, max |g| ${fmt(p.max_abs)}">` +
      `<span class="name">${esc(p.name)}</span><span class="bars">` +
      `<div class="mean" style="width:${width(p.mean_abs)}%"></div>` +
      `<div class="max" style="width:${width(p.max_abs)}%"></div></span></div>`).join("") +
      `<div class="legend-keys"><span style="background:#4575b4"></span>mean |g|` +
      `<span style="background:#f46d43"></span>max |g|; axis 1e${lo} .. 1e${hi}</div>`;
    $("flow-rows").onclick = (e) => {
      const r = e.target.closest(".flow-row");
      if (r) select(r.dataset.vertex, true);
    };
  }

  // ------------------------------------------------------------------ search
  const index = [];
  for (const [id, v] of Object.entries(data.vertices)) {
    if (v.kind === "const" && v.title === "constant") continue;
    index.push({ text: v.title.toLowerCase(), label: v.title, what: v.kind === "op" ? `op in ${v.module || "top level"}` : v.kind, vertex: id });
  }
  data.clusters.forEach((c, i) => index.push({ text: c.label.toLowerCase(), label: c.label, what: "module", cluster: i }));
  let matches = [];
  function search(q) {
    for (const m of svg.querySelectorAll("g.node.match")) m.classList.remove("match");
    q = q.trim().toLowerCase();
    matches = q ? index.filter((e) => e.text.includes(q)).slice(0, 60) : [];
    const list = $("results");
    list.hidden = matches.length === 0;
    list.innerHTML = matches.map((m, i) =>
      `<li data-i="${i}">${esc(m.label)}<span class="what">${esc(m.what)}</span></li>`).join("");
    for (const m of matches) if (m.vertex && nodeEl[m.vertex]) nodeEl[m.vertex].classList.add("match");
  }
  function choose(m) {
    $("results").hidden = true;
    if (m.vertex) { select(m.vertex, true); return; }
    const c = m.cluster;
    for (let k = c; k >= 0; k = data.clusters[k].parent) if (k !== c) folded.delete(k);
    applyFolds();
    centerOn(foldEl[c] || clusterEl[data.clusters[c].id]);
  }
  $("search").addEventListener("input", (e) => search(e.target.value));
  $("search").addEventListener("keydown", (e) => { if (e.key === "Enter" && matches.length) choose(matches[0]); });
  $("results").addEventListener("click", (e) => {
    const li = e.target.closest("li");
    if (li) choose(matches[Number(li.dataset.i)]);
  });

  // ------------------------------------------------------------------ start
  fit();
  flowPanel();
  render();
  window.explorer = {  // for scripts and tests: the state, and the time the page took to set up
    data: data, select: select, goTo: goTo, toggleFold: toggleFold, folded: folded,
    get step() { return step; }, setupMs: performance.now() - t0,
  };
  document.body.dataset.ready = "1";
})();
