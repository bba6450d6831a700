// `ioengine bench --rw=rr|stream|http`: the socket engines compared as the file engines are. Each
// engine serves in a process of its own (net-server.ts) on 127.0.0.1; the load comes from one
// generator, the same for every server, whose CPU is reported apart: netload
// (native/tools/netload.c: C, epoll, one thread) for rr and stream, wrk (Debian's, one thread) for
// http. rr: --iodepth connections each send --bs bytes and wait for them back, again and again;
// stream: each writes --bs chunks as fast as the server reads; http: keep-alive GETs to node:http
// on the engine's sockets, answered with --bs bytes. With --loops=N the engines run N times,
// interleaved, and the median run of each is reported.
import { execFile, fork, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostInfo } from '../fio/host.js';
import { parseSize } from '../fio/units.js';
import { netEngines } from '../net/index.js';
import { IOENGINE_VERSION } from './fio-json.js';
import type { NetServerReport } from './net-server.js';
import { BenchUsageError } from './options.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const NETLOAD = path.join(ROOT, 'build', 'Release', 'netload');
const GENERATOR = 'netload (C, epoll, one thread)';
const WRK = 'wrk (one thread)';

export const NET_MODES = ['rr', 'stream', 'http'] as const;

export interface NetJob {
  name: string;
  mode: (typeof NET_MODES)[number];
  engines: string[];
  bs: number;
  connections: number;
  seconds: number;
  loops: number;
  outputFormat: 'normal' | 'json';
  output?: string;
  /** --bun=PATH: a reference row, Bun's own node:net serving the same job */
  bun?: string;
}

/** The reference row's name when --bun is given. */
export const BUN_ROW = 'bun node:net';

interface NetLoad { requests: number; bytes: number; seconds: number; latency_us?: { p50: number; p99: number; max: number }; cpu_s: number }

export interface NetResult {
  jobname: string;
  ioengine: string;
  rw: string;
  bs: number;
  iodepth: number;
  runtime_ms: number;
  net: { requests: number; requests_per_sec: number; bytes_per_sec: number; latency_us?: NetLoad['latency_us'] };
  usr_cpu: number;
  sys_cpu: number;
  /** Server CPU (user + system) per request (rr) or per MiB (stream), in µs. */
  cpu_us_per_unit: number;
  loop_delay_ms: { p50: number; p99: number; max: number };
  generator: { name: string; cpu_s: number };
}

/** After a native socket engine's name: through its lower-level interface. */
export const RAW = '-raw';

/** Is this argv a network job (--rw=rr, stream or http)? */
export function isNetBench(argv: readonly string[]): boolean {
  return argv.some(a => /^--rw=(rr|stream|http)$/.test(a));
}

