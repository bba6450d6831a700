// The page: one HTML file with everything inside (styles, data, Chart.js, the script that draws),
// so it opens from disk anywhere. A Content-Security-Policy forbids the page any request at all.
import { PERCENTILES } from '../fio/json.js';
import { chartJsSource, chartJsVersion } from './chart-lib.js';
import type { ChartSpec } from './charts.js';
import { engineColor } from './colors.js';
import { bytes, duration, micros, si, when } from './format.js';
import type { Machine, ReportModel, Workload } from './model.js';
import { drawCharts } from './page-script.js';
import type { Result } from './results.js';
import type { Sweep } from './sweeps.js';

const CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:";

function esc(s: string): string {
  return s.replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Safe inside <script>: no `</script` can end it early. */
const scriptText = (s: string) => s.replace(/<\/(script)/gi, '<\\/$1');

const swatch = (engine: string) => `<span class="swatch" style="background:${engineColor(engine)}"></span>`;

const measure = (w: Workload, r: Result) => (w.metric === 'bw' ? `${bytes(r.bwBytes)}/s` : si(r.iops));

/** Options as fio users write them, without the file's name (a path of the run, not of the workload). */
function optionsText(options: Record<string, string>): string {
  return Object.entries(options).filter(([k]) => k !== 'filename' && k !== 'directory').map(([k, v]) => `${k}=${v}`).join(' ');
}

function machineTable(machines: Machine[]): string {
  const rows = machines.map(m => `<tr><td class="t">${esc(m.file)}</td><td class="t">${esc(when(m.date))}</td><td class="t">${esc(m.kernel ?? 'not recorded')}</td>`
    + `<td class="t">${esc(m.cpu_model ?? 'not recorded')}</td><td>${m.cpus ?? '-'}</td><td>${m.memory ? esc(bytes(m.memory)) : '-'}</td>`
    + `<td class="t">${esc(m.node ?? '-')}</td><td class="t">${esc(m.version)}</td></tr>`);
  return `<div class="table-wrap"><table><thead><tr><th scope="col" class="t">Results</th><th scope="col" class="t">Date</th><th scope="col" class="t">Kernel</th>`
    + `<th scope="col" class="t">CPU</th><th scope="col">CPUs</th><th scope="col">Memory</th><th scope="col" class="t">Node.js</th><th scope="col" class="t">Bench</th></tr></thead>`
    + `<tbody>${rows.join('')}</tbody></table></div>`;
}

function overview(model: ReportModel): string {
  const rows = model.workloads.map(w => {
    const best = w.results.find(r => r.rank === 1);
    const engines = w.results.filter(r => r.kind !== 'reference').length;
    return `<tr><td class="t"><a href="#${w.id}">${esc(w.jobname)}</a></td><td class="t">${esc(w.rw)}</td><td>${w.bs !== undefined ? esc(bytes(w.bs)) : '-'}</td>`
      + `<td>${w.iodepth ?? '-'}</td><td>${engines}</td><td class="t">${best ? `${swatch(best.engine)}${esc(best.label)}` : 'none'}</td>`
      + `<td>${best ? `${esc(measure(w, best))}${w.metric === 'bw' ? '' : ' IOPS'}` : '-'}</td></tr>`;
  });
  return `<div class="table-wrap"><table><thead><tr><th scope="col" class="t">Workload</th><th scope="col" class="t">rw</th><th scope="col">bs</th>`
    + `<th scope="col">iodepth</th><th scope="col">engines</th><th scope="col" class="t">fastest engine</th><th scope="col">its IOPS / bandwidth</th></tr></thead>`
    + `<tbody>${rows.join('')}</tbody></table></div>`;
}

const P = (p: number) => PERCENTILES.indexOf(p);

function rankingTable(w: Workload): string {
  const lat = (r: Result, p: number) => {
    const v = r.latency[P(p)];
    return v === null ? '-' : esc(duration(v));
  };
  const rows = w.results.map(r => {
    const note = r.kind === 'baseline' ? '<span class="note">baseline: no I/O, the bench\'s own cost</span>'
      : r.kind === 'reference' ? '<span class="note">fio itself, native reference</span>' : '';
    const name = `<th scope="row" class="t">${swatch(r.engine)}${esc(r.label)}${note}</th>`;
    const rank = `<td>${r.rank ?? ''}</td>`;
    if (r.error) return `<tr class="failed">${rank}${name}<td class="t" colspan="11">failed: ${esc(r.error)}</td></tr>`;
    return `<tr class="${r.kind}${r.rank === 1 ? ' best' : ''}">${rank}${name}<td>${esc(si(r.iops))}</td><td>${esc(bytes(r.bwBytes))}/s</td>`
      + `<td>${r.vsBest !== undefined ? `${(r.vsBest * 100).toFixed(0)}%` : ''}</td>`
      + `<td>${lat(r, 50)}</td><td>${lat(r, 99)}</td><td>${lat(r, 99.9)}</td><td class="wide">${lat(r, 99.99)}</td>`
      + `<td>${esc(micros(r.usrUsPerOp))}</td><td>${esc(micros(r.sysUsPerOp))}</td><td>${r.cpuPercent.toFixed(0)}%</td><td class="wide">${r.ctxPerOp.toFixed(2)}</td></tr>`;
  });
  return `<div class="table-wrap"><table class="ranking"><caption>Engines ranked by ${w.metric === 'bw' ? 'bandwidth' : 'IOPS'}</caption>`
    + '<thead><tr><th scope="col">#</th><th scope="col" class="t">engine</th><th scope="col">IOPS</th><th scope="col">bandwidth</th><th scope="col">vs 1st</th>'
    + '<th scope="col">p50</th><th scope="col">p99</th><th scope="col">p99.9</th><th scope="col" class="wide">p99.99</th>'
    + '<th scope="col">CPU/op user</th><th scope="col">CPU/op sys</th><th scope="col">CPU</th><th scope="col" class="wide">ctx/op</th></tr></thead>'
    + `<tbody>${rows.join('')}</tbody></table></div>`;
}

function figure(spec: ChartSpec, caption: string, heightPx: number): string {
  return `<figure><figcaption>${esc(caption)}</figcaption><div class="chart" style="height:${heightPx}px">`
    + `<canvas id="${esc(spec.id)}" role="img" aria-label="${esc(`${caption}: ${spec.labels.length} points, ${spec.datasets.map(d => d.label).join(', ')}`)}"></canvas></div></figure>`;
}

/** The charts of a row share a height; bar charts grow with their bars past six. */
const barHeight = (spec: ChartSpec) => Math.max(280, 70 + 34 * spec.labels.length);

function workloadSection(w: Workload, charts: Map<string, ChartSpec>): string {
  const [tp, lat, cpu, loop] = ['throughput', 'latency', 'cpu', 'loop'].map(k => charts.get(`${w.id}-${k}`));
  const height = Math.max(...[tp, cpu].map(c => (c ? barHeight(c) : 0)));
  const figures = [
    tp && figure(tp, w.metric === 'bw' ? 'Bandwidth per engine' : 'IOPS per engine', height),
    lat && figure(lat, 'Latency percentiles (log scale)', height),
    cpu && figure(cpu, 'CPU time per operation: user + system', height),
    loop && figure(loop, 'Event loop delay meanwhile (log scale)', height),
  ].filter(Boolean);
  return `<section class="workload" id="${w.id}"><h2>${esc(w.jobname)}</h2>`
    + (w.description ? `<p class="desc">${esc(w.description)}</p>` : '')
    + `<p class="opts"><code>${esc(optionsText(w.options))}</code>${w.files.length > 1 ? ` <span class="muted">from ${esc(w.files.join(', '))}</span>` : ''}</p>`
    + rankingTable(w)
    + (figures.length ? `<div class="charts">${figures.join('')}</div>` : '')
    + '</section>';
}

function sweepFigure(s: Sweep, spec: ChartSpec): string {
  const links = s.workloads.map((id, i) => `<a href="#${id}">${esc(s.labels[i])}</a>`).join(' · ');
  return `<div class="sweep" id="${s.id}">`
    + figure(spec, `${s.name}: IOPS against ${s.option}, ${s.held}${spec.log ? ' (log scale)' : ''}`, 320)
    + `<p class="muted">${esc(s.option)}: ${links}</p></div>`;
}

const STYLE = `
:root { --fg: #1d1d1f; --muted: #5f6368; --line: #e2e4e8; --head: #f3f4f6; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: #fff; }
header, main, footer { max-width: 1240px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 20px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 28px 0 6px; padding-top: 14px; border-top: 1px solid var(--line); }
h3 { font-size: 16px; margin: 18px 0 8px; }
a { color: #2457a6; }
.muted, .desc { color: var(--muted); }
.desc { margin: 0 0 4px; }
.opts { margin: 0 0 8px; }
.opts code { font: 12.5px/1.4 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; background: var(--head); padding: 2px 6px; border-radius: 4px; overflow-wrap: anywhere; }
.key { list-style: none; display: flex; flex-wrap: wrap; gap: 6px 16px; padding: 0; margin: 10px 0 0; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 3px; margin-right: 6px; vertical-align: -1px; }
.table-wrap { overflow-x: auto; margin: 6px 0 14px; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; white-space: nowrap; }
caption { text-align: left; color: var(--muted); padding-bottom: 4px; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: right; }
thead th { background: var(--head); font-weight: 600; }
tbody th { font-weight: 500; }
.t { text-align: left; }
tr.best td, tr.best th { font-weight: 700; }
tr.baseline, tr.reference, tr.failed { color: var(--muted); }
.note { display: block; font-size: 11.5px; font-weight: 400; color: var(--muted); padding-left: 17px; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(360px, 1fr)); gap: 14px; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; min-width: 0; }
figcaption { font-weight: 600; margin-bottom: 6px; }
.chart { position: relative; width: 100%; }
.charts.sweeps { grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); }
.sweep p { margin: 4px 0 0; }
footer { margin-top: 12px; padding-bottom: 28px; color: var(--muted); font-size: 13px; }
footer dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 14px; }
footer dt { font-weight: 600; color: var(--fg); }
footer dd { margin: 0; }
@media (max-width: 860px) {
  body { font-size: 13px; }
  header, main, footer { padding: 0 12px; }
  th, td { padding: 4px 6px; }
  .wide { display: none; }
  .charts, .charts.sweeps { grid-template-columns: 1fr; }
}
`;

export function pageHtml(model: ReportModel, charts: ChartSpec[], generatedAt: Date): string {
  const byId = new Map(charts.map(c => [c.id, c]));
  const files = model.machines.map(m => m.file);
  const key = model.engines.map(e => `<li>${swatch(e)}${esc(e)}</li>`).join('');
  const sweeps = model.sweeps.map(s => sweepFigure(s, byId.get(`${s.id}-sweep`)!)).join('');
  const body = model.workloads.length === 0
    ? '<p>No results.</p>'
    : `<h2 id="machine">Machine</h2>${machineTable(model.machines)}`
      + `<h2 id="workloads">Workloads</h2>${overview(model)}`
      + (sweeps ? `<h2 id="sweeps">Sweeps</h2><p class="muted">One line per engine; the null engine (no I/O) is left out.</p><div class="charts sweeps">${sweeps}</div>` : '')
      + model.workloads.map(w => workloadSection(w, byId)).join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<title>ioengine bench report</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>ioengine bench report</h1>
<p class="muted">${model.workloads.length} workload${model.workloads.length === 1 ? '' : 's'} on ${model.engines.length} engine${model.engines.length === 1 ? '' : 's'}, from ${esc(files.join(', '))}; rendered ${esc(when(generatedAt.toISOString()))}.</p>
<ul class="key" aria-label="engine colours">${key}</ul>
</header>
<main>
${body}
</main>
<footer>
<h2>How to read it</h2>
<dl>
<dt>IOPS, bandwidth</dt><dd>operations and bytes per second over the measured time (after the ramp); the engines are ranked by IOPS, or by bandwidth for blocks of 64 KiB and more.</dd>
<dt>latency</dt><dd>of one operation, from the call to the settled promise (fio's lat), at fio's percentiles p1 to p99.99, on a log scale; fio's reference rows show fio's own lat.</dd>
<dt>CPU/op</dt><dd>user and system CPU time of the job's process (all its threads) per operation; CPU: the same as a percentage of one core.</dd>
<dt>ctx/op</dt><dd>context switches per operation.</dd>
<dt>event loop delay</dt><dd>how late a 1 ms timer on the job's event loop ran while the engine worked (p50, p99, the longest; the wait for its first tick after the work included): the time timers, sockets and everything else on that loop stood still. An engine that completes work inline (sync, cached reads on io_uring and linux-aio) buys its speed with this.</dd>
<dt>sync</dt><dd>blocks on every call: the bench runs it at iodepth 1 whatever the workload asks, as fio does for psync.</dd>
<dt>null</dt><dd>an engine that completes every operation without I/O: the bench's own cost, shown as the baseline and left out of the throughput charts.</dd>
</dl>
<p>Made by <code>ioengine report</code>; charts by Chart.js ${esc(chartJsVersion())}, inside this file.</p>
</footer>
<script type="application/json" id="chart-specs">${JSON.stringify(charts).replace(/</g, '\\u003c')}</script>
<script>${scriptText(chartJsSource())}</script>
<script>(${scriptText(drawCharts.toString())})(JSON.parse(document.getElementById('chart-specs').textContent));</script>
</body>
</html>
`;
}
