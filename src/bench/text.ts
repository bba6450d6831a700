// The normal output: for one engine, fio's per-job report (shortened); for a comparison, one table
// per job ranking the engines, with the null engine as the baseline and fio's rows as reference.
import { isFileWorkload } from './options.js';
import type { Job } from './plan.js';
import type { Entry } from './results.js';
import { bytes as formatBytes, duration as formatDuration } from '../fio/units.js';
import { percentiles } from './fio-json.js';
import type { Row } from './rows.js';

const SI = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(n >= 1e7 ? 1 : 2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(n >= 1e5 ? 0 : 1)}k` : n.toFixed(0));

/** fio's own style: `4KiB`, `12.5us` */
export const bytes = (n: number): string => formatBytes(n, '');
const duration = (ns: number): string => formatDuration(ns, { sep: '', micro: 'us' });

function ms(n: number): string {
  return n % 1000 === 0 ? `${n / 1000}s` : `${n}ms`;
}

export function describe(job: Job): string {
  const parts = [`rw=${job.rw}`];
  if (job.rw === 'rw' || job.rw === 'randrw') parts.push(`rwmixread=${job.rwmixread}`);
  if (isFileWorkload(job.rw)) {
    parts.push(`nrfiles=${job.nrfiles}`, `filesize=${bytes(job.filesize!)}`);
    if (job.rw === 'readstream') parts.push(`bs=${bytes(job.bs)}`);
    parts.push(`iodepth=${job.iodepth}`);
  }
  else parts.push(`bs=${bytes(job.bs)}`, `iodepth=${job.iodepth}`);
  if (job.numjobs > 1) parts.push(`numjobs=${job.numjobs}`);
  if (job.size !== undefined) parts.push(`size=${bytes(job.size)}`);
  if (job.direct) parts.push('direct=1');
  if (job.fsync) parts.push(`fsync=${job.fsync}`);
  if (job.fdatasync) parts.push(`fdatasync=${job.fdatasync}`);
  if (job.runtime) parts.push(`runtime=${ms(job.runtime)}${job.time_based ? ' time_based' : ''}`);
  return parts.join(' ');
}

function table(head: string[], rows: string[][], rightAligned: boolean[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (rightAligned[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

/** One table per job: engines ranked by IOPS; baseline and fio reference rows below. */
export function comparisonText(rows: Row[]): string {
  const out: string[] = [];
  const jobs = [...new Set(rows.map(r => r.job))];
  for (const job of jobs) {
    const mine = rows.filter(r => r.job === job);
    const ranked = mine.filter(r => r.kind === 'engine' && !r.failed).sort((a, b) => b.iops - a.iops);
    const other = [
      ...mine.filter(r => r.kind === 'engine' && r.failed),
      ...mine.filter(r => r.kind === 'baseline'),
      ...mine.filter(r => r.kind === 'reference').sort((a, b) => b.iops - a.iops),
    ];
    const best = ranked[0]?.iops ?? 0;
    const cells = (r: Row, rank: string): string[] => r.failed && r.iops === 0
      ? [rank, r.label, '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', `failed: ${r.failed}`]
      : [rank, r.label, SI(r.iops), `${bytes(r.bwBytes)}/s`, best ? `${((100 * r.iops) / best).toFixed(0)}%` : '-',
        duration(r.p50), duration(r.p99), duration(r.p999), `${r.cpuPerOpUs.toFixed(2)}us`, `${(r.usrPercent + r.sysPercent).toFixed(0)}%`, r.ctxPerOp.toFixed(2),
        r.loopP99 === undefined ? '-' : duration(r.loopP99), r.loopMax === undefined ? '-' : duration(r.loopMax),
        r.kind === 'baseline' ? '(no I/O: the bench\'s own cost)' : r.kind === 'reference' ? '(fio, native reference)' : r.failed ? r.failed : ''];
    const body = [...ranked.map((r, i) => cells(r, String(i + 1))), ...other.map(r => cells(r, ''))];
    out.push(`${job.name}: ${job.description ? `${job.description}; ` : ''}${describe(job)}`);
    out.push(table(['#', 'engine', 'IOPS', 'BW', 'vs 1st', 'p50', 'p99', 'p99.9', 'CPU/op', 'CPU', 'ctx/op', 'loop p99', 'loop max', ''], body,
      [true, false, true, true, true, true, true, true, true, true, true, true, true, false]).replace(/^/gm, '  '));
    out.push('');
  }
  out.push('IOPS and BW over the measured time; p50/p99/p99.9: latency of one operation, call to settled promise;');
  out.push('CPU/op: user+system CPU of the job\'s process per operation; CPU: of one core; ctx/op: context switches per operation;');
  out.push('loop p99/max: how late the event loop ran while the job worked (a 1 ms timer\'s delay; the wait for its first tick after the work included).');
  return out.join('\n');
}

/** fio's per-job report, shortened to the lines people read. */
export function entryText(e: Entry): string {
  const lines = [`${e.jobname}: (groupid=${e.groupid}, jobs=${e.clones}): err=${String(e.error).padStart(2)}: engine=${e.engine}${e.errorMessage ? `: ${e.errorMessage}` : ''}`];
  for (const [name, d] of [['read', e.read], ['write', e.write]] as const) {
    if (d.ios === 0) continue;
    const bw = d.runtimeMs ? (d.bytes * 1000) / d.runtimeMs : 0;
    lines.push(`  ${name}: IOPS=${SI(d.runtimeMs ? (d.ios * 1000) / d.runtimeMs : 0)}, BW=${bytes(bw)}/s (${(bw / 1e6).toFixed(1)}MB/s)(${bytes(d.bytes)}/${d.runtimeMs}msec)`);
    lines.push(`    clat: min=${duration(d.lat.min)}, max=${duration(d.lat.max)}, avg=${duration(d.lat.mean)}, stdev=${duration(d.lat.stddev)}`);
    const p = Object.entries(percentiles(d.lat.hist)).map(([k, v]) => `${Number(k).toFixed(2)}th=[${duration(v)}]`);
    for (let i = 0; i < p.length; i += 5) lines.push(`     | ${p.slice(i, i + 5).join(', ')}`);
  }
  if (e.sync.n > 0) lines.push(`  sync: ${e.sync.n} calls, avg=${duration(e.sync.mean)}, max=${duration(e.sync.max)}`);
  const cpuBase = e.jobRuntimeMs || 1;
  lines.push(`  cpu          : usr=${((e.userMs * 100) / cpuBase).toFixed(2)}%, sys=${((e.systemMs * 100) / cpuBase).toFixed(2)}%, ctx=${e.ctx}, majf=${e.majf}, minf=${e.minf}`);
  const total = e.depth.reduce((s, v) => s + v, 0) || 1;
  lines.push(`  IO depths    : ${['1', '2', '4', '8', '16', '32', '>=64'].map((k, i) => `${k}=${((e.depth[i] * 100) / total).toFixed(1)}%`).join(', ')}`);
  return lines.join('\n');
}
