// ioengine bench --output-format=json: fio's JSON, key for key, and job for job against fio itself
// on the same job files. Size-based jobs, so both do an exact, known number of I/Os.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as hdr from 'hdr-histogram-js';
import { fioJson } from '../src/bench/fio-json.js';
import { parseFioJson } from '../src/fio/json.js';
import { latencyHistogram } from '../src/bench/histogram.js';
import { planBench } from '../src/bench/plan.js';
import type { DirectionResult } from '../src/bench/protocol.js';
import { entriesOf } from '../src/bench/results.js';
import { run, runCli, type Run } from './run-cli.js';

const FIXTURES = new URL('../../test/fixtures/', import.meta.url).pathname;
const FIO = spawnSync('fio', ['--version'], { encoding: 'utf8' }).status === 0;
const NO_FIO = 'fio is not installed (apt-get install fio): nothing to compare with';

let dir: string;
before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-json-')); });
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** In the fixtures' folder, with the job files' ${BENCH_DIR}. */
const inFixtures = () => ({ cwd: FIXTURES, env: { ...process.env, BENCH_DIR: dir } });
const runFio = (args: string[]) => run('fio', args, inFixtures());
const bench = (args: string[]) => runCli(['bench', ...args], inFixtures());
const parse = (r: Run) => parseFioJson(r.stdout) as Record<string, any>;

type Json = Record<string, unknown>;
/** Every key path of a JSON value; arrays as [] (fio's jobs are all the same shape). */
function keyPaths(value: unknown, at = ''): Set<string> {
  const out = new Set<string>();
  if (Array.isArray(value)) for (const v of value) for (const k of keyPaths(v, `${at}[]`)) out.add(k);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.add(`${at}/${k}`);
      for (const p of keyPaths(v, `${at}/${k}`)) out.add(p);
    }
  }
  return out;
}

/** What differs on purpose (fio-json.ts): our version key instead of fio's, the machine, the event loop's delay, no disk statistics. */
const ONLY_FIO = /^\/(fio version|disk_util)/;
const ONLY_OURS = /^\/(ioengine version|ioengine host(\/.*)?|jobs\[\]\/ioengine loop delay_ns(\/.*)?)$/;

/** Our key paths and fio's, less the differences on purpose; "job options" always name the engine. */
function comparable(fio: unknown, ours: unknown): [string[], string[]] {
  const a = [...keyPaths(fio)].filter(k => !ONLY_FIO.test(k));
  const engine = '/jobs[]/job options/ioengine';
  const b = [...keyPaths(ours)].filter(k => !ONLY_OURS.test(k) && (k !== engine || a.includes(engine)));
  return [a.sort(), b.sort()];
}

test('the JSON has the keys fio prints for the same job, and no others', async t => {
  if (!FIO) return t.skip(NO_FIO);
  const job = ['--name=shape', `--filename=${dir}/shape.dat`, '--size=2m', '--rw=randread', '--bs=4k', '--iodepth=4', '--invalidate=0', '--output-format=json'];
  const fio = await runFio([...job, '--ioengine=psync']);
  assert.equal(fio.code, 0, fio.stderr);
  const ours = await bench([...job, '--ioengine=sync']);
  assert.equal(ours.code, 0, ours.stderr);
  const [a, b] = comparable(parse(fio), parse(ours));
  assert.ok(a.includes('/jobs[]/job options/ioengine'));
  assert.deepEqual(b, a);
  // And with fsync, writes and a [global] section: the sync object gets percentiles, "global options" appears.
  const fioW = await runFio(['--output-format=json', '--fsync=8', '--ioengine=psync', 'bench-seq-rand.fio']);
  const oursW = await bench(['--output-format=json', '--fsync=8', '--ioengine=sync', 'bench-seq-rand.fio']);
  assert.equal(oursW.code, 0, oursW.stderr);
  const [aw, bw] = comparable(parse(fioW), parse(oursW));
  assert.ok(aw.includes('/global options') && aw.includes('/jobs[]/sync/lat_ns/percentile/99.000000'));
  assert.deepEqual(bw, aw);
  assert.ok(keyPaths(parse(oursW)).has('/jobs[]/job options/ioengine'), 'job options name the engine that ran');
});

