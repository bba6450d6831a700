// One line of the comparison table: a job on one engine (or fio's reference run of it), reduced
// to the figures that rank engines: IOPS, bandwidth, latency percentiles, CPU and context
// switches per operation, and how late the event loop ran meanwhile.
import { descriptor } from '../engines/registry.js';
import { latencyHistogram } from './histogram.js';
import type { Job } from './plan.js';
import { entriesOf, type Entry, type Measured } from './results.js';

export interface Row {
  job: Job;
  /** engine name, or `fio <engine>` */
  label: string;
  kind: 'engine' | 'baseline' | 'reference';
  iops: number;
  bwBytes: number;
  /** ns */
  p50: number;
  p99: number;
  p999: number;
  cpuPerOpUs: number;
  ctxPerOp: number;
  /** ns the event loop ran late: p99 and the longest (undefined for fio, which has no loop) */
  loopP99?: number;
  loopMax?: number;
  usrPercent: number;
  sysPercent: number;
  failed?: string;
}

/** The whole of one job on one engine: all clones together. */
export function rowOf(m: Measured): Row {
  const all = entriesOf([{ ...m, job: { ...m.job, group_reporting: true } }])[0];
  return rowOfEntry(m.job, all);
}

function rowOfEntry(job: Job, e: Entry): Row {
  const ios = e.read.ios + e.write.ios;
  const runtimeMs = Math.max(e.read.runtimeMs, e.write.runtimeMs);
  const hist = latencyHistogram(false);
  hist.add(e.read.lat.hist);
  hist.add(e.write.lat.hist);
  const cpuMs = e.userMs + e.systemMs;
  return {
    job,
    label: e.engine,
    kind: descriptor(e.engine)?.baseline ? 'baseline' : 'engine',
    iops: runtimeMs > 0 ? (ios * 1000) / runtimeMs : 0,
    bwBytes: runtimeMs > 0 ? ((e.read.bytes + e.write.bytes) * 1000) / runtimeMs : 0,
    p50: ios ? hist.getValueAtPercentile(50) : 0,
    p99: ios ? hist.getValueAtPercentile(99) : 0,
    p999: ios ? hist.getValueAtPercentile(99.9) : 0,
    cpuPerOpUs: ios ? (cpuMs * 1000) / ios : 0,
    ctxPerOp: ios ? e.ctx / ios : 0,
    loopP99: e.loop.n ? e.loop.hist.getValueAtPercentile(99) : 0,
    loopMax: e.loop.max,
    usrPercent: e.jobRuntimeMs ? (e.userMs * 100 * e.clones) / e.jobRuntimeMs : 0,
    sysPercent: e.jobRuntimeMs ? (e.systemMs * 100 * e.clones) / e.jobRuntimeMs : 0,
    failed: e.error ? `error ${e.error}: ${e.errorMessage ?? ''}` : undefined,
  };
}

interface FioDirection { iops: number; bw_bytes: number; total_ios: number; clat_ns: { percentile?: Record<string, number> }; lat_ns?: { percentile?: Record<string, number> } }
export interface FioJobJson {
  jobname: string;
  read: FioDirection;
  write: FioDirection;
  usr_cpu: number;
  sys_cpu: number;
  ctx: number;
  job_runtime: number;
  error: number;
}

/** fio's own report of a job (its clones added up; percentiles of the busier direction of the first clone). */
export function rowOfFio(job: Job, label: string, parts: FioJobJson[]): Row {
  const ios = parts.reduce((s, p) => s + p.read.total_ios + p.write.total_ios, 0);
  const first = parts[0];
  const d = first.read.total_ios >= first.write.total_ios ? first.read : first.write;
  // lat (submission to completion) when fio was asked for it (lat_percentiles=1), as the bench measures.
  const p = d.lat_ns?.percentile ?? d.clat_ns.percentile ?? {};
  const cpuMs = parts.reduce((s, x) => s + ((x.usr_cpu + x.sys_cpu) / 100) * x.job_runtime, 0);
  const runtimeMs = parts.reduce((s, x) => s + x.job_runtime, 0);
  return {
    job,
    label,
    kind: 'reference',
    iops: parts.reduce((s, x) => s + x.read.iops + x.write.iops, 0),
    bwBytes: parts.reduce((s, x) => s + x.read.bw_bytes + x.write.bw_bytes, 0),
    p50: p['50.000000'] ?? 0,
    p99: p['99.000000'] ?? 0,
    p999: p['99.900000'] ?? 0,
    cpuPerOpUs: ios ? (cpuMs * 1000) / ios : 0,
    ctxPerOp: ios ? parts.reduce((s, x) => s + x.ctx, 0) / ios : 0,
    usrPercent: runtimeMs ? parts.reduce((s, x) => s + x.usr_cpu * x.job_runtime, 0) / runtimeMs : 0,
    sysPercent: runtimeMs ? parts.reduce((s, x) => s + x.sys_cpu * x.job_runtime, 0) / runtimeMs : 0,
    failed: first.error ? `fio error ${first.error}` : undefined,
  };
}
