// fio's JSON (--output-format=json), key for key as fio 3.x prints it, so fio's tooling reads ours.
// What ioengine measures maps onto it so:
// - clat_ns is the latency of each operation as the program sees it, from the call to the
//   settled promise; lat_ns is the same figures (fio: lat = slat + clat). slat_ns stays empty
//   (N = 0), as fio reports it for its synchronous engines: an engine's submission is not visible
//   from JS as a separate step.
// - usr_cpu, sys_cpu, ctx, majf, minf come from the runner process's getrusage over the measured
//   time (clones of one job share one process and split its figures evenly).
// Differences from fio: "ioengine version" instead of "fio version", "ioengine host" (the machine:
// kernel, CPUs, Node; for the report), no "disk_util".
import { createRequire } from 'node:module';
import { latencyHistogram } from './histogram.js';
import { hostInfo } from '../fio/host.js';
import { PERCENTILES } from '../fio/json.js';
import { bucketCounts, type DirectionStats, type Entry, type Latency } from './results.js';

const NS_EDGES = [2, 4, 10, 20, 50, 100, 250, 500, 750, 1000];
const US_EDGES = [2, 4, 10, 20, 50, 100, 250, 500, 750, 1000];
const MS_EDGES = [2, 4, 10, 20, 50, 100, 250, 500, 750, 1000, 2000];

export const IOENGINE_VERSION = (createRequire(import.meta.url)('../../../package.json') as { version: string }).version;

/** fio prints percentages above 0 and below 0.01 as 0.01, so that a rare bucket still shows. */
const pct = (part: number, whole: number) => {
  if (whole === 0 || part === 0) return 0;
  const p = (part * 100) / whole;
  return p < 0.01 ? 0.01 : p;
};

export function percentiles(hist: Latency['hist']): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of PERCENTILES) out[p.toFixed(6)] = hist.getValueAtPercentile(p);
  return out;
}

function latency(l: Latency, withPercentiles: boolean) {
  const base = { min: Math.round(l.min), max: Math.round(l.max), mean: l.mean, stddev: l.stddev, N: l.n };
  return withPercentiles && l.n > 0 ? { ...base, percentile: percentiles(l.hist) } : base;
}

function samples(values: number[]) {
  const n = values.length;
  if (n === 0) return { min: 0, max: 0, mean: 0, dev: 0, n: 0 };
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const dev = n > 1 ? Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1)) : 0;
  // A loop, not Math.min(...values): spreading a long run's samples overflows the stack.
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min: Math.floor(min), max: Math.floor(max), mean, dev, n };
}

function direction(d: DirectionStats, groupBwBytes: number) {
  const bwBytes = d.runtimeMs > 0 ? Math.floor((d.bytes * 1000) / d.runtimeMs) : 0;
  const bw = samples(d.bwSamples);
  const iops = samples(d.iopsSamples);
  return {
    io_bytes: d.bytes,
    io_kbytes: Math.floor(d.bytes / 1024),
    bw_bytes: bwBytes,
    bw: Math.floor(bwBytes / 1024),
    iops: d.runtimeMs > 0 ? (d.ios * 1000) / d.runtimeMs : 0,
    runtime: d.runtimeMs,
    total_ios: d.ios,
    short_ios: d.shortIos,
    drop_ios: 0,
    slat_ns: { min: 0, max: 0, mean: 0, stddev: 0, N: 0 },
    clat_ns: latency(d.lat, true),
    lat_ns: latency(d.lat, false),
    bw_min: bw.min,
    bw_max: bw.max,
    bw_agg: groupBwBytes > 0 ? (bwBytes * 100) / groupBwBytes : 0,
    bw_mean: bw.mean,
    bw_dev: bw.dev,
    bw_samples: bw.n,
    iops_min: iops.min,
    iops_max: iops.max,
    iops_mean: iops.mean,
    iops_stddev: iops.dev,
    iops_samples: iops.n,
  };
}

function depthLevels(depth: number[]) {
  const total = depth.reduce((s, v) => s + v, 0);
  const keys = ['1', '2', '4', '8', '16', '32', '>=64'];
  return Object.fromEntries(keys.map((k, i) => [k, pct(depth[i], total)]));
}

/** One operation per submission and per completion: what a promise-per-operation API does. */
function perCall(ios: number) {
  const keys = ['0', '4', '8', '16', '32', '64', '>=64'];
  return Object.fromEntries(keys.map(k => [k, k === '4' && ios > 0 ? 100 : 0]));
}

