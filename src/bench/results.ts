// What was measured, as fio reports it: one entry per clone, or one per group with
// group_reporting, each per engine pass. Merging follows fio: I/Os and bytes add up, a direction's
// runtime is the longest, latency distributions merge (hdr add, Chan's formula for mean/stddev),
// and CPU is the runner processes' accounting, shared evenly between the clones of a process (they
// are threads of one process: getrusage cannot tell them apart).
import * as hdr from 'hdr-histogram-js';
import { decodeHistogram, latencyHistogram } from './histogram.js';
import type { Job } from './plan.js';
import type { CloneResult, CpuResult, DirectionResult, SyncResult } from './protocol.js';

/** One job run on one engine: what its runner process reported. */
export interface Measured {
  job: Job;
  /** the engine asked for (the clones report what it resolved to) */
  engine: string;
  pass: number;
  clones: CloneResult[];
  cpu: CpuResult;
}

export interface Latency {
  n: number;
  min: number;
  max: number;
  mean: number;
  /** sample standard deviation, as fio's (n - 1) */
  stddev: number;
  hist: hdr.Histogram;
}

export interface DirectionStats {
  ios: number;
  bytes: number;
  shortIos: number;
  runtimeMs: number;
  lat: Latency;
  bwSamples: number[];
  iopsSamples: number[];
}

export interface Entry {
  jobname: string;
  groupid: number;
  /** the engine that ran (what `auto` resolved to) */
  engine: string;
  pass: number;
  /** the jobs this entry covers: one, or a whole group with group_reporting */
  jobs: Job[];
  clones: number;
  read: DirectionStats;
  write: DirectionStats;
  sync: Latency;
  /** how late the event loop ran, tick by tick (protocol.ts CloneResult.loop) */
  loop: Latency;
  /** fio's job_runtime: ms of measured time, added over the clones */
  jobRuntimeMs: number;
  elapsedMs: number;
  userMs: number;
  systemMs: number;
  ctx: number;
  majf: number;
  minf: number;
  depth: number[];
  error: number;
  errorMessage?: string;
}

function mergeLatency(parts: SyncResult[]): Latency {
  const hist = latencyHistogram(false);
  let n = 0;
  let mean = 0;
  let m2 = 0;
  let min = Infinity;
  let max = 0;
  for (const p of parts) {
    hist.add(decodeHistogram(p.histogram));
    if (p.ios === 0) continue;
    // Chan et al.: the mean and M2 of two sets from theirs.
    const total = n + p.ios;
    const d = p.mean - mean;
    mean += (d * p.ios) / total;
    m2 += p.m2 + (d * d * n * p.ios) / total;
    n = total;
    min = Math.min(min, p.min);
    max = Math.max(max, p.max);
  }
  return { n, min: n ? min : 0, max, mean, stddev: n > 1 ? Math.sqrt(m2 / (n - 1)) : 0, hist };
}

/** Samples of clones that ran side by side add up, interval by interval. */
function addSamples(lists: number[][]): number[] {
  const out: number[] = [];
  for (const list of lists) list.forEach((v, i) => { out[i] = (out[i] ?? 0) + v; });
  return out;
}

function mergeDirection(parts: DirectionResult[]): DirectionStats {
  return {
    ios: parts.reduce((s, p) => s + p.ios, 0),
    bytes: parts.reduce((s, p) => s + p.bytes, 0),
    shortIos: parts.reduce((s, p) => s + p.shortIos, 0),
    runtimeMs: Math.max(0, ...parts.map(p => p.runtimeMs)),
    lat: mergeLatency(parts),
    bwSamples: addSamples(parts.map(p => p.bwSamples)),
    iopsSamples: addSamples(parts.map(p => p.iopsSamples)),
  };
}

interface Part { job: Job; clone: CloneResult; cpuShare: CpuResult; clones: number }

function entry(parts: Part[], pass: number, engineAsked: string): Entry {
  const first = parts[0];
  const measuredMs = (c: CloneResult) => Math.max(c.read.runtimeMs, c.write.runtimeMs);
  const share = (p: Part, key: keyof CpuResult) => p.cpuShare[key] / p.clones;
  const sum = (key: keyof CpuResult) => parts.reduce((s, p) => s + share(p, key), 0);
  const failed = parts.find(p => p.clone.error !== 0);
  return {
    jobname: first.job.name,
    groupid: first.job.groupid,
    engine: first.clone.engine || engineAsked,
    pass,
    jobs: [...new Set(parts.map(p => p.job))],
    clones: parts.length,
    read: mergeDirection(parts.map(p => p.clone.read)),
    write: mergeDirection(parts.map(p => p.clone.write)),
    sync: mergeLatency(parts.map(p => p.clone.sync)),
    loop: mergeLatency(parts.map(p => p.clone.loop)),
    jobRuntimeMs: parts.reduce((s, p) => s + measuredMs(p.clone), 0),
    elapsedMs: Math.max(...parts.map(p => p.clone.elapsedMs)),
    userMs: sum('userMs'),
    systemMs: sum('systemMs'),
    ctx: Math.round(sum('voluntary') + sum('involuntary')),
    majf: Math.round(sum('majorFaults')),
    minf: Math.round(sum('minorFaults')),
    depth: parts.reduce((d, p) => d.map((v, i) => v + p.clone.depth[i]), [0, 0, 0, 0, 0, 0, 0]),
    error: failed?.clone.error ?? 0,
    errorMessage: failed?.clone.errorMessage,
  };
}

/** fio's jobs array for one pass of one group: clone by clone, or the whole group as one. */
export function entriesOf(measured: Measured[]): Entry[] {
  if (measured.length === 0) return [];
  const parts = measured.flatMap(m => m.clones.map(clone => ({ job: m.job, clone, cpuShare: m.cpu, clones: m.clones.length })));
  const pass = measured[0].pass;
  if (measured.some(m => m.job.group_reporting)) return [entry(parts, pass, measured[0].engine)];
  return parts.map(p => entry([p], pass, measured.find(m => m.job === p.job)!.engine));
}

/** Count of values in [low, high) of a histogram (for fio's latency_ns/us/ms buckets). */
export function bucketCounts(hist: hdr.Histogram, edges: number[]): number[] {
  const counts = edges.map(() => 0);
  const it = (hist as unknown as { recordedValuesIterator: { reset(): void; hasNext(): boolean; next(): { valueIteratedTo: number; countAtValueIteratedTo: number } } }).recordedValuesIterator;
  it.reset();
  while (it.hasNext()) {
    const v = it.next();
    let i = edges.findIndex(e => v.valueIteratedTo < e);
    if (i < 0) i = edges.length - 1;
    counts[i] += v.countAtValueIteratedTo;
  }
  return counts;
}
