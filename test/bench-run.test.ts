// ioengine bench, running for real: every engine does every I/O of a short job, Ctrl-C stops a run
// and prints what was measured, files are laid out with data and dropped from the page cache, the
// default run cleans up after itself. Nothing here asserts a speed.
import assert from 'node:assert/strict';
import { fork, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { engines } from '../src/index.js';
import { cloneFile, planBench } from '../src/bench/plan.js';
import { invalidate, layOut } from '../src/bench/prepare.js';
import type { RunnerInput, RunnerMessage } from '../src/bench/protocol.js';
import { randomPermutation, workload } from '../src/bench/workload.js';
import { CLI, runCli, type Run } from './run-cli.js';

const FIXTURES = new URL('../../test/fixtures/', import.meta.url).pathname;

let dir: string;
before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-run-')); });
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function bench(args: string[]): Promise<Run> {
  return runCli(['bench', ...args], { cwd: FIXTURES, env: { ...process.env, BENCH_DIR: dir } });
}

test('every engine, and auto, does every I/O of a read job and a write job', async t => {
  const r = await bench(['--ioengine=all', '--output-format=json', 'bench-engines.fio']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /note: auto runs on \S+; /, 'the run says what auto chose');
  const jobs = JSON.parse(r.stdout).jobs as Array<Record<string, any>>;
  for (const e of [...engines(), { name: 'auto', available: true, reason: undefined }]) {
    await t.test(e.name, st => {
      if (!e.available) return st.skip(`${e.name} cannot run here: ${e.reason}`);
      const mine = jobs.filter(j => j['job options'].ioengine === e.name);
      assert.deepEqual(mine.map(j => j.jobname), ['read', 'write']);
      const [read, write] = mine;
      assert.equal(read.error, 0);
      assert.equal(read.read.total_ios, 256, '1 MiB in 4 KiB reads');
      assert.equal(read.read.short_ios, 0);
      assert.equal(read.read.io_bytes, 1 << 20);
      assert.equal(write.error, 0);
      assert.equal(write.write.total_ios, 256);
      assert.equal(write.write.short_ios, 0);
      assert.equal(write.sync.total_ios, 3, 'fdatasync=64: before the 65th, 129th and 193rd writes');
    });
  }
});

test('time_based runs for the runtime after the ramp; numjobs clones each report', async () => {
  const r = await bench(['--name=t', `--directory=${dir}`, '--size=1m', '--rw=randread', '--iodepth=2', '--ioengine=null',
    '--runtime=300ms', '--ramp_time=200ms', '--time_based', '--numjobs=2', '--output-format=json']);
  assert.equal(r.code, 0, r.stderr);
  const jobs = JSON.parse(r.stdout).jobs;
  assert.equal(jobs.length, 2, 'one entry per clone');
  for (const j of jobs) {
    assert.ok(j.read.runtime >= 300, `runtime ${j.read.runtime} ms`);
    assert.ok(j.read.total_ios > 0);
    assert.ok(j.elapsed >= 1);
  }
  assert.ok(fs.existsSync(path.join(dir, 't.0.0')) && fs.existsSync(path.join(dir, 't.1.0')), "clones' files named as fio names them");
});

test('a file that cannot be laid out is refused with exit status 1, naming the job and the file', async () => {
  const bad = await bench(['--name=bad', `--filename=${dir}`, '--size=64k', '--ioengine=sync']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /job 'bad': cannot lay out .*EISDIR/);
});

test('unknown options exit with status 1 and name the option and the closest known one', async () => {
  const r = await bench(['--name=x', '--bss=4k']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /unknown option '--bss' \(did you mean '--bs'\?\)/);
  const v = await bench(['--name=x', '--rw=sideways']);
  assert.equal(v.code, 1);
  assert.match(v.stderr, /invalid value 'sideways' for '--rw'/);
});

test('Ctrl-C stops the run and prints what was measured so far', async () => {
  const child = spawn(process.execPath, [CLI, 'bench', '--name=long', `--filename=${dir}/long.dat`, '--size=4m', '--rw=randread',
    '--ioengine=null', '--runtime=60', '--time_based', '--eta=always', '--output-format=json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', d => { stdout += d; });
  const code = await new Promise<number | null>(resolve => {
    child.stderr.on('data', d => {
      stderr += d;
      // The progress line shows live IOPS once the job runs: interrupt then, as a person would.
      if (/[1-9]\d*k? IOPS/.test(stderr) && !child.killed) child.kill('SIGINT');
    });
    child.on('exit', c => resolve(c));
  });
  assert.equal(code, 130, stderr);
  assert.match(stderr, /stopping; results so far follow/);
  const job = JSON.parse(stdout).jobs[0];
  assert.ok(job.read.total_ios > 0);
  assert.ok(job.read.runtime < 60000);
});

test('clones stopped before go measure nothing: the runner says the job did not start', async () => {
  // As when another job of the pass fails to start, or Ctrl-C comes while the runners get ready;
  // the go that may still follow the stop must not start them.
  const job = planBench(['--name=early', `--directory=${dir}`, '--size=64k', '--numjobs=2', '--ioengine=null'], { engines: engines(), directIo: false }).jobs[0];
  const files = [0, 1].map(c => cloneFile(job, c));
  for (const f of files) layOut(f, 64 << 10);
  const input: RunnerInput = { job, engine: 'null', size: 64 << 10, firstClone: 0, files: files.map(f => [f]) };
  const runner = fork(new URL('../src/bench/runner.js', import.meta.url), [JSON.stringify(input)], { execArgv: [], stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  const messages: RunnerMessage[] = [];
  runner.on('message', (m: RunnerMessage) => {
    messages.push(m);
    if (m.type === 'ready') {
      runner.send({ type: 'stop' });
      runner.send({ type: 'go' });
    }
  });
  const code = await new Promise(resolve => runner.on('exit', resolve));
  assert.deepEqual(messages, [{ type: 'ready' }, { type: 'error', message: 'stopped before it started' }]);
  assert.equal(code, 1);
});

test('batch=1 drives a job through readMany/writeMany: every I/O done and counted, on each engine', async () => {
  const file = path.join(dir, 'batch.dat');
  const r = await bench(['--name=w', `--filename=${file}`, '--size=1m', '--rw=randwrite', '--iodepth=16', '--batch=1', '--ioengine=sync,pool,io_uring',
    '--name=r', `--filename=${file}`, '--size=1m', '--rw=randread', '--iodepth=16', '--batch=1', '--stonewall', '--ioengine=sync,pool,io_uring', '--output-format=json']);
  assert.equal(r.code, 0, r.stderr);
  const jobs = JSON.parse(r.stdout).jobs as Array<Record<string, any>>;
  const ran = jobs.filter(j => engines().find(e => e.name === j['job options'].ioengine)?.available);
  assert.ok(ran.length >= 2, 'at least sync and pool ran');
  for (const j of ran) {
    const dir = j.jobname === 'w' ? j.write : j.read;
    assert.equal(j.error, 0, `${j.jobname} on ${j['job options'].ioengine}`);
    assert.equal(dir.total_ios, 256, `${j.jobname} on ${j['job options'].ioengine}: 1 MiB in 4 KiB I/Os`);
    assert.equal(dir.io_bytes, 1 << 20);
  }
});

test('fixedbufs=1 reads and writes through the ring\'s registered buffers; registerfiles=0 without registered files; a batch\'s latency counted once per I/O', async t => {
  if (!engines().find(e => e.name === 'io_uring')?.available) return t.skip('io_uring cannot run here');
  const file = path.join(dir, 'fixed.dat');
  const r = await bench(['--name=w', `--filename=${file}`, '--size=1m', '--rw=randwrite', '--iodepth=8', '--fixedbufs', '--ioengine=io_uring',
    '--name=r', `--filename=${file}`, '--size=1m', '--rw=randread', '--iodepth=8', '--fixedbufs', '--batch=1', '--stonewall', '--ioengine=io_uring',
    '--name=u', `--filename=${file}`, '--size=1m', '--rw=randread', '--iodepth=4', '--registerfiles=0', '--stonewall', '--ioengine=io_uring', '--output-format=json']);
  assert.equal(r.code, 0, r.stderr);
  const jobs = JSON.parse(r.stdout).jobs as Array<Record<string, any>>;
  assert.deepEqual(jobs.map(j => j.jobname), ['w', 'r', 'u']);
  for (const j of jobs) {
    const d = j.jobname === 'w' ? j.write : j.read;
    assert.equal(j.error, 0, j.jobname);
    assert.equal(d.total_ios, 256, `${j.jobname}: 1 MiB in 4 KiB I/Os`);
    assert.equal(d.io_bytes, 1 << 20);
    const clat = d.clat_ns;
    assert.ok(clat.min > 0 && clat.min <= clat.mean && clat.mean <= clat.max && clat.stddev >= 0, `${j.jobname}: ${JSON.stringify(clat)}`);
    assert.ok(Object.values(clat.percentile ?? {}).length > 0, `${j.jobname}: percentiles`);
  }
});

test('the default run prints a ranking table and removes its file', async () => {
  const r = await bench(['--runtime=100ms', '--size=8m', '--ioengine=sync,null', `--directory=${dir}`]);
  assert.equal(r.code, 0, r.stderr);
  const file = /file (\S+),/.exec(r.stdout)?.[1];
  assert.ok(file && file.startsWith(dir), r.stdout);
  assert.equal(fs.existsSync(file), false, 'the default run removes its file');
  for (const w of ['4k-randread-qd32', '4k-randread-qd1', '128k-read-qd8', '4k-randwrite-qd32', '4k-randread-direct-qd32', '4k-randwrite-fsync-qd8']) assert.match(r.stdout, new RegExp(`^${w}:`, 'm'));
  assert.match(r.stdout, /#\s+engine\s+IOPS\s+BW\s+vs 1st\s+p50\s+p99\s+p99\.9\s+CPU\/op\s+CPU\s+ctx\/op/);
  assert.match(r.stdout, /^\s+1\s+sync\s/m);
  assert.match(r.stdout, /null .*no I\/O: the bench's own cost/);
});

test('--fio adds fio itself as the reference row', async t => {
  if (spawnSync('fio', ['--version']).status !== 0) return t.skip('fio is not installed');
  const r = await bench(['--name=ref', `--filename=${dir}/ref.dat`, '--size=1m', '--rw=randread', '--invalidate=0', '--ioengine=sync', '--fio']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /fio psync .*fio, native reference/);
  assert.match(r.stdout, /^\s+1\s+sync\s/m);
});

test('files are laid out with data, no holes, and extended when short', () => {
  const f = path.join(dir, 'layout.dat');
  assert.equal(layOut(f, 3 << 20), true);
  const st = fs.statSync(f);
  assert.equal(st.size, 3 << 20);
  assert.ok(st.blocks * 512 >= st.size, 'no sparse holes');
  const data = fs.readFileSync(f);
  assert.ok(data.subarray(0, 4096).some(b => b !== 0) && data.subarray(data.length - 4096).some(b => b !== 0), 'random data, not zeros');
  assert.equal(layOut(f, 1 << 20), false, 'long enough: left alone');
  assert.equal(layOut(f, 4 << 20), true);
  assert.equal(fs.statSync(f).size, 4 << 20);
  assert.deepEqual(fs.readFileSync(f).subarray(0, 3 << 20), data, 'extending keeps what was there');
});

test('invalidate drops the file from the page cache', t => {
  if (spawnSync('fincore', ['--version']).status !== 0) return t.skip('fincore (util-linux) is not installed: cannot see the page cache');
  const f = path.join(dir, 'cached.dat');
  layOut(f, 4 << 20);
  fs.readFileSync(f);
  const resident = () => Number(spawnSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', f], { encoding: 'utf8' }).stdout.trim());
  if (resident() === 0) return t.skip('this file system does not keep the file in the page cache');
  const why = invalidate(f);
  if (why) return t.skip(why);
  assert.equal(resident(), 0);
});

test('random offsets visit every block once per pass (fio\'s random map)', () => {
  for (const n of [1, 2, 3, 7, 1000, 4097]) {
    for (const seed of [1, 0x89, 123456789]) {
      const next = randomPermutation(n, seed);
      const seen = new Set<number>();
      for (let i = 0; i < n; i++) seen.add(next());
      assert.equal(seen.size, n, `n=${n} seed=${seed}`);
      assert.ok([...seen].every(v => Number.isInteger(v) && v >= 0 && v < n));
    }
  }
  const a = randomPermutation(1000, 1);
  const b = randomPermutation(1000, 2);
  assert.notDeepEqual(Array.from({ length: 20 }, a), Array.from({ length: 20 }, b), 'the seed matters');
});

test('workloads: sequential cursors per direction, offsets inside the region, the read/write mix', () => {
  const seq = workload({ rw: 'read', rwmixread: 50, bs: 4096, offset: 8192, size: 3 * 4096, norandommap: false, seed: 1 });
  assert.deepEqual(Array.from({ length: 5 }, () => seq.nextOffset(false)), [8192, 12288, 16384, 8192, 12288]);
  const rw = workload({ rw: 'rw', rwmixread: 50, bs: 512, offset: 0, size: 4096, norandommap: false, seed: 1 });
  assert.deepEqual([rw.nextOffset(false), rw.nextOffset(true), rw.nextOffset(false), rw.nextOffset(true)], [0, 0, 512, 512]);
  const mix = workload({ rw: 'randrw', rwmixread: 70, bs: 4096, offset: 0, size: 1 << 20, norandommap: true, seed: 5 });
  let writes = 0;
  for (let i = 0; i < 10000; i++) {
    if (mix.nextIsWrite()) writes++;
    const o = mix.nextOffset(false);
    assert.ok(o >= 0 && o + 4096 <= 1 << 20 && o % 4096 === 0);
  }
  assert.ok(writes > 2700 && writes < 3300, `${writes} writes of 10000 with rwmixread=70`);
  const reads = workload({ rw: 'randread', rwmixread: 0, bs: 4096, offset: 0, size: 1 << 20, norandommap: false, seed: 5 });
  assert.equal(reads.nextIsWrite(), false, 'rwmixread only matters for rw and randrw');
});

test('the event loop\'s delay is measured for every engine: the sync engine stands it still for the whole run, a pool does not', async () => {
  const r = await bench(['--name=loop', `--filename=${dir}/loop.dat`, '--size=4m', '--invalidate=0', '--rw=randread', '--bs=4k', '--iodepth=8',
    '--runtime=400ms', '--time_based', '--ioengine=sync,pool', '--output-format=json']);
  assert.equal(r.code, 0, r.stderr);
  const jobs = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))).jobs as { 'job options': { ioengine: string }; 'ioengine loop delay_ns': { max: number; N: number; percentile?: Record<string, number> } }[];
  const loop = (engine: string) => jobs.find(j => j['job options'].ioengine === engine)!['ioengine loop delay_ns'];
  // sync never lets the loop run while it works: one tick after the work, late by about the runtime
  assert.ok(loop('sync').max >= 300e6, `sync: the loop's longest wait ${loop('sync').max} ns, expected the whole run`);
  // a pool's completions come back through the loop: it ticks all along
  assert.ok(loop('pool').N > 50, `pool: ${loop('pool').N} ticks in 400 ms`);
  assert.ok(loop('pool').max < loop('sync').max / 4, `pool's longest wait ${loop('pool').max} ns`);
  assert.ok(loop('pool').percentile?.['99.000000'] !== undefined);
});

test('SIGTERM and SIGHUP mid-run: the bench stops and leaves no temporary file behind', async () => {
  for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
    const tmp = fs.mkdtempSync(path.join(dir, 'tmp-'));
    // the default run lays out its file in the temp folder
    const child = spawn(process.execPath, [CLI, 'bench', '--ioengine=null', '--runtime=30', '--eta=always'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: tmp } });
    let stderr = '';
    const code = await new Promise<number | null>(resolve => {
      child.stderr.on('data', d => {
        stderr += d;
        if (/[1-9]\d*k? IOPS/.test(stderr) && !child.killed) child.kill(signal);
      });
      child.on('exit', (c, s) => resolve(c ?? (s ? -1 : null)));
    });
    assert.equal(code, 128 + os.constants.signals[signal], stderr);
    assert.deepEqual(fs.readdirSync(tmp).filter(f => f.startsWith('ioengine-bench-')), [], `${signal} left the bench's file`);
  }
});

test('an --output that fails when written (/dev/full) keeps the results on stdout', async t => {
  if (!fs.existsSync('/dev/full')) return t.skip('no /dev/full here');
  const r = await bench(['--name=full', `--filename=${dir}/full.dat`, '--size=64k', '--ioengine=null', '--output-format=json', '--output=/dev/full']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--output=\/dev\/full: ENOSPC.*the results follow on stdout/);
  assert.equal(JSON.parse(r.stdout).jobs[0].jobname, 'full');
});

test('what a job file holds is never sent to the terminal raw: escape sequences are shown as \\xNN', async () => {
  const job = path.join(dir, 'evil.fio');
  fs.writeFileSync(job, `[evil\x1b]2;pwned\x07]\nfilename=${dir}/evil.dat\nsize=64k\nioengine=null\nrw=sideways\x1b[31m\n`);
  const r = await bench([job]);
  assert.equal(r.code, 1);
  assert.doesNotMatch(r.stderr + r.stdout, /\x1b|\x07/, 'a control character reached the terminal');
  assert.match(r.stderr, /\\x1b/);
});
