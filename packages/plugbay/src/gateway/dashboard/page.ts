/**
 * The dashboard's HTML and CSS (no CDN, no framework): the browser code is packages/plugbay/dashboard/*.ts, compiled
 * with the package (app.ts imports the rest).
 */
export const dashboardHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>plugbay</title>
<link rel="stylesheet" href="/dashboard/style.css">
</head>
<body>
<header><h1>plugbay</h1><p id="updated" aria-live="off">Loading…</p></header>
<form id="login" class="card" aria-label="Admin token" hidden>
<p id="login-note"></p>
<label for="login-token">Admin token</label> <input id="login-token" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
<p id="status" class="status" role="status" aria-live="polite"></p>
<main>
<section aria-labelledby="rollouts-title">
<h2 id="rollouts-title">Rollouts</h2>
<div id="rollout-start" class="card"></div>
<div id="rollouts-list" class="rollouts"></div>
</section>
<section aria-labelledby="series-title">
<h2 id="series-title">Time series <span id="series-span" class="muted">(last 15 min)</span></h2>
<div id="series" class="series-list"><p>Loading…</p></div>
</section>
<section aria-labelledby="plugins-title" class="card">
<h2 id="plugins-title">Plugins</h2>
<table><thead><tr><th scope="col">Plugin</th><th scope="col">Version</th><th scope="col">Tier</th><th scope="col">State</th><th scope="col">Circuit</th><th scope="col">Signature</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
<tbody id="plugins-body"></tbody></table>
</section>
<section aria-labelledby="routes-title">
<h2 id="routes-title">Routes</h2>
<div id="routes" class="routes"></div>
</section>
<section aria-labelledby="stats-title" class="card">
<h2 id="stats-title">Live calls</h2>
<table><thead><tr><th scope="col">Version</th><th scope="col">Calls</th><th scope="col">Errors</th><th scope="col">Total</th><th scope="col">p50</th><th scope="col">p99</th></tr></thead>
<tbody id="stats-body"></tbody></table>
</section>
<section aria-labelledby="audit-title" class="card">
<h2 id="audit-title">Audit log</h2>
<table><thead><tr><th scope="col">Time (UTC)</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Plugin</th><th scope="col">Reason</th></tr></thead>
<tbody id="audit-body"></tbody></table>
</section>
<section aria-labelledby="try-title" class="card">
<h2 id="try-title">Try it</h2>
<div id="try-it" class="try-it"></div>
</section>
<section aria-labelledby="diag-title" class="card">
<h2 id="diag-title">Load diagnostics</h2>
<ul id="diagnostics"></ul>
</section>
</main>
<script type="module" src="/dashboard/app.js"></script>
</body>
</html>
`;

export const dashboardCss = `
:root { font-family: system-ui, sans-serif; color: #1b1f24; background: #f4f5f7; }
*, *::before, *::after { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1240px; padding: 1rem 1.5rem; overflow-wrap: break-word; }
header { display: flex; flex-wrap: wrap; align-items: baseline; justify-content: space-between; gap: 0 1rem; }
h1 { margin: 0.2rem 0; font-size: 1.6rem; }
h2 { font-size: 1.15rem; margin: 0 0 0.6rem; }
h3 { margin: 0 0 0.4rem; font-size: 1rem; }
.muted { color: #4a5563; font-weight: normal; }
.card { background: #fff; border: 1px solid #d0d5dc; border-radius: 8px; padding: 0.9rem 1rem; margin-bottom: 1rem; min-width: 0; }
table { border-collapse: collapse; width: 100%; font-size: 0.92rem; }
th, td { text-align: left; padding: 0.35rem 0.5rem; border-bottom: 1px solid #e4e7eb; vertical-align: top; }
thead th { color: #4a5563; font-weight: 600; }
.routes { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(400px, 100%), 1fr)); gap: 1rem; margin-bottom: 1rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 0.8rem; margin: 0 0 0.6rem; }
dt { color: #4a5563; }
dd { margin: 0; }
form.canary { display: flex; flex-wrap: wrap; align-items: center; gap: 0.4rem; margin-bottom: 0.5rem; }
input[type=number] { width: 4.5rem; }
button, select, input { font: inherit; padding: 0.25rem 0.55rem; border-radius: 5px; border: 1px solid #6b7585; background: #fff; max-width: 100%; }
button { background: #1f5fbf; color: #fff; border-color: #1f5fbf; cursor: pointer; min-height: 2rem; }
button.danger { background: #b42318; border-color: #b42318; }
button:disabled { background: #c7cdd6; border-color: #c7cdd6; color: #3b4452; cursor: default; }
:focus-visible { outline: 3px solid #f0b400; outline-offset: 2px; }
.badge { padding: 0.05rem 0.45rem; border-radius: 999px; background: #e4e7eb; white-space: nowrap; }
.state-ready, .verdict-pass, .verdict-promote, .rollout-promoted { background: #d4f2dc; }
.state-degraded, .verdict-wait, .verdict-pause, .rollout-paused { background: #fff0c2; }
.state-failed, .state-crashloop, .circuit-open, .verdict-fail, .verdict-abort, .rollout-rolled-back, .rollout-aborted { background: #fbd5d5; }
.reason { display: block; font-size: 0.85rem; color: #3b4452; margin-top: 0.2rem; }
.status { min-height: 1.3rem; margin: 0.2rem 0 0.8rem; } .status.error { color: #b00020; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
form.try { border-top: 1px solid #e4e7eb; padding: 0.6rem 0; display: grid; gap: 0.3rem; min-width: 0; }
form.try p { margin: 0; color: #4a5563; }
form.try textarea { font-family: ui-monospace, monospace; width: 100%; }
form.try button { justify-self: start; }
form.try output { white-space: pre-wrap; font-family: ui-monospace, monospace; }
form.try output.error { color: #b00020; }
.schemas { display: flex; flex-wrap: wrap; gap: 0.2rem 1.2rem; }
.schemas details { min-width: 0; max-width: 100%; }
.schemas summary { cursor: pointer; color: #1f5fbf; }
pre { margin: 0.3rem 0; padding: 0.4rem; background: #f4f5f7; border-radius: 4px; overflow-x: auto; max-width: 100%; font-size: 0.85rem; }
code { background: #eef0f3; padding: 0 0.25rem; border-radius: 3px; }
.series-list, .rollouts { display: grid; gap: 0.6rem; margin-bottom: 1rem; } .series-list .card { margin-bottom: 0; }
.series.idle { padding: 0.5rem 1rem; margin: 0; } .series.idle h3 { margin: 0; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(300px, 100%), 1fr)); gap: 0.6rem 1rem; }
figure.chart { margin: 0; min-width: 0; }
figure.chart figcaption { font-size: 0.88rem; color: #3b4452; }
svg.chart { width: 100%; height: auto; display: block; }
svg.chart .grid { stroke: #e4e7eb; } svg.chart .axis { stroke: #8a94a3; }
svg.chart .tick { font-size: 10px; fill: #4a5563; }
svg.chart .threshold { stroke: #b42318; stroke-width: 1.2; stroke-dasharray: 5 3; }
svg.chart .threshold-label { font-size: 9.5px; fill: #b42318; }
svg.chart .marker { stroke: #3b4452; stroke-width: 1; stroke-dasharray: 2 2; }
svg.chart .marker-label { font-size: 9px; fill: #3b4452; }
fieldset.span { border: 0; padding: 0; margin: 0 0 0.6rem; display: flex; flex-wrap: wrap; gap: 0.3rem 0.9rem; align-items: center; }
fieldset.span legend { float: left; margin-right: 0.4rem; color: #3b4452; }
fieldset.span input { margin: 0 0.25rem 0 0; }
.legend { list-style: none; display: flex; flex-wrap: wrap; gap: 0.2rem 1rem; margin: 0 0 0.4rem; padding: 0; font-size: 0.88rem; }
.rollout .facts { display: flex; flex-wrap: wrap; gap: 0.3rem 1.5rem; margin: 0 0 0.6rem; }
.rollout .controls, form.rollout-start { display: flex; flex-wrap: wrap; gap: 0.4rem; align-items: center; margin: 0.4rem 0; }
form.rollout-start { align-items: end; }
form.rollout-start .field { display: grid; gap: 0.15rem; }
form.rollout-start label { font-size: 0.85rem; color: #3b4452; }
form.rollout-start input[type=text] { width: 8.5rem; }
.sides { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(340px, 100%), 1fr)); gap: 0.6rem 1rem; }
.sides h4 { margin: 0.3rem 0; font-size: 0.95rem; }
.pair { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(230px, 100%), 1fr)); gap: 0.4rem 0.8rem; }
.evidence td:first-child, .evidence td:nth-child(2) { white-space: nowrap; }
.evidence td, .evidence th { font-size: 0.85rem; }
.weights { display: flex; height: 0.9rem; border-radius: 4px; overflow: hidden; border: 1px solid #8a94a3; margin: 0.2rem 0 0.5rem; }
.weights span { display: block; height: 100%; }
.weights .w-stable { background: #1f5fbf; } .weights .w-canary { background: #b54708; }
/* A phone: every table row becomes a small card whose cells say their column's name. */
@media (max-width: 640px) {
  body { padding: 0.6rem; }
  .card { padding: 0.7rem; }
  table, thead, tbody, tr, th, td { display: block; }
  thead tr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  tr { border-bottom: 1px solid #d0d5dc; padding: 0.3rem 0; }
  td, tbody th { border: 0; padding: 0.1rem 0 0.1rem 7rem; position: relative; min-height: 1.4rem; overflow-wrap: anywhere; }
  td::before, tbody th::before { content: attr(data-label); position: absolute; left: 0; width: 6.5rem; color: #4a5563; font-weight: 600; }

}
`;
