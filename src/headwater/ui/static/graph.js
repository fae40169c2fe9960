// Headwater UI: the asset graph. dagre (dagre.min.js beside this file, vendored from npm by
// scripts/vendor_js.sh) ranks and orders the boxes; this file places them, routes the edges,
// and adds zoom, pan, fit and search. The same file draws the static docs site's graph.
"use strict";

(() => {
  const svg = document.getElementById("asset-graph");
  if (!svg || typeof dagre === "undefined") return;
  const settings = JSON.parse(svg.dataset.layout);
  const W = settings.nodeWidth;
  const H = settings.nodeHeight;
  const MAX_SCALE = 3;
  const ZOOM_STEP = 1.25;
  const DRAG_THRESHOLD = 4;
  const MIN_HEIGHT = 320;
  const NETWORK_SIMPLEX_UP_TO = 200;

  const nodes = new Map();
  for (const el of svg.querySelectorAll("a.node")) nodes.set(el.dataset.key, { el, edges: [] });
  const edges = [...svg.querySelectorAll("path.edge")];
  if (nodes.size === 0) return;

  // -- layout --------------------------------------------------------------------------------
  const g = new dagre.graphlib.Graph();
  g.setGraph({
    rankdir: "LR",
    // network simplex ranks best but grows steeply: past a few hundred assets it takes seconds,
    // where tight-tree (longest path, then tightened) stays well under one
    ranker: nodes.size > NETWORK_SIMPLEX_UP_TO ? "tight-tree" : "network-simplex",
    ranksep: settings.rankGap,
    nodesep: settings.nodeGap,
    edgesep: settings.edgeGap,
    marginx: settings.margin,
    marginy: settings.margin,
  });
  g.setDefaultEdgeLabel(() => ({}));
  for (const key of nodes.keys()) g.setNode(key, { width: W, height: H });
  for (const el of edges) g.setEdge(el.dataset.source, el.dataset.target);
  dagre.layout(g);
  const bounds = { width: g.graph().width, height: g.graph().height };

  for (const [key, node] of nodes) {
    const box = g.node(key);
    node.x = box.x;
    node.y = box.y;
    node.el.setAttribute("transform", `translate(${num(box.x - W / 2)},${num(box.y - H / 2)})`);
  }
  // every box of a column shares its centre x, since all boxes are one width
  const columns = [...new Set([...nodes.values()].map((n) => n.x))];

  for (const el of edges) {
    const source = nodes.get(el.dataset.source);
    const target = nodes.get(el.dataset.target);
    el.setAttribute("d", route(source, target, g.edge(el.dataset.source, el.dataset.target).points));
    source.edges.push(el);
    target.edges.push(el);
  }

  // An edge leaves its source's right side and enters its target's left side. dagre gives an
  // edge that skips columns a point in a free slot of each column it crosses: there it runs
  // straight through the whole column at that height, which keeps clear of the column's boxes,
  // and it bends only in the empty gaps between columns (where dagre's other points are
  // dropped: a curve with horizontal ends never leaves the gap it spans).
  function route(source, target, points) {
    const stops = [[source.x + W / 2, source.y]];
    for (const point of points.slice(1, -1)) {
      const column = columns.find((x) => Math.abs(point.x - x) <= W / 2 + 0.5);
      if (column === undefined || column === source.x || column === target.x) continue;
      stops.push([column - W / 2, point.y], [column + W / 2, point.y]);
    }
    stops.push([target.x - W / 2, target.y]);
    let d = `M${num(stops[0][0])},${num(stops[0][1])}`;
    for (let i = 1; i < stops.length; i += 1) {
      const [x0, y0] = stops[i - 1];
      const [x1, y1] = stops[i];
      if (Math.abs(y1 - y0) < 0.01) {
        d += ` L${num(x1)},${num(y1)}`;
      } else {
        const mid = (x0 + x1) / 2;
        d += ` C${num(mid)},${num(y0)} ${num(mid)},${num(y1)} ${num(x1)},${num(y1)}`;
      }
    }
    return d;
  }

  function num(value) {
    return Math.round(value * 100) / 100;
  }

  // -- the view: zoom, pan, fit --------------------------------------------------------------
  // The view is the graph point at the top-left corner and a scale (screen px per graph px);
  // the viewBox follows from them and the element's size, so the drawing never distorts.
  const frame = svg.parentElement;
  const view = { x: 0, y: 0, scale: 1 };
  let fitted = true;

  function fitScale() {
    return Math.min(1, svg.clientWidth / bounds.width, svg.clientHeight / bounds.height);
  }

  function apply() {
    const w = svg.clientWidth / view.scale;
    const h = svg.clientHeight / view.scale;
    svg.setAttribute("viewBox", `${num(view.x)} ${num(view.y)} ${num(w)} ${num(h)}`);
    svg.dataset.scale = String(num(view.scale));
    svg.dataset.fitted = fitted ? "yes" : "no";
  }

  function fit() {
    // tall enough for the graph at the scale that fits its width, within most of the window,
    // and never so flat that a box found by the search has no room around it
    const widthScale = Math.min(1, frame.clientWidth / bounds.width);
    const roomy = Math.min(MIN_HEIGHT, window.innerHeight * 0.78);
    const height = Math.min(bounds.height * widthScale, window.innerHeight * 0.78);
    svg.style.height = `${Math.ceil(Math.max(roomy, height))}px`;
    view.scale = fitScale();
    if (view.scale >= 1) {
      // a graph smaller than its frame sits at the top left, at its natural size
      view.x = 0;
      view.y = 0;
    } else {
      // a shrunk graph is centred in the room left over along its shorter side
      view.x = (bounds.width - svg.clientWidth / view.scale) / 2;
      view.y = (bounds.height - svg.clientHeight / view.scale) / 2;
    }
    fitted = true;
    apply();
  }

  function zoomAt(factor, px, py) {
    const lowest = Math.min(0.1, fitScale());
    const scale = Math.max(lowest, Math.min(MAX_SCALE, view.scale * factor));
    // keep the graph point under (px, py) where it is
    view.x += px / view.scale - px / scale;
    view.y += py / view.scale - py / scale;
    view.scale = scale;
    fitted = false;
    apply();
  }

  function zoomCentre(factor) {
    zoomAt(factor, svg.clientWidth / 2, svg.clientHeight / 2);
  }

  function centreOn(node) {
    view.scale = Math.max(view.scale, 1);
    view.x = node.x - svg.clientWidth / view.scale / 2;
    view.y = node.y - svg.clientHeight / view.scale / 2;
    fitted = false;
    apply();
  }

  svg.addEventListener(
    "wheel",
    (event) => {
      event.preventDefault();
      const rect = svg.getBoundingClientRect();
      zoomAt(Math.exp(-event.deltaY * 0.0015), event.clientX - rect.left, event.clientY - rect.top);
    },
    { passive: false },
  );

  let drag = null;
  svg.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    drag = { id: event.pointerId, x: event.clientX, y: event.clientY, vx: view.x, vy: view.y, moved: false };
  });
  svg.addEventListener("pointermove", (event) => {
    if (!drag || event.pointerId !== drag.id) return;
    const dx = event.clientX - drag.x;
    const dy = event.clientY - drag.y;
    if (!drag.moved && Math.hypot(dx, dy) < DRAG_THRESHOLD) return;
    if (!drag.moved) {
      // captured only once it is a drag: a plain click on a box still follows its link
      drag.moved = true;
      svg.setPointerCapture(event.pointerId);
      svg.classList.add("panning");
    }
    view.x = drag.vx - dx / view.scale;
    view.y = drag.vy - dy / view.scale;
    fitted = false;
    apply();
  });
  const endDrag = (event) => {
    if (!drag || event.pointerId !== drag.id) return;
    if (drag.moved) {
      svg.classList.remove("panning");
      // the click that ends a drag must not open the box it ended on
      window.addEventListener("click", (click) => { click.preventDefault(); click.stopPropagation(); }, { capture: true, once: true });
      setTimeout(() => { drag = null; }, 0);
    } else {
      drag = null;
    }
  };
  svg.addEventListener("pointerup", endDrag);
  svg.addEventListener("pointercancel", endDrag);
  svg.addEventListener("dragstart", (event) => event.preventDefault());

  document.getElementById("graph-zoom-in").addEventListener("click", () => zoomCentre(ZOOM_STEP));
  document.getElementById("graph-zoom-out").addEventListener("click", () => zoomCentre(1 / ZOOM_STEP));
  document.getElementById("graph-fit").addEventListener("click", fit);
  window.addEventListener("resize", () => (fitted ? fit() : apply()));

  // -- highlighting and search ---------------------------------------------------------------
  function light(node, on) {
    for (const el of node.edges) {
      el.classList.toggle("hot", on);
      el.setAttribute("marker-end", on ? "url(#graph-arrow-hot)" : "url(#graph-arrow)");
    }
  }

  let focused = null;
  function focusNode(key) {
    if (focused) {
      focused.el.classList.remove("focused");
      light(focused, false);
    }
    focused = nodes.get(key) || null;
    if (!focused) return;
    focused.el.classList.add("focused");
    light(focused, true);
    centreOn(focused);
  }

  for (const node of nodes.values()) {
    node.el.addEventListener("pointerenter", () => light(node, true));
    node.el.addEventListener("pointerleave", () => light(node, node === focused));
    node.el.addEventListener("focus", () => light(node, true));
    node.el.addEventListener("blur", () => light(node, node === focused));
  }

  const search = document.getElementById("graph-search");
  const status = document.getElementById("graph-search-status");
  let hits = [];
  let cursor = -1;

  function find(text) {
    const wanted = text.trim().toLowerCase();
    hits = [];
    for (const [key, node] of nodes) {
      const hit = wanted !== "" && key.toLowerCase().includes(wanted);
      node.el.classList.toggle("match", hit);
      if (hit) hits.push(key);
    }
    cursor = -1;
    svg.classList.toggle("searching", wanted !== "");
    if (wanted === "") status.textContent = "";
    else if (!hits.length) status.textContent = `no asset matches “${text.trim()}”`;
    else status.textContent = hits.length === 1 ? "1 match" : `${hits.length} matches (Enter: next)`;
    // one match, or a name picked from the list: go there at once
    const exact = hits.find((key) => key.toLowerCase() === wanted);
    if (exact || hits.length === 1) next(exact || hits[0]);
  }

  function next(key) {
    cursor = key ? hits.indexOf(key) : (cursor + 1) % hits.length;
    focusNode(hits[cursor]);
  }

  search.addEventListener("input", () => find(search.value));
  search.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      if (hits.length) next(null);
    } else if (event.key === "Escape") {
      search.value = "";
      find("");
      focusNode(null);
    }
  });

  document.addEventListener("keydown", (event) => {
    const typing = event.target instanceof HTMLInputElement || event.target instanceof HTMLTextAreaElement;
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "+" || event.key === "=") zoomCentre(ZOOM_STEP);
    else if (event.key === "-") zoomCentre(1 / ZOOM_STEP);
    else if (event.key === "0") fit();
    else if (event.key === "/") {
      event.preventDefault();
      search.focus();
    }
  });

  document.getElementById("graph-tools").hidden = false;
  svg.classList.add("laid-out");
  fit();
})();
