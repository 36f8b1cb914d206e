/**
 * The live view's page: one self-contained HTML document (no build step, no framework). It draws the
 * graph once from the `graph` event, nodes in columns by depth with SVG edges, then updates from the
 * `stats` events: each node's numbers, device, fps sparkline and bottleneck marker, each edge's drops,
 * and the preview of the latest annotated frame. Every number sits in an element with `data-node`
 * and `data-field` attributes (edges: `data-edge="from->to"`), which is also what the browser test
 * reads.
 */
export const LIVE_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>vf live view</title>
<style>
  :root { color-scheme: dark; font-family: system-ui, sans-serif; }
  body { margin: 0; background: #14171f; color: #dde3ee; }
  header { padding: 16px 24px; border-bottom: 1px solid #2a3040; display: flex; gap: 24px; align-items: baseline; }
  h1 { font-size: 18px; margin: 0; }
  #status { font-size: 14px; color: #8fa0bf; }
  #status.done { color: #7ddc8a; } #status.failed { color: #ff7b7b; }
  main { display: flex; flex-wrap: wrap; gap: 24px; padding: 24px; align-items: flex-start; }
  #previewBox { width: 480px; max-width: 100%; background: #1f2533; border: 1px solid #35405a; border-radius: 10px; padding: 10px; box-sizing: border-box; }
  #previewBox h2 { font-size: 14px; margin: 0 0 8px; color: #8fa0bf; font-weight: normal; }
  #preview { display: block; width: 100%; border-radius: 6px; background: #0d1016; min-height: 120px; }
  #graph { position: relative; }
  svg#edges { position: absolute; inset: 0; overflow: visible; pointer-events: none; }
  svg#edges text { font-size: 10px; fill: #8fa0bf; }
  svg#edges text.dropping { fill: #ff9b6b; font-weight: 600; }
  .node { position: absolute; width: 170px; padding: 10px 12px; border-radius: 10px; background: #1f2533;
          border: 1px solid #35405a; box-sizing: border-box; }
  .node.producer { border-color: #4d8ef0; } .node.consumer { border-color: #49b27a; }
  .node.bottleneck { border: 2px solid #ff6b6b; box-shadow: 0 0 12px #ff6b6b55; }
  .node .badge { display: none; position: absolute; top: -10px; right: 8px; font-size: 11px; padding: 1px 6px;
                 border-radius: 8px; background: #ff6b6b; color: #14171f; font-weight: 700; }
  .node.bottleneck .badge { display: block; }
  .node h2 { font-size: 14px; margin: 0 0 2px; display: flex; justify-content: space-between; }
  .node h2 small { color: #8fa0bf; font-weight: normal; }
  .node .device { font-size: 11px; color: #8fa0bf; margin-bottom: 6px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
  .node dl { display: grid; grid-template-columns: auto 1fr; gap: 2px 10px; margin: 0; font-size: 13px; }
  .node dt { color: #8fa0bf; } .node dd { margin: 0; text-align: right; font-variant-numeric: tabular-nums; }
  .node dd[data-field="fps"] { color: #ffd36b; font-weight: 600; }
  .node svg.spark { display: block; width: 100%; height: 26px; margin-top: 6px; background: #171b26; border-radius: 4px; }
  .node svg.spark polyline { fill: none; stroke: #ffd36b; stroke-width: 1.5; }
</style>
</head>
<body>
<header><h1>vf live view</h1><span id="title"></span><span id="status">connecting…</span></header>
<main>
<section id="previewBox"><h2>latest annotated frame</h2><img id="preview" alt="waiting for the first annotated frame"></section>
<div id="graph"><svg id="edges"></svg></div>
</main>
<script>
const W = 170, H = 170, GX = 100, GY = 30, TOP = 60, SPARK_W = 146, SPARK_H = 26;
const graphEl = document.getElementById('graph');
const edgesEl = document.getElementById('edges');
const statusEl = document.getElementById('status');
const previewEl = document.getElementById('preview');
const fields = [['fps', 'fps'], ['processed', 'processed'], ['queued', 'queue'], ['dropped', 'dropped']];
const SVG = 'http://www.w3.org/2000/svg';
let positions = new Map();
let previewVersion = null;

function drawGraph(graph) {
  document.getElementById('title').textContent = graph.title;
  for (const old of graphEl.querySelectorAll('.node')) old.remove();
  const columns = new Map();
  for (const node of graph.nodes) {
    const column = columns.get(node.depth) ?? [];
    column.push(node);
    columns.set(node.depth, column);
  }
  positions = new Map();
  let width = 0, height = 0;
  for (const [depth, nodes] of columns) {
    nodes.forEach((node, row) => {
      const x = depth * (W + GX), y = TOP + row * (H + GY);
      positions.set(node.name, { x, y });
      width = Math.max(width, x + W); height = Math.max(height, y + H);
      const el = document.createElement('div');
      el.className = 'node ' + node.kind;
      el.dataset.node = node.name;
      el.dataset.bottleneck = 'false';
      el.style.left = x + 'px'; el.style.top = y + 'px';
      el.title = node.kind;
      const badge = document.createElement('span');
      badge.className = 'badge'; badge.textContent = 'bottleneck';
      const title = document.createElement('h2');
      title.textContent = node.name;
      const tasks = document.createElement('small');
      tasks.textContent = node.tasks > 1 ? '×' + node.tasks + ' tasks' : '';
      title.append(tasks);
      const device = document.createElement('div');
      device.className = 'device'; device.dataset.field = 'device'; device.textContent = '–';
      const list = document.createElement('dl');
      for (const [field, label] of fields) {
        const dt = document.createElement('dt'); dt.textContent = label;
        const dd = document.createElement('dd'); dd.dataset.field = field; dd.textContent = '–';
        list.append(dt, dd);
      }
      const spark = document.createElementNS(SVG, 'svg');
      spark.setAttribute('class', 'spark');
      spark.setAttribute('viewBox', '0 0 ' + SPARK_W + ' ' + SPARK_H);
      spark.setAttribute('preserveAspectRatio', 'none');
      spark.dataset.field = 'history';
      spark.append(document.createElementNS(SVG, 'polyline'));
      el.append(badge, title, device, list, spark);
      graphEl.append(el);
    });
  }
  graphEl.style.width = width + 'px'; graphEl.style.height = height + 'px';
  edgesEl.setAttribute('width', width); edgesEl.setAttribute('height', height);
  edgesEl.innerHTML = '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#5b6a8a"/></marker></defs>';
  for (const edge of graph.edges) {
    const a = positions.get(edge.from), b = positions.get(edge.to);
    if (!a || !b) continue;
    const path = document.createElementNS(SVG, 'path');
    const label = document.createElementNS(SVG, 'text');
    const skips = b.x - a.x > W + GX;
    if (skips) {
      // An edge that skips columns arcs over the nodes between, into the top of its target.
      const x1 = a.x + W / 2, x2 = b.x + W / 2 - 20, top = Math.min(a.y, b.y) - TOP + 8;
      path.setAttribute('d', 'M' + x1 + ',' + a.y + ' C' + x1 + ',' + top + ' ' + x2 + ',' + top + ' ' + x2 + ',' + b.y);
      label.setAttribute('x', (x1 + x2) / 2); label.setAttribute('y', top + 18);
    } else {
      const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mid = (x1 + x2) / 2;
      path.setAttribute('d', 'M' + x1 + ',' + y1 + ' C' + mid + ',' + y1 + ' ' + mid + ',' + y2 + ' ' + x2 + ',' + y2);
      label.setAttribute('x', mid); label.setAttribute('y', (y1 + y2) / 2 - 6);
    }
    path.setAttribute('stroke', '#5b6a8a'); path.setAttribute('fill', 'none'); path.setAttribute('stroke-width', '2');
    path.setAttribute('marker-end', 'url(#arrow)');
    label.setAttribute('text-anchor', 'middle');
    label.dataset.edge = edge.from + '->' + edge.to;
    label.textContent = '';
    edgesEl.append(path, label);
  }
}

function sparkPoints(history) {
  const top = Math.max(1, ...history);
  const step = history.length > 1 ? SPARK_W / (history.length - 1) : 0;
  return history.map((fps, i) => (i * step).toFixed(1) + ',' + (SPARK_H - 2 - (fps / top) * (SPARK_H - 4)).toFixed(1)).join(' ');
}

function update(stats) {
  statusEl.textContent = 'running · ' + (stats.elapsedMs / 1000).toFixed(1) + ' s';
  for (const node of stats.nodes) {
    const el = graphEl.querySelector('[data-node="' + CSS.escape(node.name) + '"]');
    if (!el) continue;
    for (const [field] of fields) el.querySelector('[data-field="' + field + '"]').textContent = String(node[field]);
    el.querySelector('[data-field="device"]').textContent = node.device;
    el.classList.toggle('bottleneck', node.bottleneck);
    el.dataset.bottleneck = String(node.bottleneck);
    el.querySelector('[data-field="history"] polyline').setAttribute('points', sparkPoints(node.history));
  }
  for (const edge of stats.edges) {
    const label = edgesEl.querySelector('[data-edge="' + CSS.escape(edge.from + '->' + edge.to) + '"]');
    if (!label) continue;
    label.textContent = edge.dropped > 0 ? 'dropped ' + edge.dropped : '';
    label.classList.toggle('dropping', edge.dropped > 0);
    label.dataset.dropped = String(edge.dropped);
  }
  if (stats.preview !== null && stats.preview !== previewVersion) {
    previewVersion = stats.preview;
    previewEl.src = '/preview.jpg?v=' + stats.preview;
  }
}

const events = new EventSource('/events');
events.addEventListener('graph', (event) => drawGraph(JSON.parse(event.data)));
events.addEventListener('stats', (event) => update(JSON.parse(event.data)));
events.addEventListener('done', (event) => {
  const done = JSON.parse(event.data);
  statusEl.textContent = 'flow ' + done.status + ' in ' + (done.durationMs / 1000).toFixed(1) + ' s';
  statusEl.className = done.status === 'failed' ? 'failed' : 'done';
  events.close();
});
events.onerror = () => { if (!statusEl.classList.contains('done')) statusEl.textContent = 'disconnected'; };
</script>
</body>
</html>
`;
