// From bench results (one or more files) to what the page shows: the machines, and the workloads,
// each with its engines ranked. A workload is a job with its options; the same job with the same
// options in several files (one run per engine, say) is one workload compared across them.
import { descriptor } from '../engines/registry.js';
import type { Host } from '../fio/host.js';
import { parseSize } from '../fio/units.js';
import type { FioJob, Source } from './read.js';
import { resultOf, type Result, type Workload } from './results.js';

export type { Workload } from './results.js';
import { sweepsOf, type Sweep } from './sweeps.js';

export interface Machine extends Partial<Host> {
  /** `ioengine-0.1.0`, or fio's version for fio's own JSON */
  version: string;
  /** the file measured on it */
  file: string;
}

export interface ReportModel {
  machines: Machine[];
  workloads: Workload[];
  sweeps: Sweep[];
  /** engines and references in order of first appearance (for the colour key) */
  engines: string[];
}

/** Options that name or describe a job, or pick its engine: not what makes one workload differ from another. */
const NOT_WORKLOAD = new Set(['name', 'description', 'ioengine']);

export function buildModel(sources: Source[]): ReportModel {
  const workloads = new Map<string, Workload>();
  for (const { file, json } of sources) {
    const globals = json['global options'] ?? {};
    const mine = new Map<string, Workload>(); // by job name, for fio's reference rows
    for (const parts of byJob(json.jobs)) {
      const first = parts[0];
      const all = { ...globals, ...first['job options'] };
      const engine = all.ioengine ?? 'unknown';
      const options = Object.fromEntries(Object.entries(all).filter(([k]) => !NOT_WORKLOAD.has(k)));
      const id = `${first.jobname}\0${JSON.stringify(Object.entries(options).sort())}`;
      let w = workloads.get(id);
      if (!w) {
        w = newWorkload(first.jobname, all, options, workloads.size);
        workloads.set(id, w);
      }
      if (!w.files.includes(file)) w.files.push(file);
      if (!mine.has(first.jobname)) mine.set(first.jobname, w);
      w.results.push(resultOf(parts, engine, engine, descriptor(engine)?.baseline ? 'baseline' : 'engine', file));
    }
    for (const ref of json['fio reference'] ?? []) {
      for (const parts of byJob(ref.jobs)) {
        const w = mine.get(parts[0].jobname);
        if (w) w.results.push(resultOf(parts, `fio ${ref.ioengine}`, `fio ${ref.ioengine}`, 'reference', file));
      }
    }
  }
  const list = [...workloads.values()];
  for (const w of list) rank(w);
  const engines = [...new Set(list.flatMap(w => w.results.map(r => r.engine)))];
  return { machines: machinesOf(sources), workloads: list, sweeps: sweepsOf(list), engines };
}

/** fio's entries of one job on one engine (its clones) together: by group, job name and engine, in order. */
function byJob(jobs: FioJob[]): FioJob[][] {
  const out = new Map<string, FioJob[]>();
  for (const j of jobs) {
    const key = `${j.groupid ?? 0}\0${j.jobname}\0${j['job options']?.ioengine ?? ''}`;
    out.set(key, [...(out.get(key) ?? []), j]);
  }
  return [...out.values()];
}

function newWorkload(jobname: string, all: Record<string, string>, options: Record<string, string>, n: number): Workload {
  let bs: number | undefined;
  try {
    bs = parseSize(all.bs ?? all.blocksize ?? '4k');
  } catch {
    bs = undefined;
  }
  const iodepth = Number(all.iodepth ?? 1);
  return {
    id: `w${n + 1}`,
    jobname,
    description: all.description,
    options,
    rw: all.rw ?? all.readwrite ?? 'read',
    bs,
    iodepth: Number.isInteger(iodepth) && iodepth > 0 ? iodepth : undefined,
    metric: bs !== undefined && bs >= 64 * 1024 ? 'bw' : 'iops',
    results: [],
    files: [],
  };
}

/** Engines ranked by the workload's measure; labels made unique where two files ran the same engine. */
function rank(w: Workload): void {
  const value = (r: Result) => (w.metric === 'bw' ? r.bwBytes : r.iops);
  const ranked = w.results.filter(r => r.kind === 'engine' && !r.error).sort((a, b) => value(b) - value(a));
  const best = ranked.length ? value(ranked[0]) : 0;
  ranked.forEach((r, i) => {
    r.rank = i + 1;
    r.vsBest = best > 0 ? value(r) / best : undefined;
  });
  w.results = [
    ...ranked,
    ...w.results.filter(r => r.kind === 'engine' && r.error),
    ...w.results.filter(r => r.kind === 'baseline'),
    ...w.results.filter(r => r.kind === 'reference').sort((a, b) => value(b) - value(a)),
  ];
  const seen = new Map<string, number>();
  for (const r of w.results) seen.set(r.label, (seen.get(r.label) ?? 0) + 1);
  const nth = new Map<string, number>();
  for (const r of w.results) {
    if (seen.get(r.label)! < 2) continue;
    const n = (nth.get(r.label) ?? 0) + 1;
    nth.set(r.label, n);
    r.label = w.files.length > 1 ? `${r.label} (${r.file})` : `${r.label} #${n}`;
  }
}

/** The machine of each file: where and when it was measured. */
function machinesOf(sources: Source[]): Machine[] {
  return sources.map(({ file, json }) => {
    const host = json['ioengine host'] ?? {};
    const date = host.date ?? (json.timestamp ? new Date(json.timestamp * 1000).toISOString() : json.time);
    return { ...host, date, version: json['ioengine version'] ?? json['fio version'] ?? 'unknown', file };
  });
}
