// Sweeps: workloads that differ only in iodepth or bs (what `ioengine bench --iodepth=1,4,16` makes,
// or jobs written so by hand). Each becomes a chart of IOPS against the swept option, one line per
// engine. When both vary, each bs gets a chart against iodepth and each iodepth one against bs.
import { sizeText } from '../fio/units.js';
import type { Kind, Workload } from './results.js';

export interface Sweep {
  id: string;
  /** the option on the x axis */
  option: 'iodepth' | 'bs';
  /** the workload's name (the job's name without the sweep's suffix) */
  name: string;
  /** what is held while the option varies, e.g. `rw=randread bs=4k` */
  held: string;
  /** the option's values, ascending, and as the x axis shows them */
  values: number[];
  labels: string[];
  /** one line per engine (and reference): IOPS at each value; null where it did not run or failed */
  lines: Array<{ label: string; engine: string; kind: Kind; iops: Array<number | null> }>;
  /** ids of the workloads of the points, in the order of values */
  workloads: string[];
}

/** Options that do not make workloads different, besides the swept ones. */
const IGNORED = new Set(['bs', 'blocksize', 'iodepth', 'stonewall', 'wait_for_previous', 'new_group']);

export function sweepsOf(workloads: Workload[]): Sweep[] {
  const families = new Map<string, Workload[]>();
  for (const w of workloads) {
    if (w.bs === undefined || w.iodepth === undefined) continue;
    const key = JSON.stringify(Object.entries(w.options).filter(([k]) => !IGNORED.has(k)).sort());
    families.set(key, [...(families.get(key) ?? []), w]);
  }
  const sweeps: Sweep[] = [];
  for (const family of families.values()) {
    const depths = [...new Set(family.map(w => w.iodepth!))].sort((a, b) => a - b);
    const sizes = [...new Set(family.map(w => w.bs!))].sort((a, b) => a - b);
    for (const bs of sizes) add(sweeps, 'iodepth', family.filter(w => w.bs === bs), `bs=${sizeText(bs)}`);
    for (const depth of depths) add(sweeps, 'bs', family.filter(w => w.iodepth === depth), `iodepth=${depth}`);
  }
  return sweeps;
}

function add(sweeps: Sweep[], option: 'iodepth' | 'bs', family: Workload[], held: string): void {
  // One workload per value (the first, should two jobs differ in name only).
  const byValue = new Map<number, Workload>();
  for (const w of family) {
    const v = option === 'iodepth' ? w.iodepth! : w.bs!;
    if (!byValue.has(v)) byValue.set(v, w);
  }
  if (byValue.size < 2) return;
  const values = [...byValue.keys()].sort((a, b) => a - b);
  const points = values.map(v => byValue.get(v)!);
  const lines: Sweep['lines'] = [];
  for (const [i, w] of points.entries()) {
    for (const r of w.results) {
      if (r.kind === 'baseline') continue; // no I/O: its IOPS would flatten every other line
      let line = lines.find(l => l.label === r.label);
      if (!line) lines.push(line = { label: r.label, engine: r.engine, kind: r.kind, iops: values.map(() => null) });
      line.iops[i] = r.error ? null : r.iops;
    }
  }
  const first = points[0];
  sweeps.push({
    id: `s${sweeps.length + 1}`,
    option,
    name: nameOf(points.map(w => w.jobname)),
    held: [`rw=${first.rw}`, held].join(' '),
    values,
    labels: values.map(v => (option === 'bs' ? sizeText(v) : String(v))),
    lines,
    workloads: points.map(w => w.id),
  });
}

/** The jobs' name without the suffix a sweep adds (`-bs4k-qd16`), else what the names share. */
function nameOf(names: string[]): string {
  const stripped = new Set(names.map(n => n.replace(/(-bs\d+[kmg]?)?(-qd\d+)?$/, '')));
  if (stripped.size === 1 && [...stripped][0] !== '') return [...stripped][0];
  let prefix = names[0];
  for (const n of names) while (!n.startsWith(prefix)) prefix = prefix.slice(0, -1);
  return prefix.replace(/[-_.]+$/, '') || names.join(', ');
}
