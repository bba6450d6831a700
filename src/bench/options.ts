// fio's options, with fio's names, value syntax and defaults: the one table the command line and
// job files are both read through. An option or value not in this table is refused, never ignored.
import { distance } from 'fastest-levenshtein';
import { ENGINES, engineAliases } from '../engines/registry.js';
import { parseSize } from '../fio/units.js';

/** A refusal of what the user wrote: the CLI prints the message and exits with status 1. */
export class BenchUsageError extends Error {
  override name = 'BenchUsageError';
}

export type Rw = 'read' | 'write' | 'randread' | 'randwrite' | 'rw' | 'randrw' | FileWorkload;

/**
 * Whole-file workloads, ioengine's own (fio has no such rw): each I/O is one readFile, writeFile
 * or stat of one of the job's nrfiles files of filesize bytes, through ioengine/fs on the engine.
 */
export type FileWorkload = 'readfile' | 'readstream' | 'writefile' | 'stat';
const FILE_WORKLOADS: readonly string[] = ['readfile', 'readstream', 'writefile', 'stat'];
export const isFileWorkload = (rw: Rw): rw is FileWorkload => FILE_WORKLOADS.includes(rw);

/** One job as the runner needs it, every value resolved (sizes in bytes, times in ms). */
export interface JobOptions {
  name: string;
  description?: string;
  filename?: string;
  directory?: string;
  /** bytes of the file the job works on, from `offset`; undefined: the existing file's size */
  size?: number;
  offset: number;
  /** bytes of I/O before a job that is not time_based ends (default: size) */
  io_size?: number;
  rw: Rw;
  rwmixread: number;
  bs: number;
  /** files of a whole-file workload (rw readfile, readstream, writefile, stat); 1 for the others */
  nrfiles: number;
  /** bytes of each file of a whole-file workload (default: size / nrfiles, else 4 KiB) */
  filesize?: number;
  iodepth: number;
  /** ioengine's engine names, or ['all'] (resolved to the available ones before running) */
  ioengine: string[];
  direct: boolean;
  numjobs: number;
  /** ms; 0: no limit */
  runtime: number;
  time_based: boolean;
  /** ms */
  ramp_time: number;
  fsync: number;
  fdatasync: number;
  invalidate: boolean;
  randrepeat: boolean;
  randseed?: number;
  norandommap: boolean;
  /** ioengine's own: drive the job through readMany/writeMany, iodepth requests per call */
  batch: boolean;
  /** io_uring's, as fio's: the job's buffers are registered with the ring (READ_FIXED/WRITE_FIXED) */
  fixedbufs: boolean;
  /** io_uring's, as fio's: the job's file is registered with the ring (ioengine's io_uring does it unless told not to) */
  registerfiles: boolean;
  group_reporting: boolean;
  stonewall: boolean;
  unlink: boolean;
  /** a sweep given on the command line (`--iodepth=1,4,16`, `--bs=4k,64k`): the job runs once per
   * combination (plan.ts); bs and iodepth above hold the first values */
  sweep?: Sweep;
}

/** The values of each swept option, in the order given. */
export interface Sweep {
  bs?: number[];
  iodepth?: number[];
}

export const DEFAULTS: Omit<JobOptions, 'name'> = {
  offset: 0, rw: 'read', rwmixread: 50, bs: 4096, nrfiles: 1, iodepth: 1, ioengine: ['all'], direct: false, numjobs: 1,
  runtime: 0, time_based: false, ramp_time: 0, fsync: 0, fdatasync: 0, invalidate: true, randrepeat: true,
  norandommap: false, batch: false, fixedbufs: false, registerfiles: true, group_reporting: false, stonewall: false, unlink: false,
};

// ---- value syntax, as fio reads it ----

const TIME_UNITS: Record<string, number> = { us: 1e-3, usec: 1e-3, ms: 1, msec: 1, '': 1000, s: 1000, sec: 1000, m: 60e3, min: 60e3, h: 3600e3, hr: 3600e3, d: 86400e3 };

/** fio's times, in ms: 2 (seconds, fio's default unit), 500ms, 2s, 1m, 1h. */
export function parseTime(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value.trim());
  if (!m || !(m[2].toLowerCase() in TIME_UNITS)) throw new Error('expected a time such as 2, 2s, 500ms, 1m');
  return Number(m[1]) * TIME_UNITS[m[2].toLowerCase()];
}

