// The report's model and page, on the JSON of a real (short) bench run: the ranking, the
// percentiles and CPU figures as the JSON has them, sweep detection, merging files, what the page
// holds, and the refusals of `ioengine report`. The browser test (report-browser.test.ts) opens it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { buildModel, checkBenchJson, chartSpecs, PERCENTILES, readBenchFile, renderReport, ReportInputError, type BenchJson, type ReportModel, type Source } from '../src/report/index.js';
import { runCli } from './run-cli.js';

/** The charts a model draws: three per workload, a fourth where the event loop's delay was measured, one per sweep. */
const chartsOf = (m: ReportModel) => m.workloads.length * 3 + m.workloads.filter(w => w.results.some(r => r.loopDelay && r.kind !== 'reference' && !r.error)).length + m.sweeps.length;

let dir: string;
let json: BenchJson;
/** A fresh copy of the run's JSON, to change for one test. */
const copy = (): BenchJson => structuredClone(json);
const source = (j: BenchJson, file = 'run.json'): Source => ({ file, json: j });

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'report-model-'));
  // A comparison (three engines, null the baseline) and, after it, a sweep over iodepth and bs.
  // Different runtimes: the comparison is not a point of the sweep.
  const r = await runCli(['bench', `--filename=${dir}/f.dat`, '--size=4m', '--invalidate=0', '--rw=randread', '--time_based',
    '--name=cmp', '--bs=4k', '--iodepth=4', '--ioengine=sync,libuv,null', '--runtime=300ms',
    '--name=sw', '--stonewall', '--iodepth=1,4', '--bs=4k,16k', '--ioengine=sync,libuv', '--runtime=150ms',
    '--output-format=json', `--output=${dir}/run.json`]);
  assert.equal(r.code, 0, r.stderr);
  json = JSON.parse(fs.readFileSync(`${dir}/run.json`, 'utf8'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const jobsOf = (j: BenchJson, name: string) => j.jobs.filter(x => x.jobname === name);

test('the bench names each combination of a sweep, and its job options say its values', () => {
  const names = [...new Set(json.jobs.map(j => j.jobname))];
  assert.deepEqual(names, ['cmp', 'sw-bs4k-qd1', 'sw-bs4k-qd4', 'sw-bs16k-qd1', 'sw-bs16k-qd4']);
  for (const j of json.jobs.filter(x => x.jobname.startsWith('sw-'))) {
    const [, bs, qd] = /^sw-bs(\w+)-qd(\d+)$/.exec(j.jobname)!;
    assert.equal(j['job options']!.bs, bs);
    assert.equal(j['job options']!.iodepth, qd);
  }
  assert.deepEqual(jobsOf(json, 'sw-bs16k-qd4').map(j => j['job options']!.ioengine), ['sync', 'libuv'], 'every combination on every engine');
  assert.ok(jobsOf(json, 'sw-bs16k-qd4')[1].read.total_ios > 0);
});

test('engines are ranked by IOPS, the null engine below them as the baseline', () => {
  const model = buildModel([source(json)]);
  const cmp = model.workloads.find(w => w.jobname === 'cmp')!;
  assert.equal(cmp.metric, 'iops');
  assert.deepEqual(cmp.results.map(r => r.kind), ['engine', 'engine', 'baseline']);
  assert.deepEqual(cmp.results.map(r => r.rank), [1, 2, undefined]);
  assert.equal(cmp.results[2].label, 'null');
  assert.ok(cmp.results[0].iops >= cmp.results[1].iops, 'best first');
  assert.equal(cmp.results[0].vsBest, 1);
  assert.equal(cmp.results[1].vsBest, cmp.results[1].iops / cmp.results[0].iops);
  assert.deepEqual(new Set(cmp.results.slice(0, 2).map(r => r.label)), new Set(['sync', 'libuv']));
  for (const r of cmp.results) {
    const j = jobsOf(json, 'cmp').find(x => x['job options']!.ioengine === r.engine)!;
    assert.equal(r.iops, j.read.iops + j.write.iops);
    assert.equal(r.bwBytes, j.read.bw_bytes + j.write.bw_bytes);
    assert.equal(r.ios, j.read.total_ios);
    assert.ok(r.ios > 0);
  }
  assert.equal(cmp.options.ioengine, undefined, 'the engine is not part of the workload');
  assert.equal(cmp.options.rw, 'randread');
  assert.equal(cmp.bs, 4096);
  assert.equal(cmp.iodepth, 4);
});

test('latency: p1 to p99.99 as the JSON has them, never decreasing', () => {
  const model = buildModel([source(json)]);
  assert.equal(PERCENTILES.length, 17);
  assert.deepEqual([PERCENTILES[0], PERCENTILES[16]], [1, 99.99]);
  for (const w of model.workloads) {
    for (const r of w.results) {
      const j = jobsOf(json, w.jobname).find(x => x['job options']!.ioengine === r.engine)!;
      const expected = Object.values(j.read.clat_ns!.percentile!);
      assert.equal(r.latency.length, 17);
      assert.deepEqual(r.latency, expected, `${w.jobname} on ${r.engine}`);
      const values = r.latency as number[];
      assert.deepEqual(values, [...values].sort((a, b) => a - b));
      assert.ok(values[0] > 0);
    }
  }
});

test('CPU time per operation: usr_cpu and sys_cpu of job_runtime, over the operations', () => {
  const model = buildModel([source(json)]);
  for (const w of model.workloads) {
    for (const r of w.results) {
      const j = jobsOf(json, w.jobname).find(x => x['job options']!.ioengine === r.engine)!;
      const usUser = (j.usr_cpu! / 100) * j.job_runtime! * 1000;
      const usSys = (j.sys_cpu! / 100) * j.job_runtime! * 1000;
      assert.ok(Math.abs(r.usrUsPerOp * r.ios - usUser) < 1e-6 * usUser + 1e-9);
      assert.ok(Math.abs(r.sysUsPerOp * r.ios - usSys) < 1e-6 * usSys + 1e-9);
      assert.ok(r.usrUsPerOp + r.sysUsPerOp > 0, `${w.jobname} on ${r.engine} used CPU`);
      assert.equal(r.cpuPercent, j.usr_cpu! + j.sys_cpu!);
      assert.equal(r.ctxPerOp, j.ctx! / r.ios);
    }
  }
});

test('a sweep of iodepth and bs: IOPS against iodepth for each bs, against bs for each iodepth, one line per engine', () => {
  const model = buildModel([source(json)]);
  assert.equal(model.sweeps.length, 4, 'both vary: a chart for each bs and one for each iodepth');
  const byId = new Map(model.workloads.map(w => [w.id, w]));
  const byBs = model.sweeps.filter(s => s.option === 'bs');
  assert.deepEqual(byBs.map(s => s.held), ['rw=randread iodepth=1', 'rw=randread iodepth=4']);
  for (const [i, s] of byBs.entries()) {
    assert.deepEqual(s.labels, ['4k', '16k']);
    assert.deepEqual(s.workloads.map(id => byId.get(id)!.jobname), [`sw-bs4k-qd${[1, 4][i]}`, `sw-bs16k-qd${[1, 4][i]}`]);
    for (const line of s.lines) {
      assert.deepEqual(line.iops, s.workloads.map(id => byId.get(id)!.results.find(r => r.label === line.label)!.iops));
    }
  }
  for (const [i, s] of model.sweeps.filter(x => x.option === 'iodepth').entries()) {
    assert.equal(s.option, 'iodepth');
    assert.equal(s.name, 'sw');
    assert.equal(s.held, `rw=randread bs=${['4k', '16k'][i]}`);
    assert.deepEqual(s.values, [1, 4]);
    assert.deepEqual(s.labels, ['1', '4']);
    assert.deepEqual(s.workloads.map(id => byId.get(id)!.jobname), [`sw-bs${['4k', '16k'][i]}-qd1`, `sw-bs${['4k', '16k'][i]}-qd4`]);
    assert.deepEqual(s.lines.map(l => l.label).sort(), ['libuv', 'sync']);
    for (const line of s.lines) {
      assert.deepEqual(line.iops, s.workloads.map(id => byId.get(id)!.results.find(r => r.label === line.label)!.iops));
    }
  }
  assert.ok(!model.sweeps.some(s => s.workloads.includes(model.workloads.find(w => w.jobname === 'cmp')!.id)), 'cmp has other options: not a point');
});

test('sweep detection: only workloads that differ in iodepth or bs alone; bs when iodepth is fixed', () => {
  // One point of the bs=4k sweep gets another rw: that sweep is gone, the bs=16k one stays.
  const j = copy();
  for (const x of jobsOf(j, 'sw-bs4k-qd4')) x['job options']!.rw = 'randwrite';
  const sweeps = buildModel([source(j)]).sweeps;
  // The qd1 points still make a bs sweep; the qd4 ones differ in rw.
  assert.deepEqual(sweeps.map(s => s.held), ['rw=randread bs=16k', 'rw=randread iodepth=1']);
  // Only the qd1 points: bs is what varies.
  const k = copy();
  k.jobs = k.jobs.filter(x => x.jobname.endsWith('-qd1'));
  const bs = buildModel([source(k)]).sweeps;
  assert.equal(bs.length, 1);
  assert.equal(bs[0].option, 'bs');
  assert.deepEqual(bs[0].values, [4096, 16384]);
  assert.deepEqual(bs[0].labels, ['4k', '16k']);
  assert.equal(bs[0].held, 'rw=randread iodepth=1');
  // No sweep at all in the comparison alone.
  const c = copy();
  c.jobs = jobsOf(c, 'cmp');
  assert.deepEqual(buildModel([source(c)]).sweeps, []);
});

test('several files: one workload compared across them; the same engine twice is told apart by its file', () => {
  const a = copy();
  a.jobs = a.jobs.filter(x => x['job options']!.ioengine === 'sync');
  const b = copy();
  b.jobs = b.jobs.filter(x => x['job options']!.ioengine === 'libuv');
  const model = buildModel([source(a, 'a.json'), source(b, 'b.json')]);
  const cmp = model.workloads.find(w => w.jobname === 'cmp')!;
  assert.deepEqual(cmp.results.map(r => r.label).sort(), ['libuv', 'sync']);
  assert.deepEqual(cmp.files, ['a.json', 'b.json']);
  assert.deepEqual(model.machines.map(m => m.file), ['a.json', 'b.json']);
  const twice = buildModel([source(a, 'a.json'), source(copy(), 'c.json')]).workloads.find(w => w.jobname === 'cmp')!;
  assert.deepEqual(twice.results.map(r => r.label).filter(l => l.startsWith('sync')).sort(), ['sync (a.json)', 'sync (c.json)']);
});

test('the machine: kernel, CPUs, CPU model, Node and date from "ioengine host"', () => {
  const [m] = buildModel([source(json)]).machines;
  assert.equal(m.kernel, `${os.type()} ${os.release()}`);
  assert.equal(m.cpus, os.cpus().length);
  assert.equal(m.cpu_model, os.cpus()[0].model.trim());
  assert.equal(m.node, process.version);
  assert.match(m.version, /^ioengine-\d/);
  assert.ok(Math.abs(new Date(m.date!).getTime() - Date.now()) < 10 * 60e3, 'dated today');
  const fio = copy();
  delete fio['ioengine host'];
  assert.equal(buildModel([source(fio)]).machines[0].kernel, undefined, "fio's own JSON: no machine, still a report");
});

test('the page: self-contained, every chart with its canvas, names escaped', () => {
  const j = copy();
  const evil = '</script><img src=x onerror=alert(1)> & "co"';
  for (const x of jobsOf(j, 'cmp')) x.jobname = evil;
  const html = renderReport([source(j)]);
  assert.match(html, /^<!doctype html>/);
  assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none';/);
  assert.match(html, /Chart\.js v4\./, 'Chart.js inside the page');
  assert.doesNotMatch(html, /<(link|iframe|object|embed)\b/i);
  assert.doesNotMatch(html, /\s(src|href)=["']?(https?:|\/\/)/i, 'nothing loaded from elsewhere');
  assert.doesNotMatch(/<style>(.*?)<\/style>/s.exec(html)![1], /@import|url\(|@font-face/i, 'no fonts or images from elsewhere');
  assert.doesNotMatch(html, /sourceMappingURL/);
  assert.equal(html.split(evil).length, 1, 'the job name never appears raw');
  assert.ok(html.includes('&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; &amp; &quot;co&quot;'), 'but escaped');
  assert.equal((html.match(/<\/script>/g) ?? []).length, 3, 'three scripts, none ended early');
  const specs = JSON.parse(/<script type="application\/json" id="chart-specs">(.*?)<\/script>/s.exec(html)![1]);
  const model = buildModel([source(j)]);
  assert.deepEqual(specs, JSON.parse(JSON.stringify(chartSpecs(model))));
  assert.equal(specs.length, chartsOf(model));
  assert.ok(specs.some((s: { kind: string }) => s.kind === 'loop'), 'the event loop delay chart of a bench run');
  for (const s of specs) assert.ok(html.includes(`<canvas id="${s.id}"`), `a canvas for ${s.id}`);
  for (const text of [os.release(), process.version, '<th scope="col" class="wide">p99.99</th>', 'CPU/op user', 'IOPS against iodepth']) assert.ok(html.includes(text), text);
});

test('reading files: refusals say what is wrong', () => {
  const write = (name: string, text: string) => {
    fs.writeFileSync(path.join(dir, name), text);
    return path.join(dir, name);
  };
  const refused = (file: string, pattern: RegExp) => assert.throws(() => readBenchFile(file), (e: unknown) => e instanceof ReportInputError && pattern.test(e.message));
  refused(path.join(dir, 'missing.json'), /cannot read '.*missing\.json': no such file/);
  refused(dir, /it is a folder/);
  refused(write('text.json', 'IOPS=5'), /is not JSON.*ioengine bench --output-format=json/);
  refused(write('pkg.json', '{"name":"x"}'), /not the JSON of a bench run: it has no "jobs" array/);
  refused(write('empty.json', '{"jobs":[]}'), /"jobs" array is empty/);
  refused(write('odd.json', '{"jobs":[{"jobname":"a","read":{}}]}'), /jobs\[0\] \('a'\) lacks "read"\/"write"/);
  assert.throws(() => checkBenchJson([1], 'x'), /expected an object/);
  // fio prints notes before its JSON at times: read from the first '{'.
  const noted = write('noted.json', `note: something\n${JSON.stringify(json)}`);
  assert.equal(readBenchFile(noted).json.jobs.length, json.jobs.length);
});

test('ioengine report: writes the page from several files; refuses what it cannot use with exit status 1', async () => {
  fs.writeFileSync(path.join(dir, 'copy.json'), JSON.stringify(json));
  const out = path.join(dir, 'r.html');
  const ok = await runCli(['report', `${dir}/run.json`, `${dir}/copy.json`, '-o', out]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, `report: ${out}\n`);
  assert.match(fs.readFileSync(out, 'utf8'), /ioengine bench report/);

  const missing = await runCli(['report', `${dir}/nope.json`, '-o', `${dir}/x.html`]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^ioengine report: cannot read '.*nope\.json': no such file/);
  assert.equal(fs.existsSync(`${dir}/x.html`), false);
  fs.writeFileSync(path.join(dir, 'pkg.json'), '{"name":"x"}');
  const wrong = await runCli(['report', `${dir}/run.json`, `${dir}/pkg.json`, '-o', `${dir}/x.html`]);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /pkg\.json' is not the JSON of a bench run/);
  const noOutput = await runCli(['report', `${dir}/run.json`]);
  assert.equal(noOutput.code, 1);
  assert.match(noOutput.stderr, /required option '-o, --output <file>'/);
  const unwritable = await runCli(['report', `${dir}/run.json`, '-o', `${dir}/no/such/dir/r.html`]);
  assert.equal(unwritable.code, 1);
  assert.match(unwritable.stderr, /cannot write '.*r\.html'/);
});

test('bench --report writes the page of the run; a folder it cannot write in is refused before running', async () => {
  const out = path.join(dir, 'bench.html');
  const r = await runCli(['bench', '--name=br', `--filename=${dir}/br.dat`, '--size=256k', '--ioengine=sync,null', `--report=${out}`]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^br: .*rw=read/m, 'the normal output still printed');
  assert.match(r.stderr, new RegExp(`report: ${out}`));
  const html = fs.readFileSync(out, 'utf8');
  assert.ok(html.includes('this run') && html.includes(os.release()));
  assert.ok(html.includes('id="w1-throughput"'));
  const bad = await runCli(['bench', '--name=br', `--filename=${dir}/br.dat`, '--size=256k', '--ioengine=null', `--report=${dir}/no/such/r.html`]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--report=.*cannot write in/);
  assert.equal(bad.stdout, '', 'refused before running');
});

test('a failed engine is listed with its error, not ranked', () => {
  const j = copy();
  const failed = jobsOf(j, 'cmp').find(x => x['job options']!.ioengine === 'libuv')!;
  failed.error = 5;
  failed['error message'] = 'EIO: i/o error';
  const cmp = buildModel([source(j)]).workloads.find(w => w.jobname === 'cmp')!;
  assert.deepEqual(cmp.results.map(r => [r.label, r.rank, r.error]), [['sync', 1, undefined], ['libuv', undefined, 'error 5: EIO: i/o error'], ['null', undefined, undefined]]);
  assert.ok(renderReport([source(j)]).includes('failed: error 5: EIO: i/o error'));
});

test('fields of the wrong type are refused with the field named, never a stack', () => {
  const cases: [string[], unknown, RegExp][] = [
    [['ioengine version'], {}, /"ioengine version" should be a string/],
    [['ioengine host', 'kernel'], 42, /"ioengine host"\."kernel" should be a string/],
    [['ioengine host', 'memory'], 'x', /"memory" should be a number/],
    [['jobs', '0', 'usr_cpu'], 'x', /jobs\[0\]\."usr_cpu" should be a number/],
    [['jobs', '0', 'job options', 'ioengine'], 42, /"job options" should be an object of strings/],
    [['jobs', '0', 'read', 'clat_ns', 'percentile', '50.000000'], 'x', /percentile" should be an object of numbers/],
    [['jobs', '0', 'ioengine loop delay_ns', 'max'], [], /"max" should be a number/],
  ];
  for (const [at, value, message] of cases) {
    const j = copy() as unknown as Record<string, any>;
    let o = j;
    for (const k of at.slice(0, -1)) o = o[k] ??= {};
    o[at.at(-1)!] = value;
    assert.throws(() => renderReport([{ file: 'f.json', json: checkBenchJson(j, 'f.json') }]), (err: Error) => {
      assert.ok(err instanceof ReportInputError, `${at.join('.')}: ${err.stack}`);
      assert.match(err.message, message);
      return true;
    });
  }
});
