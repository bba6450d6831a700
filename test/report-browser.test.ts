// The report in a real browser: a real short comparison and a small sweep, rendered by
// `bench --report` and `ioengine report`, opened in headless Chromium (Debian's chromium package,
// driven by playwright-core; never a downloaded browser). Fails on any console error, any request
// leaving the page, a chart that draws nothing, or a page wider than the window. Screenshots are
// kept for a person to look at (their paths are printed).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import type { BrowserContext } from 'playwright-core';
import { engines } from '../src/index.js';
import { buildModel, readBenchFile, type ChartSpec, type ReportModel } from '../src/report/index.js';
import { runCli } from './run-cli.js';

/** The charts a model draws: three per workload, a fourth where the event loop's delay was measured, one per sweep. */
const chartsOf = (m: ReportModel) => m.workloads.length * 3 + m.workloads.filter(w => w.results.some(r => r.loopDelay && r.kind !== 'reference' && !r.error)).length + m.sweeps.length;

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** Kept after the run: the screenshots and the pages they show. */
const SHOTS = path.join(os.tmpdir(), 'ioengine-report-test');
const NAME = '4k-randread <qd8> & "co"'; // markup in a job name: shown as text, never as markup

let dir: string;
let skip: string | undefined;
let browser: BrowserContext | undefined;
let userDataDir: string | undefined;

before(async () => {
  if (!fs.existsSync(CHROMIUM)) {
    skip = `chromium is not installed at ${CHROMIUM} (apt-get install chromium; .ci/run installs it): no browser to open the report in`;
    return;
  }
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (err) {
    skip = `playwright-core cannot be loaded (a devDependency: npm install): ${(err as Error).message}`;
    return;
  }
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'report-browser-'));
  fs.mkdirSync(SHOTS, { recursive: true });
  const available = new Set(engines().filter(e => e.available).map(e => e.name));
  const third = ['io_uring', 'pool', 'workers'].find(e => available.has(e))!;
  const common = [`--filename=${dir}/f.dat`, '--size=16m', '--invalidate=0', '--rw=randread', '--time_based'];
  const cmp = await runCli(['bench', `--name=${NAME}`, ...common, '--bs=4k', '--iodepth=8', `--ioengine=sync,libuv,${third}`, '--runtime=1',
    '--output-format=json', `--output=${dir}/cmp.json`]);
  assert.equal(cmp.code, 0, cmp.stderr);
  const sweep = await runCli(['bench', '--name=qd-sweep', ...common, '--iodepth=1,8', '--bs=4k,64k', `--ioengine=sync,${third}`, '--runtime=250ms',
    '--output-format=json', `--output=${dir}/sweep.json`, `--report=${SHOTS}/sweep.html`]);
  assert.equal(sweep.code, 0, sweep.stderr);
  const report = await runCli(['report', `${dir}/cmp.json`, `${dir}/sweep.json`, '-o', `${SHOTS}/report.html`]);
  assert.equal(report.code, 0, report.stderr);
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'report-chromium-'));
  browser = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: ARGS });
});

