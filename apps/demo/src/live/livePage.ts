/**
 * The live view's page: one self-contained HTML document (no build step, no framework). It draws the
 * graph once from the `graph` event, nodes in columns by depth with SVG edges, then updates each
 * node's numbers from the `stats` events. Every number sits in an element with `data-node` and
 * `data-field` attributes, which is also what the browser test reads.
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
  #graph { position: relative; margin: 24px; }
  svg { position: absolute; inset: 0; overflow: visible; pointer-events: none; }
  .node { position: absolute; width: 160px; padding: 10px 12px; border-radius: 10px; background: #1f2533;
          border: 1px solid #35405a; box-sizing: border-box; }
  .node.producer { border-color: #4d8ef0; } .node.consumer { border-color: #49b27a; }
  .node h2 { font-size: 14px; margin: 0 0 6px; display: flex; justify-content: space-between; }
  .node h2 small { color: #8fa0bf; font-weight: normal; }
  .node dl { display: grid; grid-template-columns: auto 1fr; gap: 2px 10px; margin: 0; font-size: 13px; }
  .node dt { color: #8fa0bf; } .node dd { margin: 0; text-align: right; font-variant-numeric: tabular-nums; }
  .node dd[data-field="fps"] { color: #ffd36b; font-weight: 600; }
</style>
</head>
<body>
<header><h1>vf live view</h1><span id="title"></span><span id="status">connecting…</span></header>
<div id="graph"><svg id="edges"></svg></div>
<script>
const W = 160, H = 118, GX = 50, GY = 26, TOP = 60;
const graphEl = document.getElementById('graph');
const edgesEl = document.getElementById('edges');
const statusEl = document.getElementById('status');
const fields = [['fps', 'fps'], ['processed', 'processed'], ['queued', 'queue'], ['dropped', 'dropped']];
let positions = new Map();

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
      el.style.left = x + 'px'; el.style.top = y + 'px';
      const title = document.createElement('h2');
      title.textContent = node.name;
      const tasks = document.createElement('small');
      tasks.textContent = node.tasks > 1 ? '×' + node.tasks + ' tasks' : '';
      el.title = node.kind;
      title.append(tasks);
      const list = document.createElement('dl');
      for (const [field, label] of fields) {
        const dt = document.createElement('dt'); dt.textContent = label;
        const dd = document.createElement('dd'); dd.dataset.field = field; dd.textContent = '–';
        list.append(dt, dd);
      }
      el.append(title, list);
      graphEl.append(el);
    });
  }
  graphEl.style.width = width + 'px'; graphEl.style.height = height + 'px';
  edgesEl.setAttribute('width', width); edgesEl.setAttribute('height', height);
  edgesEl.innerHTML = '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#5b6a8a"/></marker></defs>';
  for (const edge of graph.edges) {
    const a = positions.get(edge.from), b = positions.get(edge.to);
    if (!a || !b) continue;
    const path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
    const skips = b.x - a.x > W + GX;
    if (skips) {
      // An edge that skips columns arcs over the nodes between, into the top of its target.
      const x1 = a.x + W / 2, x2 = b.x + W / 2 - 20, top = Math.min(a.y, b.y) - TOP + 8;
      path.setAttribute('d', 'M' + x1 + ',' + a.y + ' C' + x1 + ',' + top + ' ' + x2 + ',' + top + ' ' + x2 + ',' + b.y);
    } else {
      const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mid = (x1 + x2) / 2;
      path.setAttribute('d', 'M' + x1 + ',' + y1 + ' C' + mid + ',' + y1 + ' ' + mid + ',' + y2 + ' ' + x2 + ',' + y2);
    }
    path.setAttribute('stroke', '#5b6a8a'); path.setAttribute('fill', 'none'); path.setAttribute('stroke-width', '2');
    path.setAttribute('marker-end', 'url(#arrow)');
    edgesEl.append(path);
  }
}

function update(stats) {
  statusEl.textContent = 'running · ' + (stats.elapsedMs / 1000).toFixed(1) + ' s';
  for (const node of stats.nodes) {
    const el = graphEl.querySelector('[data-node="' + CSS.escape(node.name) + '"]');
    if (!el) continue;
    for (const [field] of fields) el.querySelector('[data-field="' + field + '"]').textContent = String(node[field]);
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