function latencyBuckets(e: Entry) {
  const edges = [...NS_EDGES, ...US_EDGES.map(v => v * 1e3), ...MS_EDGES.map(v => v * 1e6), Infinity];
  const counts = [e.read.lat.hist, e.write.lat.hist].map(h => bucketCounts(h, edges)).reduce((a, b) => a.map((v, i) => v + b[i]));
  const total = e.read.ios + e.write.ios;
  const at = (i: number) => pct(counts[i], total);
  return {
    latency_ns: Object.fromEntries(NS_EDGES.map((k, i) => [String(k), at(i)])),
    latency_us: Object.fromEntries(US_EDGES.map((k, i) => [String(k), at(NS_EDGES.length + i)])),
    latency_ms: { ...Object.fromEntries(MS_EDGES.map((k, i) => [String(k), at(NS_EDGES.length + US_EDGES.length + i)])), '>=2000': at(edges.length - 1) },
  };
}

interface GroupTotals {
  read: number;
  write: number;
}

/** Bandwidth (bytes/s) of each group pass, for bw_agg (a job's share of its group). */
function groupTotals(entries: Entry[]): Map<string, GroupTotals> {
  const key = (e: Entry) => `${e.groupid}/${e.pass}`;
  const totals = new Map<string, GroupTotals>();
  for (const e of entries) {
    const t = totals.get(key(e)) ?? { read: 0, write: 0 };
    const bw = (d: DirectionStats) => (d.runtimeMs > 0 ? Math.floor((d.bytes * 1000) / d.runtimeMs) : 0);
    t.read += bw(e.read);
    t.write += bw(e.write);
    totals.set(key(e), t);
  }
  return totals;
}

function fioJob(e: Entry, totals: GroupTotals) {
  const job = e.jobs[0];
  const cpuBase = e.jobRuntimeMs > 0 ? e.jobRuntimeMs : 1;
  return {
    jobname: e.jobname,
    groupid: e.groupid,
    error: e.error,
    eta: 0,
    elapsed: Math.max(1, Math.round(e.elapsedMs / 1000)),
    // fio lists the options written for the job; ioengine adds the engine that ran it.
    'job options': { ...job.jobOptions, ioengine: e.engine },
    read: direction(e.read, totals.read),
    write: direction(e.write, totals.write),
    trim: direction(noIo(), 0), // no engine trims
    sync: { total_ios: e.sync.n, lat_ns: latency(e.sync, true) },
    // ioengine's own (fio's tools pass over keys they do not know): how late the event loop ran
    'ioengine loop delay_ns': latency(e.loop, true),
    job_runtime: e.jobRuntimeMs,
    usr_cpu: (e.userMs * 100) / cpuBase,
    sys_cpu: (e.systemMs * 100) / cpuBase,
    ctx: e.ctx,
    majf: e.majf,
    minf: e.minf,
    iodepth_level: depthLevels(e.depth),
    iodepth_submit: perCall(e.read.ios + e.write.ios),
    iodepth_complete: perCall(e.read.ios + e.write.ios),
    ...latencyBuckets(e),
    latency_depth: job.iodepth,
    latency_target: 0,
    latency_percentile: 100,
    latency_window: 0,
    ...(e.errorMessage ? { 'error message': e.errorMessage } : {}),
  };
}

let empty: DirectionStats | undefined;
function noIo(): DirectionStats {
  empty ??= {
    ios: 0, bytes: 0, shortIos: 0, runtimeMs: 0, bwSamples: [], iopsSamples: [],
    lat: { n: 0, min: 0, max: 0, mean: 0, stddev: 0, hist: latencyHistogram(false) },
  };
  return empty;
}

/** C's ctime() without the newline, as fio's "time": `Tue Nov 24 22:41:26 2026`. */
function ctime(d: Date): string {
  const [day, mon] = [d.toLocaleString('en-US', { weekday: 'short' }), d.toLocaleString('en-US', { month: 'short' })];
  const two = (n: number) => String(n).padStart(2, '0');
  return `${day} ${mon} ${String(d.getDate()).padStart(2)} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${d.getFullYear()}`;
}

interface FioJsonInput {
  globalOptions: Record<string, string>;
  entries: Entry[];
  startedAt: Date;
}

export function fioJson({ globalOptions, entries, startedAt }: FioJsonInput) {
  const totals = groupTotals(entries);
  const ms = startedAt.getTime();
  return {
    'ioengine version': `ioengine-${IOENGINE_VERSION}`,
    'ioengine host': hostInfo(startedAt),
    timestamp: Math.floor(ms / 1000),
    timestamp_ms: ms,
    time: ctime(startedAt),
    ...(Object.keys(globalOptions).length ? { 'global options': globalOptions } : {}),
    jobs: entries.map(e => fioJob(e, totals.get(`${e.groupid}/${e.pass}`)!)),
  };
}