export function planNetBench(argv: readonly string[]): NetJob {
  const job: NetJob = { name: 'net', mode: 'rr', engines: [], bs: 1024, connections: 100, seconds: 5, loops: 1, outputFormat: 'normal' };
  for (const arg of argv) {
    const m = /^--([a-z_-]+)=(.*)$/.exec(arg);
    if (!m) throw new BenchUsageError(`'${arg}': a network job takes only --name, --rw, --ioengine, --bs, --iodepth, --runtime, --loops, --output-format, --output and --bun, as --option=value`);
    const [, name, value] = m;
    const positive = (what: string) => {
      const n = Number(value);
      if (!Number.isInteger(n) || n <= 0) throw new BenchUsageError(`--${name}=${value}: ${what} must be a whole number above 0`);
      return n;
    };
    switch (name) {
      case 'name': job.name = value; break;
      case 'rw': job.mode = value as NetJob['mode']; break;
      case 'ioengine': job.engines = value.split(',').map(s => s.trim()).filter(Boolean); break;
      case 'bs':
        try { job.bs = parseSize(value); } catch (e) { throw new BenchUsageError(`--bs=${value}: ${(e as Error).message}`); }
        if (job.bs <= 0 || job.bs > 64 << 20) throw new BenchUsageError(`--bs=${value}: a message is 1 byte to 64 MiB`);
        break;
      case 'iodepth': job.connections = positive('the number of connections'); break;
      case 'runtime': job.seconds = positive('the seconds'); break;
      case 'loops': job.loops = positive('the number of runs'); break;
      case 'output-format':
        if (value !== 'normal' && value !== 'json') throw new BenchUsageError(`--output-format=${value}: normal or json`);
        job.outputFormat = value;
        break;
      case 'output': job.output = value; break;
      case 'bun':
        if (spawnSync(value, ['--version']).status !== 0) throw new BenchUsageError(`--bun=${value}: not a Bun that runs here (\`npm install bun\` in a scratch folder gives one)`);
        job.bun = value;
        break;
      default: throw new BenchUsageError(`--${name}: not an option of a network job (--name, --rw, --ioengine, --bs, --iodepth, --runtime, --loops, --output-format, --output, --bun)`);
    }
  }
  const known = netEngines();
  if (job.engines.length === 0 || job.engines.includes('all')) job.engines = known.filter(e => e.available).map(e => e.name);
  for (const e of job.engines) {
    // ENGINE-raw: the engine through the lower-level interface (rawOn), not streams.
    const raw = e.endsWith(RAW);
    const info = known.find(k => k.name === (raw ? e.slice(0, -RAW.length) : e));
    if (!info || (raw && info.name === 'libuv')) throw new BenchUsageError(`--ioengine=${e}: not a socket engine (${known.map(k => k.name).join(', ')}, all; ${RAW} after a native one for its lower-level interface)`);
    if (raw && job.mode === 'http') throw new BenchUsageError(`--ioengine=${e}: node:http needs a stream, which the lower-level interface is not`);
    if (!info.available) throw new BenchUsageError(`--ioengine=${e}: not available here: ${info.reason}`);
  }
  if (job.bun) job.engines.push(BUN_ROW);
  if (job.connections > 10_000) throw new BenchUsageError(`--iodepth=${job.connections}: at most 10000 connections`);
  if (job.mode === 'http' && spawnSync('wrk', ['-v']).error) throw new BenchUsageError('--rw=http: its load generator, wrk, is not installed (Debian: apt-get install wrk)');
  return job;
}

/** One engine, one run: its server in a process of its own, netload against it. */
async function runOnce(job: NetJob, engine: string): Promise<NetResult> {
  if (!fs.existsSync(NETLOAD)) throw new Error(`the load generator is not built (${NETLOAD}): npm rebuild ioengine`);
  // Bun's row: the same server, on node:net as Bun has it.
  const bun = engine === BUN_ROW ? { execPath: job.bun } : {};
  const server = fork(new URL('./net-server.js', import.meta.url), [bun.execPath ? 'libuv' : engine, job.mode, String(job.bs)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], ...bun });
  try {
    const [hello] = await once(server, 'message') as [{ port: number }];
    server.send('measure');
    const load = job.mode === 'http' ? await wrk(job, hello.port) : await new Promise<NetLoad>((resolve, reject) => {
      execFile(NETLOAD, [job.mode, String(hello.port), String(job.connections), String(job.bs), String(job.seconds)], { timeout: (job.seconds + 30) * 1000 },
        (err, stdout, stderr) => (err ? reject(new Error(`netload: ${stderr.trim() || err.message}`)) : resolve(JSON.parse(stdout) as NetLoad)));
    });
    server.send('stop');
    const [report] = await once(server, 'message') as [NetServerReport];
    const cpuMs = report.cpuMs.user + report.cpuMs.system;
    const windowMs = load.seconds * 1000;
    const units = job.mode === 'stream' ? load.bytes / 2 ** 20 : load.requests;
    const ms = (ns: number) => Math.round(ns / 1e4) / 100;
    return {
      jobname: job.name, ioengine: engine, rw: job.mode, bs: job.bs, iodepth: job.connections, runtime_ms: Math.round(windowMs),
      net: { requests: load.requests, requests_per_sec: Math.round(load.requests / load.seconds), bytes_per_sec: Math.round(load.bytes / load.seconds), latency_us: load.latency_us },
      usr_cpu: Math.round((10000 * report.cpuMs.user) / windowMs) / 100,
      sys_cpu: Math.round((10000 * report.cpuMs.system) / windowMs) / 100,
      cpu_us_per_unit: units > 0 ? Math.round((cpuMs * 1000 / units) * 100) / 100 : 0,
      loop_delay_ms: { p50: ms(report.loopDelayNs.p50), p99: ms(report.loopDelayNs.p99), max: ms(report.loopDelayNs.max) },
      generator: { name: generatorOf(job), cpu_s: load.cpu_s },
    };
  } finally {
    server.kill();
  }
}