after(async () => {
  await browser?.close();
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

interface CanvasCheck { id: string; chart: boolean; width: number; height: number; painted: number; hits: number[] }
interface PageCheck {
  specs: ChartSpec[];
  canvases: CanvasCheck[];
  /** px the page is wider than the window */
  overflow: number;
  tablesWithoutHeaders: number;
  text: string;
  headings: string[];
}

/**
 * In the page: every canvas's Chart.js chart, how many of its pixels are painted, and how many
 * are exactly each of the colours its spec draws with. (A string of the DOM types would do too;
 * the project's types have no DOM, so the page's globals come through globalThis.)
 */
function inspect(): PageCheck {
  const g = globalThis as any;
  const doc = g.document;
  const specs: ChartSpec[] = JSON.parse(doc.getElementById('chart-specs').textContent);
  const canvases = specs.map(spec => {
    const canvas = doc.getElementById(spec.id);
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    const rgb = spec.colors.map((c: string) => [1, 3, 5].map(i => parseInt(c.slice(i, i + 2), 16)));
    const hits = rgb.map(() => 0);
    let painted = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (data[i + 3] === 0) continue;
      painted++;
      if (data[i + 3] !== 255) continue;
      rgb.forEach(([r, gr, b]: number[], k: number) => {
        if (Math.abs(data[i] - r) <= 2 && Math.abs(data[i + 1] - gr) <= 2 && Math.abs(data[i + 2] - b) <= 2) hits[k]++;
      });
    }
    return { id: spec.id, chart: Boolean(g.Chart?.getChart(canvas)), width: canvas.width, height: canvas.height, painted, hits };
  });
  const tables = [...doc.querySelectorAll('table')];
  return {
    specs,
    canvases,
    overflow: doc.documentElement.scrollWidth - g.innerWidth,
    tablesWithoutHeaders: tables.filter((t: any) => t.querySelectorAll('thead th').length === 0).length,
    text: doc.body.innerText,
    headings: [...doc.querySelectorAll('h2')].map((h: any) => h.textContent),
  };
}

async function open(t: { diagnostic(m: string): void }, file: string, width: number): Promise<PageCheck> {
  const page = await browser!.newPage();
  await page.setViewportSize({ width, height: 900 });
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', m => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  page.on('pageerror', e => errors.push(`page error: ${e.message}`));
  const url = pathToFileURL(file).href;
  // Every request the page makes comes here: the page itself may load, nothing else.
  await page.route('**/*', route => {
    if (route.request().url() === url) return route.continue();
    requests.push(route.request().url());
    return route.abort();
  });
  try {
    await page.goto(url, { waitUntil: 'load' });
    const check = await page.evaluate(inspect);
    const shot = path.join(SHOTS, `${path.basename(file, '.html')}-${width}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    t.diagnostic(`screenshot: ${shot}`);
    assert.deepEqual(errors, [], 'no console errors');
    assert.deepEqual(requests, [], 'no request leaves the page');
    return check;
  } finally {
    await page.close();
  }
}

/** Every chart drew: a Chart.js chart on a sized canvas, painted, in its data's colours. */
function assertCharts(check: PageCheck, expected: number): void {
  assert.equal(check.specs.length, expected);
  assert.equal(check.canvases.length, expected);
  for (const [i, c] of check.canvases.entries()) {
    const spec = check.specs[i];
    assert.ok(c.chart, `${c.id}: a Chart.js chart`);
    assert.ok(c.width > 100 && c.height > 100, `${c.id}: ${c.width}x${c.height}`);
    assert.ok(c.painted > c.width * c.height * 0.01, `${c.id}: ${c.painted} pixels painted`);
    assert.ok(spec.datasets.some(d => d.data.some(v => v !== null && v > 0)), `${c.id}: data to draw`);
    assert.ok(Math.max(...c.hits) >= 20, `${c.id}: drawn in its colours (${c.hits})`);
    // Bars are solid: every engine's colour shows in a throughput chart.
    if (spec.kind === 'throughput') c.hits.forEach((n, k) => assert.ok(n >= 20, `${c.id}: ${spec.labels[k]}'s bar (${n} pixels)`));
  }
}

test('ioengine report of a comparison and a sweep, at 1280 and 800 px: no errors, no requests, every chart drawn', async t => {
  if (skip) return t.skip(skip);
  const file = path.join(SHOTS, 'report.html');
  const model = buildModel([readBenchFile(`${dir}/cmp.json`), readBenchFile(`${dir}/sweep.json`)]);
  assert.equal(model.workloads.length, 5, 'the comparison and four points of the sweep');
  assert.equal(model.sweeps.length, 4, 'IOPS against iodepth for bs=4k and 64k, against bs for iodepth 1 and 8');
  for (const width of [1280, 800]) {
    const check = await open(t, file, width);
    assertCharts(check, chartsOf(model));
    assert.ok(check.overflow <= 0, `${width} px: the page is ${check.overflow} px wider than the window`);
    assert.equal(check.tablesWithoutHeaders, 0, 'every table has headers');
    for (const text of [os.release(), os.cpus()[0].model.trim(), process.version, 'IOPS against iodepth']) assert.ok(check.text.includes(text), `${width} px: shows ${text}`);
    assert.ok(check.headings.includes(NAME), 'the job name as text');
    const cmp = model.workloads.find(w => w.jobname === NAME)!;
    assert.equal(cmp.results.length, 3);
    for (const r of cmp.results) assert.ok(check.text.includes(r.label));
  }
});

test('bench --report: the page of the sweep run opens and draws', async t => {
  if (skip) return t.skip(skip);
  const model = buildModel([readBenchFile(`${dir}/sweep.json`)]);
  const check = await open(t, path.join(SHOTS, 'sweep.html'), 1280);
  assertCharts(check, chartsOf(model));
  assert.ok(check.text.includes('qd-sweep: IOPS against iodepth'));
  assert.ok(check.text.includes('qd-sweep: IOPS against bs'));
});