function parseInteger(value: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(value.trim())) throw new Error(`expected an integer from ${min}`);
  const n = Number(value);
  if (n < min || n > max) throw new Error(`expected an integer from ${min} to ${max}`);
  return n;
}

/** fio's booleans are 0 or 1; a flag given alone (`--time_based`, `stonewall`) means 1. */
function parseBool(value: string | undefined): boolean {
  if (value === undefined || value.trim() === '1') return true;
  if (value.trim() === '0') return false;
  throw new Error('expected 0 or 1');
}

/** fio's ioengine names and ioengine's own, to the engine that runs (fio's psync is our sync). */
const ENGINE_ALIASES: Record<string, string> = { ...engineAliases(), auto: 'auto', all: 'all' };

/** `sync,pool,io_uring` or `all`: ioengine's names, in the given order, without repeats. */
export function parseEngines(value: string): string[] {
  const names = value.split(',').map(s => s.trim());
  const out: string[] = [];
  for (const name of names) {
    const engine = ENGINE_ALIASES[name];
    if (!engine) throw new Error(`unknown engine '${name}'${suggest(name, Object.keys(ENGINE_ALIASES))}; known: ${Object.keys(ENGINE_ALIASES).join(', ')}`);
    if (engine === 'all' && names.length > 1) throw new Error("'all' cannot be combined with other engines");
    if (!out.includes(engine)) out.push(engine);
  }
  return out;
}

function oneOf<T extends string>(values: readonly T[]) {
  return (value: string): T => {
    const v = value.trim();
    if ((values as readonly string[]).includes(v)) return v as T;
    throw new Error(`expected one of ${values.join(', ')}${suggest(v, values)}`);
  };
}

const RW_VALUES = ['read', 'write', 'randread', 'randwrite', 'rw', 'readwrite', 'randrw', 'readfile', 'readstream', 'writefile', 'stat'] as const;
const RW_REFUSED: Record<string, string> = {
  trim: 'trim is not supported (no trim operation in ioengine\'s engines)',
  randtrim: 'trim is not supported (no trim operation in ioengine\'s engines)',
  trimwrite: 'trim is not supported (no trim operation in ioengine\'s engines)',
  randtrimwrite: 'trim is not supported (no trim operation in ioengine\'s engines)',
};

function parseRw(value: string): Rw {
  const v = value.trim();
  if (v.includes(':')) throw new Error(`the ':' modifier (${v}) is not supported`);
  if (RW_REFUSED[v]) throw new Error(RW_REFUSED[v]);
  const rw = oneOf(RW_VALUES)(v);
  return rw === 'readwrite' ? 'rw' : rw;
}

function parseFilename(value: string): string {
  if (value.includes(':') && !/^[A-Za-z]:[\\/]/.test(value)) {
    throw new Error("several files in one job (':' separated) are not supported; give each file its own job");
  }
  if (value.trim() === '') throw new Error('expected a file name');
  return value;
}

function parseBs(value: string): number {
  const bs = parseSize(value);
  if (bs < 1) throw new Error('must be at least 1 byte');
  return bs;
}

/**
 * A sweep: `1,4,16` runs the job once per value. Only on the command line: in a job file fio reads
 * `bs=4k,8k` as separate read and write sizes, which a sweep must not be mistaken for.
 */
function sweepList<T>(name: 'bs' | 'iodepth', value: string, commandLine: boolean, one: (v: string) => T): T[] {
  if (!value.includes(',')) return [one(value)];
  if (!commandLine) {
    throw new Error(name === 'bs'
      ? "separate read,write block sizes are not supported; give one size (a sweep, --bs=4k,64k, is given on the command line)"
      : 'a list of values (a sweep, --iodepth=1,4,16) is given on the command line, not in a job file');
  }
  const items = value.split(',').map(s => s.trim());
  if (items.some(s => s === '')) throw new Error(`a sweep lists values separated by commas, with none empty (--${name}=${name === 'bs' ? '4k,64k' : '1,4,16'})`);
  const values = items.map(v => {
    try {
      return one(v);
    } catch (err) {
      throw new Error(`'${v}' in the list: ${(err as Error).message}`);
    }
  });
  const twice = values.findIndex((v, i) => values.indexOf(v) !== i);
  if (twice >= 0) throw new Error(`'${items[twice]}' is the same value as '${items[values.indexOf(values[twice])]}': each value of a sweep once`);
  return values;
}