const generatorOf = (job: NetJob) => (job.mode === 'http' ? WRK : GENERATOR);

/** wrk -t1 against node:http on the engine: its requests, bytes and latency, and its CPU (bash's `times`). */
function wrk(job: NetJob, port: number): Promise<NetLoad> {
  const script = `wrk -t1 -c${job.connections} -d${job.seconds}s --latency http://127.0.0.1:${port}/ && times`;
  return new Promise((resolve, reject) => {
    execFile('bash', ['-c', script], { timeout: (job.seconds + 30) * 1000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`wrk: ${stderr.trim() || err.message}`));
      const requests = Number(/(\d+) requests in ([\d.]+)s, ([\d.]+)([KMG]?B) read/.exec(stdout)?.[1]);
      const [, secs, amount, unit] = /requests in ([\d.]+)s, ([\d.]+)([KMG]?B) read/.exec(stdout) ?? [];
      const bytes = Number(amount) * ({ B: 1, KB: 2 ** 10, MB: 2 ** 20, GB: 2 ** 30 } as Record<string, number>)[unit];
      const us = (p: string) => {
        const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(stdout);
        // To a tenth of a µs: 2.03ms is 2030, not 2029.9999999999998.
        return m ? Math.round(Number(m[1]) * ({ us: 1, ms: 1e3, s: 1e6 } as Record<string, number>)[m[2]] * 10) / 10 : 0;
      };
      // `times`: the shell's, then its children's (wrk's) user and system time, as 0m1.234s.
      const t = [...stdout.matchAll(/(\d+)m([\d.]+)s/g)].map(m => Number(m[1]) * 60 + Number(m[2]));
      if (!(requests > 0)) return reject(new Error(`wrk answered nothing usable: ${stdout.trim().slice(0, 300)}`));
      resolve({ requests, bytes, seconds: Number(secs), latency_us: { p50: us('50'), p99: us('99'), max: 0 }, cpu_s: (t[2] ?? 0) + (t[3] ?? 0) });
    });
  });
}

export async function runNetBench(job: NetJob, progress: (s: string) => void): Promise<NetResult[]> {
  const runs = new Map<string, NetResult[]>(job.engines.map(e => [e, []]));
  for (let loop = 0; loop < job.loops; loop++) {
    for (const engine of job.engines) {
      progress(`${job.name}: ${engine}${job.loops > 1 ? ` (run ${loop + 1} of ${job.loops})` : ''}, ${job.seconds} s`);
      runs.get(engine)!.push(await runOnce(job, engine));
    }
  }
  const key = (r: NetResult) => (job.mode === 'stream' ? r.net.bytes_per_sec : r.net.requests_per_sec);
  return job.engines.map(e => {
    const sorted = runs.get(e)!.sort((a, b) => key(a) - key(b));
    return sorted[Math.floor(sorted.length / 2)];
  });
}

const WHAT = { rr: 'request-response', stream: 'streaming', http: 'node:http keep-alive GETs' } as const;

/**
 * The results as fio's JSON has them, besides their own keys (net, cpu_us_per_unit, loop_delay_ms,
 * generator): each request is an I/O of the read direction (a MiB of the stream's bytes its
 * bandwidth), latency the generator's, loop delay as file jobs record it. So `ioengine report`
 * charts the socket engines as it does the file engines.
 */
