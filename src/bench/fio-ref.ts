// `--fio`: fio itself on the same jobs and files, as the native reference rows. Each engine of the
// comparison that has a fio counterpart (its descriptor's fioReference: sync's is psync) gets its
// fio row; when none has, the comparison is against fio's psync.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { descriptor } from '../engines/registry.js';
import { parseFioJson } from '../fio/json.js';
import { cloneFile, type Job } from './plan.js';
import type { FioJobJson } from './rows.js';


export function fioInstalled(): boolean {
  return spawnSync('fio', ['--version'], { encoding: 'utf8' }).status === 0;
}

/** fio's engines to run as references for these engines of ioengine. */
export function fioEnginesFor(engines: string[]): string[] {
  const refs = engines.map(descriptor).filter(d => d?.fioReference && !d.baseline).map(d => d!.fioReference!);
  const out = [...new Set(refs)];
  return out.length ? out : ['psync'];
}

/** The group as a fio job file: the bench's resolved values, in units fio reads the same way. */
function fioJobFile(jobs: Job[], sizes: Map<Job, number>, fioEngine: string): string {
  const lines: string[] = [];
  for (const j of jobs) {
    lines.push(`[${j.name}]`);
    const opt = (k: string, v: string | number | boolean | undefined) => {
      if (v !== undefined) lines.push(`${k}=${typeof v === 'boolean' ? Number(v) : v}`);
    };
    if (j.filename) opt('filename', cloneFile(j, 0));
    else opt('directory', j.directory ?? '.');
    // A sweep's combinations work on the job's own files (plan.ts, cloneFile): fio too.
    if (!j.filename && j.sweepPoint) opt('filename_format', `${j.sweepPoint.of}.$jobnum.$filenum`);
    opt('size', sizes.get(j));
    opt('offset', j.offset);
    opt('io_size', j.io_size);
    opt('rw', j.rw);
    opt('rwmixread', j.rwmixread);
    opt('bs', j.bs);
    opt('iodepth', j.iodepth);
    opt('ioengine', fioEngine);
    opt('direct', j.direct);
    opt('numjobs', j.numjobs);
    if (j.runtime) opt('runtime', `${Math.round(j.runtime)}ms`);
    if (j.time_based) lines.push('time_based');
    if (j.ramp_time) opt('ramp_time', `${Math.round(j.ramp_time)}ms`);
    if (j.fsync) opt('fsync', j.fsync);
    if (j.fdatasync) opt('fdatasync', j.fdatasync);
    opt('invalidate', j.invalidate);
    opt('randrepeat', j.randrepeat);
    opt('randseed', j.randseed);
    if (j.norandommap) lines.push('norandommap');
    if (j.group_reporting) lines.push('group_reporting');
    lines.push('thread');
    lines.push('lat_percentiles=1'); // submission to completion, as the bench measures: not clat alone
    lines.push('');
  }
  return lines.join('\n');
}

export interface FioRun {
  fioEngine: string;
  jobs?: FioJobJson[];
  error?: string;
}

export function runFio(jobs: Job[], sizes: Map<Job, number>, fioEngine: string): FioRun {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ioengine-fio-'));
  const file = path.join(dir, 'job.fio');
  try {
    fs.writeFileSync(file, fioJobFile(jobs, sizes, fioEngine));
    const r = spawnSync('fio', ['--output-format=json', file], { encoding: 'utf8', maxBuffer: 256 << 20 });
    if (r.status !== 0) return { fioEngine, error: (r.stderr || r.stdout).trim().split('\n').pop() };
    const json = parseFioJson(r.stdout) as { jobs: FioJobJson[] };
    return { fioEngine, jobs: json.jobs };
  } catch (err) {
    return { fioEngine, error: (err as Error).message };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
