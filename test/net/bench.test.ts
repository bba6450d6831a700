// ioengine bench --rw=rr|stream|http, running for real (1 s a job): every socket engine serves, the
// load generator drives it, the JSON and the table say what was measured, the report charts it. Nothing here asserts a
// speed; only that work was done and reported.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { netEngines } from '../../src/net/index.js';
import { runCli } from '../run-cli.js';

const available = netEngines().filter(e => e.available).map(e => e.name);

test('rr on every socket engine: requests done and echoed, latency, server CPU, loop delay and the generator\'s CPU in the JSON', { timeout: 60_000 }, async () => {
  const r = await runCli(['bench', '--rw=rr', '--bs=512', '--iodepth=8', '--runtime=1', '--ioengine=all', '--output-format=json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { generator: string; jobs: Record<string, any>[] };
  assert.match(out.generator, /netload/);
  assert.deepEqual(out.jobs.map(j => j.ioengine), available);
  for (const j of out.jobs) {
    assert.equal(j.rw, 'rr');
    assert.equal(j.bs, 512);
    assert.equal(j.iodepth, 8);
    assert.ok(j.net.requests > 0, `${j.ioengine}: requests were answered`);
    assert.ok(j.net.bytes_per_sec >= j.net.requests_per_sec * 512 * 0.9, `${j.ioengine}: every request carried its 512 bytes back`);
    assert.ok(j.net.latency_us.p50 > 0 && j.net.latency_us.p99 >= j.net.latency_us.p50);
    assert.ok(j.usr_cpu + j.sys_cpu > 0, `${j.ioengine}: the server's CPU`);
    assert.ok(j.loop_delay_ms.max >= j.loop_delay_ms.p99 && j.loop_delay_ms.p99 >= 0);
    assert.ok(j.generator.cpu_s > 0);
    // fio's shape too, for `ioengine report`: a request is an I/O
    assert.equal(j.read.iops, j.net.requests_per_sec);
    assert.equal(j.read.total_ios, j.net.requests);
    assert.equal(j['job options'].ioengine, j.ioengine);
    assert.equal(j['ioengine loop delay_ns'].max, j.loop_delay_ms.max * 1e6);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ioengine-net-report-'));
  try {
    fs.writeFileSync(path.join(dir, 'rr.json'), r.stdout);
    const page = await runCli(['report', path.join(dir, 'rr.json'), '-o', path.join(dir, 'rr.html')]);
    assert.equal(page.code, 0, page.stderr);
    const html = fs.readFileSync(path.join(dir, 'rr.html'), 'utf8');
    assert.match(html, /requests answered a second/);
    for (const e of available) assert.match(html, new RegExp(`>${e}<`), `${e} is in the report`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('stream, as a table: MiB/s per engine (and through the lower-level interface), relative to the best', { timeout: 60_000 }, async () => {
  const engines = [...available, ...available.filter(e => e !== 'libuv').map(e => `${e}-raw`)];
  const r = await runCli(['bench', '--rw=stream', '--bs=64k', '--iodepth=2', '--runtime=1', `--ioengine=${engines.join(',')}`]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /streaming, 65536 B messages, 2 connections/);
  for (const e of engines) assert.match(r.stdout, new RegExp(`^${e}\\s+\\d+ \\((1\\.00|0\\.\\d\\d)x\\)`, 'm'));
});

const wrk = spawnSync('wrk', ['-v']).error ? 'wrk is not installed (Debian: apt-get install wrk)' : false;

test('http: node:http on every socket engine answers wrk\'s keep-alive GETs; requests, latency and wrk\'s CPU in the JSON', { timeout: 60_000, skip: wrk }, async () => {
  const r = await runCli(['bench', '--rw=http', '--bs=100', '--iodepth=8', '--runtime=1', '--ioengine=all', '--output-format=json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { generator: string; jobs: Record<string, any>[] };
  assert.match(out.generator, /wrk/);
  assert.deepEqual(out.jobs.map(j => j.ioengine), available);
  for (const j of out.jobs) {
    assert.ok(j.net.requests > 0, `${j.ioengine}: requests were answered`);
    assert.ok(j.net.bytes_per_sec >= j.net.requests_per_sec * 100, `${j.ioengine}: each response carried its 100-byte body and headers`);
    assert.ok(j.net.latency_us.p99 >= j.net.latency_us.p50 && j.net.latency_us.p50 > 0);
    assert.ok(j.generator.cpu_s > 0, 'wrk\'s CPU');
  }
});

test('bad network options are refused with a message, before anything runs', async () => {
  for (const [args, message] of [
    [['--rw=rr', '--filename=/tmp/x'], /--filename: not an option of a network job/],
    [['--rw=rr', '--ioengine=sync'], /--ioengine=sync: not a socket engine/],
    [['--rw=rr', '--iodepth=0'], /--iodepth=0: the number of connections must be a whole number above 0/],
    [['--rw=stream', '--bs=lots'], /--bs=lots: expected a size/],
    [['--rw=rr', '--ioengine=libuv-raw'], /--ioengine=libuv-raw: not a socket engine/],
    [['--rw=http', '--ioengine=epoll-raw'], /node:http needs a stream/],
    [['--rw=rr', '--bun=/nonexistent/bun'], /--bun=\/nonexistent\/bun: not a Bun that runs here/],
  ] as const) {
    const r = await runCli(['bench', ...args]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});