/** Sets the first value of a swept option, and keeps the list when there is more than one. */
function setSwept(j: Partial<JobOptions>, name: 'bs' | 'iodepth', values: number[]): void {
  j[name] = values[0];
  const sweep: Sweep = { ...j.sweep };
  if (values.length > 1) sweep[name] = values;
  else delete sweep[name];
  j.sweep = sweep.bs || sweep.iodepth ? sweep : undefined;
}

// ---- the table ----

/** commandLine: the option was given on the command line (sweeps are taken only there) */
type Apply = (job: Partial<JobOptions>, value: string | undefined, commandLine: boolean) => void;

export interface OptionDef {
  name: string;
  aliases?: string[];
  /** shown in `ioengine bench --help` */
  help: string;
  /** a flag: may be given without a value */
  flag?: boolean;
  /** only on the command line, never in a job file */
  cliOnly?: boolean;
  apply: Apply;
}

const need = (name: string, value: string | undefined): string => {
  if (value === undefined) throw new Error(`needs a value (--${name}=VALUE)`);
  return value;
};

/** Job options, in the order `--help` lists them. */
export const JOB_OPTIONS: OptionDef[] = [
  { name: 'name', help: 'job name; on the command line, starts a new job', apply: (j, v) => { j.name = need('name', v); } },
  { name: 'description', help: 'free text about the job', apply: (j, v) => { j.description = need('description', v); } },
  { name: 'filename', help: 'file to do I/O on (default: NAME.CLONE.0 in --directory)', apply: (j, v) => { j.filename = parseFilename(need('filename', v)); } },
  { name: 'directory', help: 'folder for files without an absolute --filename', apply: (j, v) => { j.directory = need('directory', v); } },
  { name: 'size', help: 'bytes of file the job uses (4k, 256m, 2g)', apply: (j, v) => { j.size = parseSize(need('size', v)); if (j.size === 0) throw new Error('must be more than 0'); } },
  { name: 'offset', help: 'start of the region the job uses', apply: (j, v) => { j.offset = parseSize(need('offset', v)); } },
  { name: 'io_size', aliases: ['io_limit'], help: 'bytes of I/O before the job ends (default: size)', apply: (j, v) => { j.io_size = parseSize(need('io_size', v)); } },
  { name: 'rw', aliases: ['readwrite'], help: 'read, write, randread, randwrite, rw (readwrite), randrw; whole files (ioengine\'s own): readfile, readstream (bs: the stream\'s highWaterMark), writefile, stat', apply: (j, v) => { j.rw = parseRw(need('rw', v)); } },
  { name: 'nrfiles', help: 'files of a readfile/readstream/writefile/stat job (default 1)', apply: (j, v) => { j.nrfiles = parseInteger(need('nrfiles', v), 1); } },
  { name: 'filesize', help: 'bytes of each file of a readfile/readstream/writefile/stat job (default size/nrfiles, else 4k)', apply: (j, v) => { j.filesize = parseSize(need('filesize', v)); } },
  {
    name: 'rwmixread', help: 'percent of reads in rw/randrw (default 50)',
    apply: (j, v) => { j.rwmixread = parseInteger(need('rwmixread', v), 0, 100); },
  },
  {
    name: 'rwmixwrite', help: 'percent of writes in rw/randrw (100 - rwmixread)',
    apply: (j, v) => { j.rwmixread = 100 - parseInteger(need('rwmixwrite', v), 0, 100); },
  },
  {
    name: 'bs', aliases: ['blocksize'], help: 'block size of each I/O (default 4k); on the command line, a list sweeps: --bs=4k,64k',
    apply: (j, v, cl) => setSwept(j, 'bs', sweepList('bs', need('bs', v), cl, parseBs)),
  },
  {
    name: 'iodepth', help: 'I/Os kept in flight per job (default 1); on the command line, a list sweeps: --iodepth=1,4,16,32',
    apply: (j, v, cl) => setSwept(j, 'iodepth', sweepList('iodepth', need('iodepth', v), cl, x => parseInteger(x, 1, 65536))),
  },
  {
    name: 'ioengine', help: `engine(s): ${ENGINES.map(e => e.name).join(' ')}, fio's ${ENGINES.flatMap(e => e.fioNames?.filter(f => f !== e.name) ?? []).join(' ')}, a comma list, or all`,
    apply: (j, v) => { j.ioengine = parseEngines(need('ioengine', v)); },
  },
  { name: 'direct', help: '1: O_DIRECT (bypass the page cache)', flag: true, apply: (j, v) => { j.direct = parseBool(v); } },
  { name: 'buffered', help: '0: O_DIRECT (the opposite of direct)', flag: true, apply: (j, v) => { j.direct = !parseBool(v); } },
  // Each clone is a worker_thread with an engine of its own, some 10 MB or more: 1000 of them once grew past 10 GB.
  { name: 'numjobs', help: 'clones of the job, each in its own worker_thread with its own engine (at most 64)', apply: (j, v) => { j.numjobs = parseInteger(need('numjobs', v), 1, 64); } },
  { name: 'runtime', aliases: ['timeout'], help: 'stop after this time (2, 2s, 500ms, 1m)', apply: (j, v) => { j.runtime = parseTime(need('runtime', v)); } },
  { name: 'time_based', help: 'run for the whole runtime, going over the file again', flag: true, apply: (j, v) => { j.time_based = parseBool(v); } },
  { name: 'ramp_time', help: 'run this long before measuring', apply: (j, v) => { j.ramp_time = parseTime(need('ramp_time', v)); } },
  { name: 'fsync', help: 'fsync after every N writes', apply: (j, v) => { j.fsync = parseInteger(need('fsync', v), 0); } },
  { name: 'fdatasync', help: 'fdatasync after every N writes', apply: (j, v) => { j.fdatasync = parseInteger(need('fdatasync', v), 0); } },
  { name: 'invalidate', help: 'drop the file\'s cached pages before the job (default 1)', flag: true, apply: (j, v) => { j.invalidate = parseBool(v); } },
  { name: 'randrepeat', help: 'the same random offsets on every run (default 1)', flag: true, apply: (j, v) => { j.randrepeat = parseBool(v); } },
  { name: 'randseed', help: 'seed of the random offsets', apply: (j, v) => { j.randseed = parseInteger(need('randseed', v), 0, 2 ** 32 - 1); } },
  { name: 'norandommap', help: 'random offsets may repeat before every block was visited', flag: true, apply: (j, v) => { j.norandommap = parseBool(v); } },
  { name: 'batch', help: 'ioengine\'s own: iodepth I/Os per readMany/writeMany call, one promise for them all', flag: true, apply: (j, v) => { j.batch = parseBool(v); } },
  { name: 'fixedbufs', help: 'io_uring: the job\'s buffers are registered with the ring (engine.borrowBuffer), no page pinning per I/O', flag: true, apply: (j, v) => { j.fixedbufs = parseBool(v); } },
  { name: 'registerfiles', help: 'io_uring: the job\'s file is registered with the ring (default 1: ioengine\'s io_uring registers its files)', flag: true, apply: (j, v) => { j.registerfiles = parseBool(v); } },
  { name: 'group_reporting', help: 'one result per group of jobs instead of one per clone', flag: true, apply: (j, v) => { j.group_reporting = parseBool(v); } },
  { name: 'stonewall', aliases: ['wait_for_previous'], help: 'wait for the jobs before this one to end; starts a new group', flag: true, apply: (j, v) => { j.stonewall = parseBool(v); } },
  { name: 'unlink', help: 'remove the job\'s files when it ends', flag: true, apply: (j, v) => { j.unlink = parseBool(v); } },
  {
    name: 'thread', help: 'accepted: clones always run as threads (worker_threads)', flag: true,
    apply: (_, v) => { parseBool(v); }, // 0 or 1 as fio takes it; clones are threads whatever it says
  },
];