interface FioJob {
  jobname: string; groupid: number; error: number; 'job options': Record<string, string>;
  read: { total_ios: number; io_bytes: number }; write: { total_ios: number; io_bytes: number }; sync: { total_ios: number };
}
const summary = (j: FioJob) => ({ jobname: j.jobname, groupid: j.groupid, error: j.error, ios: j.read.total_ios + j.write.total_ios, bytes: j.read.io_bytes + j.write.io_bytes, syncs: j.sync.total_ios });

for (const [file, extra] of [['bench-seq-rand.fio', []], ['bench-clones.fio', []], ['bench-clones.fio', ['--group_reporting']]] as const) {
  test(`job for job as fio reports ${file} ${extra.join(' ')}`, async t => {
    if (!FIO) return t.skip(NO_FIO);
    const fio = await runFio(['--output-format=json', ...extra, file]);
    assert.equal(fio.code, 0, fio.stderr);
    const ours = await bench(['--output-format=json', '--ioengine=pool', ...extra, file]);
    assert.equal(ours.code, 0, ours.stderr);
    const a = parse(fio) as { jobs: FioJob[]; 'global options': Json };
    const b = parse(ours) as { jobs: FioJob[]; 'global options': Json };
    assert.deepEqual(b.jobs.map(summary), a.jobs.map(summary));
    for (const [i, j] of b.jobs.entries()) {
      const theirs = a.jobs[i];
      // Directions match exactly where the workload fixes them; randrw draws its mix at random.
      if (!j['job options'].rw?.startsWith('randrw')) {
        assert.equal(j.read.total_ios, theirs.read.total_ios, `${j.jobname} reads`);
        assert.equal(j.write.total_ios, theirs.write.total_ios, `${j.jobname} writes`);
      } else {
        const share = j.read.total_ios / (j.read.total_ios + j.write.total_ios);
        assert.ok(share > 0.55 && share < 0.85, `${j.jobname}: ${share} of reads with rwmixread=70`);
      }
    }
    const { ioengine, ...ourGlobals } = b['global options'];
    assert.equal(ioengine, 'pool');
    assert.deepEqual(ourGlobals, a['global options']);
  });
}

