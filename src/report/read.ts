// What `ioengine report` reads: the JSON that `ioengine bench --output-format=json` writes (fio's
// shape, plus "ioengine host", the machine). fio's own JSON reads too, without the machine. Anything
// else is refused with what is wrong and how to make a file that will do.
import fs from 'node:fs';
import type { Host } from '../fio/host.js';
import { parseFioJson } from '../fio/json.js';

/** A file the report cannot use: the CLI prints the message and exits with status 1. */
export class ReportInputError extends Error {
  override name = 'ReportInputError';
}

export type Percentiles = Record<string, number>;

export interface FioDirection {
  iops: number;
  bw_bytes: number;
  total_ios: number;
  runtime?: number;
  clat_ns?: { percentile?: Percentiles };
  lat_ns?: { percentile?: Percentiles };
}

export interface FioJob {
  jobname: string;
  groupid?: number;
  error?: number;
  'error message'?: string;
  'job options'?: Record<string, string>;
  read: FioDirection;
  write: FioDirection;
  usr_cpu?: number;
  sys_cpu?: number;
  ctx?: number;
  /** ms of measured time */
  job_runtime?: number;
  /** ioengine's own: how late the event loop ran (ns) while the job worked */
  'ioengine loop delay_ns'?: { max?: number; N?: number; percentile?: Percentiles };
}

export interface BenchJson {
  'ioengine version'?: string;
  'fio version'?: string;
  'ioengine host'?: Partial<Host>;
  time?: string;
  timestamp?: number;
  'global options'?: Record<string, string>;
  jobs: FioJob[];
  /** `ioengine bench --fio`: fio's own runs of the same jobs */
  'fio reference'?: Array<{ ioengine: string; error?: string; jobs: FioJob[] }>;
}

/** One input: where it came from (for messages and labels) and what it holds. */
export interface Source {
  file: string;
  json: BenchJson;
}

const HOW = 'write one with: ioengine bench --output-format=json --output=results.json';

export function readBenchFile(file: string): Source {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ReportInputError(`cannot read '${file}': ${e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'it is a folder' : e.message}`);
  }
  let value: unknown;
  try {
    value = parseFioJson(text);
  } catch (err) {
    throw new ReportInputError(`'${file}' is not JSON (${(err as Error).message}): give the JSON of a bench run (${HOW})`);
  }
  return { file, json: checkBenchJson(value, file) };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkDirection(v: unknown): boolean {
  return isObject(v) && typeof v.iops === 'number' && typeof v.total_ios === 'number' && typeof v.bw_bytes === 'number';
}

type Shape = 'string' | 'number' | 'object' | 'strings' | 'numbers';

/** The optional fields the page reads, and what each must be when present (strings/numbers: an object of them). */
const TOP: Record<string, Shape> = { 'ioengine version': 'string', 'fio version': 'string', time: 'string', timestamp: 'number', 'global options': 'strings', 'ioengine host': 'object' };
const HOST: Record<string, Shape> = { kernel: 'string', cpus: 'number', cpu_model: 'string', arch: 'string', memory: 'number', node: 'string', date: 'string' };
const JOB: Record<string, Shape> = { groupid: 'number', error: 'number', 'error message': 'string', 'job options': 'strings', usr_cpu: 'number', sys_cpu: 'number', ctx: 'number', job_runtime: 'number', 'ioengine loop delay_ns': 'object' };
const LOOP: Record<string, Shape> = { max: 'number', N: 'number', percentile: 'numbers' };
const DIRECTION: Record<string, Shape> = { runtime: 'number', clat_ns: 'object', lat_ns: 'object' };
const LATENCY: Record<string, Shape> = { percentile: 'numbers' };

/** The first field of value that is not of its shape, as `where.field should be …`, or undefined. */
function misshapen(value: Record<string, unknown>, shapes: Record<string, Shape>, where: string): string | undefined {
  for (const [key, shape] of Object.entries(shapes)) {
    const v = value[key];
    if (v === undefined) continue;
    const ok = shape === 'string' ? typeof v === 'string' : shape === 'number' ? typeof v === 'number' && Number.isFinite(v)
      : isObject(v) && (shape === 'object' || Object.values(v).every(x => typeof x === (shape === 'strings' ? 'string' : 'number')));
    if (!ok) return `${where}"${key}" should be ${shape === 'strings' ? 'an object of strings' : shape === 'numbers' ? 'an object of numbers' : `a${shape === 'object' ? 'n' : ''} ${shape}`}`;
  }
  return undefined;
}

function jobShape(job: Record<string, unknown>, where: string): string | undefined {
  return misshapen(job, JOB, where)
    ?? (isObject(job['ioengine loop delay_ns']) ? misshapen(job['ioengine loop delay_ns'], LOOP, `${where}"ioengine loop delay_ns".`) : undefined)
    ?? (['read', 'write'] as const).map(d => {
      const dir = job[d] as Record<string, unknown>;
      return misshapen(dir, DIRECTION, `${where}${d}.`)
        ?? (['clat_ns', 'lat_ns'] as const).map(l => (isObject(dir[l]) ? misshapen(dir[l], LATENCY, `${where}${d}.${l}.`) : undefined)).find(Boolean);
    }).find(Boolean);
}

/** The value as a bench result, or a refusal that says what is missing or of the wrong type. */
export function checkBenchJson(value: unknown, file: string): BenchJson {
  const refuse = (why: string): never => {
    throw new ReportInputError(`'${file}' is not the JSON of a bench run: ${why} (${HOW})`);
  };
  if (!isObject(value)) return refuse('expected an object with a "jobs" array');
  if (!Array.isArray(value.jobs)) return refuse('it has no "jobs" array');
  if (value.jobs.length === 0) return refuse('its "jobs" array is empty: no results');
  value.jobs.forEach((job: unknown, i: number) => {
    if (!isObject(job) || typeof job.jobname !== 'string') return refuse(`jobs[${i}] has no "jobname"`);
    if (!checkDirection(job.read) || !checkDirection(job.write)) return refuse(`jobs[${i}] ('${job.jobname}') lacks "read"/"write" with iops, bw_bytes and total_ios`);
    const wrong = jobShape(job, `jobs[${i}].`);
    if (wrong) refuse(wrong);
  });
  const top = misshapen(value, TOP, '') ?? (isObject(value['ioengine host']) ? misshapen(value['ioengine host'], HOST, '"ioengine host".') : undefined);
  if (top) refuse(top);
  const ref = value['fio reference'];
  if (ref !== undefined && (!Array.isArray(ref) || !ref.every(r => isObject(r) && typeof r.ioengine === 'string' && Array.isArray(r.jobs) && r.jobs.every(j => isObject(j) && typeof j.jobname === 'string' && checkDirection(j.read) && checkDirection(j.write) && !jobShape(j, ''))))) {
    return refuse('its "fio reference" is not a list of fio runs');
  }
  return value as unknown as BenchJson;
}