export interface CliOptions {
  outputFormat: 'normal' | 'json';
  output?: string;
  /** also write the HTML report (src/report) to this file */
  report?: string;
  eta: 'auto' | 'always' | 'never';
  /** also run fio itself on the same jobs */
  fio: boolean;
}

export const CLI_OPTIONS: Array<OptionDef & { applyCli: (o: CliOptions, value: string | undefined) => void }> = [
  {
    name: 'output-format', help: 'normal or json', cliOnly: true, apply: () => {},
    applyCli: (o, v) => {
      const f = need('output-format', v).trim();
      if (f === 'terse' || f === 'json+') throw new Error(`'${f}' is not supported; use normal or json`);
      if (f.includes(',')) throw new Error('one format at a time: normal or json');
      o.outputFormat = oneOf(['normal', 'json'] as const)(f);
    },
  },
  { name: 'output', help: 'write the results to this file', cliOnly: true, apply: () => {}, applyCli: (o, v) => { o.output = need('output', v); } },
  { name: 'report', help: 'also write the HTML report of the results to this file (as ioengine report does)', cliOnly: true, apply: () => {}, applyCli: (o, v) => { o.report = need('report', v); } },
  { name: 'eta', help: 'progress line: auto (on a terminal), always, never', cliOnly: true, apply: () => {}, applyCli: (o, v) => { o.eta = oneOf(['auto', 'always', 'never'] as const)(need('eta', v)); } },
  { name: 'fio', help: 'also run fio itself on the same jobs, as the native reference', flag: true, cliOnly: true, apply: () => {}, applyCli: (o, v) => { o.fio = parseBool(v); } },
];