test('the figures are consistent with each other as fio computes them', async () => {
  const r = await bench([`--filename=${dir}/figures.dat`, '--size=1m', '--bs=4k', '--invalidate=0', '--output-format=json',
    '--name=r', '--rw=randread', '--iodepth=4', '--ioengine=libuv,sync',
    '--name=w', '--stonewall', '--rw=randwrite', '--fdatasync=16', '--ioengine=libuv,sync']);
  assert.equal(r.code, 0, r.stderr);
  const json = parse(r);
  assert.match(json['ioengine version'], /^ioengine-\d+\.\d+\.\d+/);
  assert.equal(typeof json.timestamp, 'number');
  // The machine, for the report: a key of ours beside fio's.
  const host = json['ioengine host'];
  assert.deepEqual(Object.keys(host), ['kernel', 'cpus', 'cpu_model', 'arch', 'memory', 'node', 'date']);
  assert.equal(host.kernel, `${os.type()} ${os.release()}`);
  assert.equal(host.cpus, os.cpus().length);
  assert.ok(host.cpus > 0 && typeof host.cpu_model === 'string' && host.cpu_model.length > 0);
  assert.equal(host.node, process.version);
  assert.equal(host.memory, os.totalmem());
  assert.equal(new Date(host.date).getTime(), json.timestamp_ms, 'the date is when the run started, as fio\'s timestamp');
  assert.deepEqual(json.jobs.map((j: FioJob) => [j.jobname, j['job options'].ioengine, j.groupid]),
    [['r', 'libuv', 0], ['r', 'sync', 0], ['w', 'libuv', 1], ['w', 'sync', 1]], 'a comparison: one entry per job per engine, in fio order');
  for (const j of json.jobs) {
    const d = j.jobname === 'r' ? j.read : j.write;
    assert.equal(d.total_ios, 256);
    assert.equal(d.io_bytes, 256 * 4096);
    assert.equal(d.io_kbytes, 1024);
    assert.ok(d.runtime > 0);
    assert.equal(d.bw_bytes, Math.floor((d.io_bytes * 1000) / d.runtime));
    assert.equal(d.bw, Math.floor(d.bw_bytes / 1024));
    assert.equal(d.iops, (d.total_ios * 1000) / d.runtime);
    assert.equal(d.clat_ns.N, 256);
    assert.deepEqual(d.lat_ns, { min: d.clat_ns.min, max: d.clat_ns.max, mean: d.clat_ns.mean, stddev: d.clat_ns.stddev, N: d.clat_ns.N });
    assert.equal(d.slat_ns.N, 0);
    const p: number[] = Object.values(d.clat_ns.percentile);
    assert.deepEqual(Object.keys(d.clat_ns.percentile), ['1.000000', '5.000000', '10.000000', '20.000000', '30.000000', '40.000000', '50.000000',
      '60.000000', '70.000000', '80.000000', '90.000000', '95.000000', '99.000000', '99.500000', '99.900000', '99.950000', '99.990000']);
    assert.deepEqual(p, [...p].sort((x, y) => x - y), 'percentiles never decrease');
    assert.ok(d.clat_ns.min <= d.clat_ns.mean && d.clat_ns.mean <= d.clat_ns.max);
    assert.ok(p[0] >= d.clat_ns.min * 0.99 && p[p.length - 1] <= d.clat_ns.max * 1.01 + 1, 'percentiles within [min, max] (hdr: 3 digits)');
    const sum = (o: Record<string, number>) => Object.values(o).reduce((s, v) => s + v, 0);
    assert.ok(Math.abs(sum(j.latency_ns) + sum(j.latency_us) + sum(j.latency_ms) - 100) < 0.5, 'latency buckets cover every I/O');
    assert.ok(Math.abs(sum(j.iodepth_level) - 100) < 0.01);
    assert.ok(j.usr_cpu >= 0 && j.sys_cpu >= 0 && j.ctx >= 0);
    assert.equal(j.job_runtime, d.runtime);
    assert.equal(j.error, 0);
  }
  const [rLibuv, rSync, wLibuv] = json.jobs;
  assert.ok(rLibuv.iodepth_level['4'] > 90, 'libuv keeps iodepth=4 in flight (all but the first submissions)');
  assert.equal(rSync.iodepth_level['1'], 100, 'sync: iodepth capped at 1, as fio does for psync');
  assert.equal(wLibuv.sync.total_ios, 15, '256 writes with fdatasync=16: a sync before every 17th write');
  assert.equal(wLibuv.sync.lat_ns.N, 15);
  assert.ok(wLibuv.sync.lat_ns.percentile['50.000000'] > 0);
  assert.match(r.stderr, /iodepth is capped at 1/);
});

test('peers.mjs can read the output: jobs[0].read.iops, clat percentiles, usr/sys cpu', async () => {
  // As /work/shared/tools/peers.mjs calls a project: fio's options, output on stdout.
  const r = await bench(['--output-format=json', '--name=w', `--filename=${dir}/peers.dat`, '--size=4m', '--invalidate=0',
    '--rw=randread', '--bs=4096', '--iodepth=32', '--ioengine=sync', '--runtime=300ms', '--time_based', '--direct=0']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))).jobs[0];
  const p = j.read.clat_ns.percentile;
  for (const v of [j.read.iops, p['50.000000'], p['99.000000'], j.usr_cpu, j.sys_cpu]) assert.equal(typeof v, 'number');
  assert.ok(j.read.iops > 0 && p['50.000000'] > 0);
  assert.ok(j.read.runtime >= 300, `time_based ran the whole runtime (${j.read.runtime} ms)`);
  assert.equal(r.stderr.includes('\r'), false, 'no progress line when stderr is not a terminal');
});

