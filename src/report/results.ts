// One engine on one workload, as the report shows it: fio's entries for it (one per clone, or one
// with group_reporting) added up into the figures that rank engines.
import { PERCENTILES } from '../fio/json.js';
import type { FioDirection, FioJob, Percentiles } from './read.js';

export type Kind = 'engine' | 'baseline' | 'reference';

export interface Result {
  /** what the row and the legend say: the engine, `fio psync` for a reference, the file when two runs share an engine */
  label: string;
  /** the engine (or `fio <engine>`): what the colour follows */
  engine: string;
  kind: Kind;
  /** the input file it came from */
  file: string;
  /** 1 for the best engine; none for failed, baseline and reference rows */
  rank?: number;
  /** the workload's measure (IOPS or bandwidth) over the best engine's */
  vsBest?: number;
  iops: number;
  /** bytes/s */
  bwBytes: number;
  ios: number;
  /** ns at each of PERCENTILES (of the busier direction of the first clone, as fio's own summaries); null where none */
  latency: Array<number | null>;
  /** CPU time per operation (µs) of the job's process: user and system */
  usrUsPerOp: number;
  sysUsPerOp: number;
  /** user + system CPU, percent of one core (clones added up) */
  cpuPercent: number;
  ctxPerOp: number;
  /** ns the event loop ran late while the job worked: p50, p99, the longest (undefined: not measured, as for fio) */
  loopDelay?: { p50: number; p99: number; max: number };
  error?: string;
}

const key = (p: number) => p.toFixed(6);

/** lat (submission to completion) where fio was asked for it (lat_percentiles=1), else clat: what the bench records as clat. */
function percentilesOf(d: FioDirection): Percentiles {
  const lat = d.lat_ns?.percentile;
  return lat && Object.keys(lat).length ? lat : d.clat_ns?.percentile ?? {};
}

/** The loop's delay across clones: the worst clone's figures (the loop of each clone is its own thread's). */
function loopDelayOf(parts: FioJob[]): Result['loopDelay'] {
  const measured = parts.map(p => p['ioengine loop delay_ns']).filter(l => l && typeof l.max === 'number' && l.N);
  if (measured.length === 0) return undefined;
  const at = (p: number) => Math.max(...measured.map(l => Number(l!.percentile?.[key(p)] ?? 0)));
  return { p50: at(50), p99: at(99), max: Math.max(...measured.map(l => l!.max!)) };
}

export function resultOf(parts: FioJob[], label: string, engine: string, kind: Kind, file: string): Result {
  const ios = parts.reduce((s, p) => s + p.read.total_ios + p.write.total_ios, 0);
  const first = parts[0];
  const busier = first.read.total_ios >= first.write.total_ios ? first.read : first.write;
  const pct = percentilesOf(busier);
  // usr_cpu and sys_cpu are percent of job_runtime (fio's, ms); older fio JSON has no job_runtime.
  const runtimeOf = (p: FioJob) => p.job_runtime ?? Math.max(p.read.runtime ?? 0, p.write.runtime ?? 0);
  const cpuMs = (field: 'usr_cpu' | 'sys_cpu') => parts.reduce((s, p) => s + ((p[field] ?? 0) / 100) * runtimeOf(p), 0);
  const failed = parts.find(p => p.error);
  return {
    label,
    engine,
    kind,
    file,
    iops: parts.reduce((s, p) => s + p.read.iops + p.write.iops, 0),
    bwBytes: parts.reduce((s, p) => s + p.read.bw_bytes + p.write.bw_bytes, 0),
    ios,
    latency: PERCENTILES.map(p => {
      const v = pct[key(p)];
      return typeof v === 'number' && v > 0 ? v : null;
    }),
    usrUsPerOp: ios ? (cpuMs('usr_cpu') * 1000) / ios : 0,
    sysUsPerOp: ios ? (cpuMs('sys_cpu') * 1000) / ios : 0,
    cpuPercent: parts.reduce((s, p) => s + (p.usr_cpu ?? 0) + (p.sys_cpu ?? 0), 0),
    ctxPerOp: ios ? parts.reduce((s, p) => s + (p.ctx ?? 0), 0) / ios : 0,
    loopDelay: loopDelayOf(parts),
    error: failed ? `error ${failed.error}${failed['error message'] ? `: ${failed['error message']}` : ''}` : undefined,
  };
}

/** One job's results across engines (and files): a section of the page. */
export interface Workload {
  /** unique in the page: the anchor of its section */
  id: string;
  jobname: string;
  description?: string;
  /** the options written for the job, its file's global options under them, without the engine */
  options: Record<string, string>;
  rw: string;
  /** bytes; undefined where fio's JSON holds what the report cannot read (separate read,write sizes) */
  bs?: number;
  iodepth?: number;
  /** what the throughput chart shows: IOPS, or bandwidth for large blocks (64 KiB and over) */
  metric: 'iops' | 'bw';
  /** ranked engines, then failed ones, then the baseline (null: no I/O), then fio's reference rows */
  results: Result[];
  files: string[];
}