const BY_NAME = new Map<string, OptionDef>();
for (const o of [...JOB_OPTIONS, ...CLI_OPTIONS]) for (const n of [o.name, ...(o.aliases ?? [])]) BY_NAME.set(n, o);

const KNOWN_NAMES = [...BY_NAME.keys()];

/** Options of fio that ioengine knows it does not do, with why: refused with that reason. */
const KNOWN_UNSUPPORTED: Record<string, string> = {
  include: 'job file includes are not supported',
  iodepth_batch: 'batching is the engine\'s own business in ioengine',
  iodepth_batch_submit: 'batching is the engine\'s own business in ioengine',
  iodepth_batch_complete: 'batching is the engine\'s own business in ioengine',
  iodepth_batch_complete_min: 'batching is the engine\'s own business in ioengine',
  sqthread_poll: 'SQPOLL is not exposed by the bench',
  hipri: 'polled I/O is not exposed by the bench',
  loops: 'loops is not supported: use time_based with runtime',
  verify: 'verify is not supported',
};

/** The option named `name`, or a refusal naming the closest known one. */
export function findOption(name: string, where: string, prefix: string): OptionDef {
  const found = BY_NAME.get(name);
  if (found) return found;
  if (KNOWN_UNSUPPORTED[name]) throw new BenchUsageError(`${where}: option '${prefix}${name}' is not supported: ${KNOWN_UNSUPPORTED[name]}`);
  throw new BenchUsageError(`${where}: unknown option '${prefix}${name}'${suggest(name, KNOWN_NAMES, prefix)}`);
}

/** Applies one option to a job, turning a bad value into a refusal that says where and why. */
export function applyOption(job: Partial<JobOptions>, def: OptionDef, name: string, value: string | undefined, where: string, prefix: string): void {
  if (def.cliOnly) throw new BenchUsageError(`${where}: option '${name}' is only for the command line (--${def.name})`);
  if (value === undefined && !def.flag) throw new BenchUsageError(`${where}: option '${prefix}${name}' needs a value (${prefix}${name}=VALUE)`);
  try {
    def.apply(job, value, prefix === '--');
  } catch (err) {
    throw new BenchUsageError(`${where}: invalid value '${value}' for '${prefix}${name}': ${(err as Error).message}`);
  }
}

/** ` (did you mean 'x'?)`: the closest known word, by edit distance. */
export function suggest(word: string, known: readonly string[], prefix = ''): string {
  let best = '';
  let bestDistance = Infinity;
  for (const k of known) {
    const d = distance(word.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best ? ` (did you mean '${prefix}${best}'?)` : '';
}
