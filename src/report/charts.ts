// The charts of the page, as data: what each draws, in which colours and units. The page's script
// (page-script.ts) turns each into a Chart.js chart; the browser test reads the same specs to check
// that every chart drew its data.
import { PERCENTILES } from '../fio/json.js';
import { engineColor, withAlpha } from './colors.js';
import type { ReportModel, Workload } from './model.js';
import type { Result } from './results.js';
import type { Sweep } from './sweeps.js';

/** bandwidth is drawn in MiB/s or GiB/s (as the tables print it), so the axis gets round numbers of its unit */
export type Unit = 'iops' | 'MiB/s' | 'GiB/s' | 'ns' | 'us';

export interface Dataset {
  label: string;
  data: Array<number | null>;
  /** one colour, or one per bar */
  color: string | string[];
  /** fio's reference rows: dashed lines */
  dashed?: boolean;
}

export interface ChartSpec {
  /** the canvas's id */
  id: string;
  kind: 'throughput' | 'latency' | 'cpu' | 'loop' | 'sweep';
  title: string;
  labels: string[];
  datasets: Dataset[];
  /** the unit of the values (the axis that is not labels) */
  unit: Unit;
  log: boolean;
  xTitle?: string;
  /** solid colours the chart draws with: the test looks for their pixels */
  colors: string[];
}

const drawn = (w: Workload) => w.results.filter(r => !r.error);

function throughput(w: Workload): ChartSpec {
  // The baseline (no I/O) would flatten every other bar: drawn only when there is nothing else.
  const others = drawn(w).filter(r => r.kind !== 'baseline');
  const rows = others.length ? others : drawn(w);
  const colors = rows.map(r => engineColor(r.engine));
  const bw = w.metric === 'bw';
  const gib = Math.max(0, ...rows.map(r => r.bwBytes)) >= 2 ** 30;
  const scale = gib ? 2 ** 30 : 2 ** 20;
  return {
    id: `${w.id}-throughput`,
    kind: 'throughput',
    title: bw ? 'Bandwidth' : 'IOPS',
    labels: rows.map(r => r.label),
    datasets: [{ label: bw ? 'bandwidth' : 'IOPS', data: rows.map(r => (bw ? r.bwBytes / scale : r.iops)), color: colors }],
    unit: bw ? (gib ? 'GiB/s' : 'MiB/s') : 'iops',
    log: false,
    colors,
  };
}

/** None when no engine has latency figures (a socket stream's load generator measures none). */
function latency(w: Workload): ChartSpec | undefined {
  const rows = drawn(w).filter(r => r.latency.some(v => v !== null));
  if (!rows.length) return undefined;
  return {
    id: `${w.id}-latency`,
    kind: 'latency',
    title: 'Latency percentiles',
    labels: PERCENTILES.map(p => `p${p}`),
    datasets: rows.map(r => ({ label: r.label, data: r.latency, color: engineColor(r.engine), dashed: r.kind === 'reference' })),
    unit: 'ns',
    log: true,
    xTitle: 'percentile',
    colors: rows.map(r => engineColor(r.engine)),
  };
}

function cpu(w: Workload): ChartSpec {
  const rows: Result[] = drawn(w);
  const colors = rows.map(r => engineColor(r.engine));
  return {
    id: `${w.id}-cpu`,
    kind: 'cpu',
    title: 'CPU time per operation',
    labels: rows.map(r => r.label),
    datasets: [
      { label: 'user', data: rows.map(r => r.usrUsPerOp), color: colors },
      { label: 'system', data: rows.map(r => r.sysUsPerOp), color: colors.map(c => withAlpha(c, 0.4)) },
    ],
    unit: 'us',
    log: false,
    colors,
  };
}

/** How late the event loop ran while each engine worked: what the throughput cost everything else. */
function loop(w: Workload): ChartSpec | undefined {
  const rows = drawn(w).filter(r => r.loopDelay && r.kind !== 'reference');
  if (rows.length === 0) return undefined;
  const colors = rows.map(r => engineColor(r.engine));
  return {
    id: `${w.id}-loop`,
    kind: 'loop',
    title: 'Event loop delay (p50, p99, longest)',
    labels: rows.map(r => r.label),
    datasets: [
      { label: 'p50', data: rows.map(r => r.loopDelay!.p50 || null), color: colors.map(c => withAlpha(c, 0.3)) },
      { label: 'p99', data: rows.map(r => r.loopDelay!.p99 || null), color: colors.map(c => withAlpha(c, 0.6)) },
      { label: 'longest', data: rows.map(r => r.loopDelay!.max || null), color: colors },
    ],
    unit: 'ns',
    log: true,
    colors,
  };
}

function sweep(s: Sweep): ChartSpec {
  const values = s.lines.flatMap(l => l.iops).filter((v): v is number => v !== null && v > 0);
  return {
    id: `${s.id}-sweep`,
    kind: 'sweep',
    title: `IOPS against ${s.option}`,
    labels: s.labels,
    datasets: s.lines.map(l => ({ label: l.label, data: l.iops, color: engineColor(l.engine), dashed: l.kind === 'reference' })),
    unit: 'iops',
    // IOPS over block sizes or deep queues can span decades: a log axis keeps the small ones visible.
    log: values.length > 0 && Math.max(...values) / Math.min(...values) > 30,
    xTitle: s.option,
    colors: s.lines.map(l => engineColor(l.engine)),
  };
}

function workloadCharts(w: Workload): ChartSpec[] {
  if (!drawn(w).length) return [];
  return [throughput(w), latency(w), cpu(w), loop(w)].filter((c): c is ChartSpec => c !== undefined);
}

export function chartSpecs(model: ReportModel): ChartSpec[] {
  return [...model.sweeps.map(sweep), ...model.workloads.flatMap(workloadCharts)];
}