export function netJson(job: NetJob, results: NetResult[], startedAt = new Date()): object {
  const pct = (p50: number, p99: number) => ({ [(50).toFixed(6)]: p50, [(99).toFixed(6)]: p99 });
  const none = { iops: 0, bw_bytes: 0, total_ios: 0 };
  const description = `${WHAT[job.mode]}, ${job.bs} B ${job.mode === 'http' ? 'bodies' : 'messages'}, ${job.connections} connections: ` +
    `IOPS are ${job.mode === 'stream' ? 'writes received' : 'requests answered'} a second, latency is the load generator's (${generatorOf(job)})`;
  return {
    'ioengine version': `ioengine-${IOENGINE_VERSION}`,
    'ioengine host': hostInfo(startedAt),
    timestamp: Math.floor(startedAt.getTime() / 1000),
    'global options': { rw: job.mode, bs: String(job.bs), iodepth: String(job.connections), runtime: String(job.seconds), loops: String(job.loops) },
    generator: generatorOf(job),
    jobs: results.map(r => ({
      ...r,
      'job options': { ioengine: r.ioengine, description, rw: r.rw, bs: String(r.bs), iodepth: String(r.iodepth) },
      job_runtime: r.runtime_ms,
      read: {
        iops: job.mode === 'stream' ? r.net.bytes_per_sec / job.bs : r.net.requests_per_sec,
        bw_bytes: r.net.bytes_per_sec,
        total_ios: job.mode === 'stream' ? Math.round((r.net.bytes_per_sec * r.runtime_ms) / 1000 / job.bs) : r.net.requests,
        runtime: r.runtime_ms,
        ...(r.net.latency_us ? { clat_ns: { percentile: pct(r.net.latency_us.p50 * 1000, r.net.latency_us.p99 * 1000) } } : {}),
      },
      write: none,
      'ioengine loop delay_ns': { max: r.loop_delay_ms.max * 1e6, N: 1, percentile: pct(r.loop_delay_ms.p50 * 1e6, r.loop_delay_ms.p99 * 1e6) },
    })),
  };
}

export function netText(job: NetJob, results: NetResult[]): string {
  const rr = job.mode !== 'stream';
  const head = rr ? ['engine', 'requests/s', 'p50 µs', 'p99 µs', 'server CPU', 'µs CPU/request', 'loop p99 ms', 'loop max ms', 'generator CPU']
    : ['engine', 'MiB/s', 'server CPU', 'µs CPU/MiB', 'loop p99 ms', 'loop max ms', 'generator CPU'];
  const best = Math.max(...results.map(r => (rr ? r.net.requests_per_sec : r.net.bytes_per_sec)));
  const rows = results.map(r => {
    const value = rr ? r.net.requests_per_sec : r.net.bytes_per_sec;
    const rel = `${value.toLocaleString('en-US')} (${(value / best).toFixed(2)}x)`;
    const cpu = `${(r.usr_cpu + r.sys_cpu).toFixed(0)}%`;
    const loop = [r.loop_delay_ms.p99.toFixed(2), r.loop_delay_ms.max.toFixed(2)];
    const gen = `${r.generator.cpu_s.toFixed(1)} s`;
    return rr ? [r.ioengine, rel, String(r.net.latency_us?.p50 ?? ''), String(r.net.latency_us?.p99 ?? ''), cpu, r.cpu_us_per_unit.toFixed(1), ...loop, gen]
      : [r.ioengine, `${(r.net.bytes_per_sec / 2 ** 20).toFixed(0)} (${(value / best).toFixed(2)}x)`, cpu, r.cpu_us_per_unit.toFixed(0), ...loop, gen];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map(r => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [
    `${job.name}: ${WHAT[job.mode]}, ${job.bs} B ${job.mode === 'http' ? 'bodies' : 'messages'}, ${job.connections} connections, ${job.seconds} s${job.loops > 1 ? `, median of ${job.loops} interleaved runs` : ''}; load from ${generatorOf(job)}`,
    line(head), ...rows.map(line), '',
  ].join('\n');
}