test('--output writes the results to a file, not stdout', async () => {
  const out = path.join(dir, 'out.json');
  const r = await bench(['--name=o', `--filename=${dir}/o.dat`, '--size=64k', '--ioengine=null', '--output-format=json', `--output=${out}`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '');
  assert.equal(JSON.parse(fs.readFileSync(out, 'utf8')).jobs[0].read.total_ios, 16);
});

test('an --output that cannot be written is refused before any job runs', async () => {
  for (const [out, why] of [[`${dir}/no/such/out.json`, /--output=.*out\.json: cannot write in .*no\/such/], [dir, /--output=.*: it is a folder/]] as const) {
    const r = await bench(['--name=o', `--filename=${dir}/never.dat`, '--size=64k', '--ioengine=null', '--output-format=json', `--output=${out}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, why);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(fs.existsSync(`${dir}/never.dat`), false, 'no job ran');
  }
});

test('a long run: bandwidth and IOPS figures from more samples than a call can take as arguments', () => {
  // 200,000 samples of 500 ms: a day and more of time_based.
  const samples = Array.from({ length: 200_000 }, (_, i) => 1 + (i % 1000));
  const empty = hdr.encodeIntoCompressedBase64(latencyHistogram(false));
  const none: DirectionResult = { ios: 0, bytes: 0, shortIos: 0, min: 0, max: 0, mean: 0, m2: 0, histogram: empty, runtimeMs: 0, bwSamples: [], iopsSamples: [] };
  const read = { ...none, ios: 1, bytes: 4096, min: 10, max: 10, mean: 10, runtimeMs: 1, bwSamples: samples, iopsSamples: samples };
  const job = planBench(['--name=long', '--filename=/tmp/long.dat', '--size=1m', '--ioengine=null'], { engines: [{ name: 'null', available: true }], directIo: false }).jobs[0];
  const cpu = { userMs: 0, systemMs: 0, voluntary: 0, involuntary: 0, majorFaults: 0, minorFaults: 0, windowMs: 1 };
  const clone = { clone: 0, engine: 'null', read, write: none, sync: none, loop: none, depth: [1, 0, 0, 0, 0, 0, 0], elapsedMs: 1, error: 0 };
  const entries = entriesOf([{ job, engine: 'null', pass: 0, clones: [clone], cpu }]);
  const j = fioJson({ globalOptions: {}, entries, startedAt: new Date() }).jobs[0];
  assert.deepEqual([j.read.bw_min, j.read.bw_max, j.read.bw_samples], [1, 1000, 200_000]);
  assert.deepEqual([j.read.iops_min, j.read.iops_max, j.read.iops_samples], [1, 1000, 200_000]);
});

test('whole-file workloads: readfile, readstream, writefile and stat of nrfiles files, each once, on every engine asked', async () => {
  const files = `${dir}/whole`;
  const r = await bench([`--directory=${files}`, '--nrfiles=20', '--filesize=3000', '--iodepth=4', '--output-format=json', '--ioengine=sync,pool,io_uring,libuv',
    '--name=rf', '--rw=readfile', '--name=rs', '--stonewall', '--rw=readstream', '--bs=1024',
    '--name=wf', '--stonewall', '--rw=writefile', '--name=st', '--stonewall', '--rw=stat']);
  assert.equal(r.code, 0, r.stderr);
  const jobs = parse(r).jobs as { jobname: string; read: { io_bytes: number; total_ios: number }; write: { io_bytes: number; total_ios: number }; 'job options': Record<string, string> }[];
  const engines = (name: string) => jobs.filter(j => j.jobname === name);
  for (const j of engines('rf')) assert.deepEqual([j.read.total_ios, j.read.io_bytes, j.write.total_ios], [20, 60000, 0], `readfile on ${j['job options'].ioengine}`);
  // A stream's I/Os are its chunks of bs (the highWaterMark): 1024, 1024 and 952 bytes a file.
  for (const j of engines('rs')) {
    assert.deepEqual([j.read.total_ios, j.read.io_bytes, j.write.total_ios], [60, 60000, 0], `readstream on ${j['job options'].ioengine}`);
    assert.equal((j.read as unknown as { short_ios: number }).short_ios, 20, 'one short chunk a file');
  }
  for (const j of engines('wf')) assert.deepEqual([j.write.total_ios, j.write.io_bytes, j.read.total_ios], [20, 60000, 0], `writefile on ${j['job options'].ioengine}`);
  for (const j of engines('st')) assert.deepEqual([j.read.total_ios, j.read.io_bytes], [20, 0], `stat on ${j['job options'].ioengine}`);
  assert.ok(engines('rf').length >= 2, 'a row per engine');
  // writefile replaced each file whole: its length, and the bench's bytes
  const written = fs.readdirSync(files).filter(f => f.startsWith('wf.'));
  assert.equal(written.length, 20);
  for (const f of written) assert.deepEqual(fs.readFileSync(path.join(files, f)), Buffer.alloc(3000, 0x5a), f);
});
