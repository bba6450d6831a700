// From what the user wrote (command line, job files) to the jobs to run, in fio's order, each with
// every option resolved and checked. fio's precedence: command-line globals, then a job file's
// [global] sections (each for the jobs after it), then the job's own section. The one exception is
// an engine given on the command line: the bench exists to compare engines, so `--ioengine=...`
// replaces a job file's ioengine (with a note), where fio would let the file win.
// A sweep (`--iodepth=1,4,16 --bs=4k,64k` on the command line) makes one job per combination, named
// after its values (`j-bs4k-qd16`), on the job's own file, each combination a group of its own.
import fs from 'node:fs';
import path from 'node:path';
import { descriptor } from '../engines/registry.js';
import { parseArgs } from './args.js';
import { DEFAULT_RUN_FILE, DEFAULT_RUN_FIXED, DEFAULT_RUN_JOBS } from './default-run.js';
import { onRing, resolveEngines, type EngineList } from './engines.js';
import { parseJobFile, type RawOption, type RawSection } from './job-file.js';
import { applyOption, BenchUsageError, type CliOptions, DEFAULTS, findOption, isFileWorkload, type JobOptions } from './options.js';
import { sizeText } from '../fio/units.js';

export interface Job extends JobOptions {
  /** position in fio's order (job files in order, before cloning) */
  index: number;
  /** fio's groupid: 0, and one more after each stonewall */
  groupid: number;
  /** the options written for this job, as written: fio's "job options" */
  jobOptions: Record<string, string>;
  /** the engines to run the job on, one pass each (ioengine's names, available here) */
  engines: string[];
  /** one combination of a sweep */
  sweepPoint?: SweepPoint;
}

export interface SweepPoint {
  /** the job's name as written: its files keep it, so every combination works on the same file */
  of: string;
  /** the position of the job as written (names may repeat) */
  job: number;
}

export interface Plan {
  jobs: Job[];
  /** fio's "global options": the command line's globals and the job files' [global] */
  globalOptions: Record<string, string>;
  cli: CliOptions;
  /** no job was given: the built-in comparison */
  defaultRun: boolean;
  /** files the bench creates for itself and removes at the end */
  temporary: string[];
  /** things the user should know about how their options were taken (printed to stderr) */
  notes: string[];
}

export interface PlanContext {
  /** engines() of ioengine, or a stand-in in tests */
  engines: EngineList;
  readFile?: (file: string) => string;
  env?: NodeJS.ProcessEnv;
  /** whether O_DIRECT can be used here */
  directIo: boolean;
}

export function planBench(argv: readonly string[], ctx: PlanContext): Plan {
  const args = parseArgs(argv);
  const readFile = ctx.readFile ?? ((f: string) => fs.readFileSync(f, 'utf8'));
  const notes: string[] = [];
  const temporary: string[] = [];
  const defaultRun = args.jobFiles.length === 0 && args.jobs.length === 0;

  const cliGlobal: Partial<JobOptions> = {};
  const globalOptions: Record<string, string> = {};
  for (const o of args.globals) {
    if (defaultRun) {
      const def = findOption(o.name, o.where, '--');
      if (DEFAULT_RUN_FIXED.includes(def.name)) {
        throw new BenchUsageError(`${o.where}: option '--${o.name}' is set by each workload of the default run; to choose it, define a job: --name=NAME --${o.name}=... (or a job file)`);
      }
    }
    take(cliGlobal, globalOptions, o);
  }
  const cliEngines = cliGlobal.ioengine;

  const sections: RawSection[] = [];
  if (defaultRun) {
    sections.push(...parseJobFile(DEFAULT_RUN_JOBS, 'default run'));
  } else {
    sections.push(...args.jobs);
    for (const file of args.jobFiles) {
      let text: string;
      try {
        text = readFile(file);
      } catch (err) {
        throw new BenchUsageError(`cannot read job file '${file}': ${(err as Error).message}`);
      }
      sections.push(...parseJobFile(text, file, ctx.env));
    }
  }

  let jobs: Job[] = [];
  let global: Partial<JobOptions> = { ...cliGlobal };
  let groupid = 0;
  let lastFile = '';
  let written = 0;
  for (const section of sections) {
    const file = section.where.replace(/:\d+$/, '');
    if (file !== lastFile && section.where !== 'command line') global = { ...cliGlobal }; // each job file starts from the command line's globals
    lastFile = file;
    if (section.global) {
      if (defaultRun) {
        // The default run's own globals, with the user's command line winning over them.
        const own: Record<string, string> = {};
        for (const o of section.options) take(global, own, o);
        Object.assign(global, cliGlobal);
        Object.assign(globalOptions, { ...own, ...globalOptions });
      } else {
        for (const o of section.options) take(global, globalOptions, o);
      }
      continue;
    }
    const job: Partial<JobOptions> = { ...DEFAULTS, ...global, name: section.name };
    const jobOptions: Record<string, string> = {};
    for (const o of section.options) take(job, jobOptions, o);
    if (cliEngines && section.where !== 'command line' && job.ioengine !== cliEngines) {
      notes.push(`${section.where}: --ioengine=${cliEngines.join(',')} on the command line replaces the job file's ioengine=${job.ioengine!.join(',')} for job '${job.name}'`);
      job.ioengine = cliEngines;
    }
    if (job.stonewall && jobs.length > 0) groupid++;
    const full = job as JobOptions;
    const engines = resolveEngines(full.ioengine, ctx.engines, section.where);
    for (const point of sweepPoints({ ...full, index: jobs.length, groupid, jobOptions, engines }, written++)) {
      check(point, section.where, ctx);
      jobs.push(point);
    }
  }
  if (jobs.length === 0) throw new BenchUsageError('no job defined: give --name=NAME with options, or a job file');
  jobs = groupSweeps(jobs);

  if (defaultRun && !cliGlobal.filename) {
    const file = cliGlobal.directory ? path.join(cliGlobal.directory, path.basename(DEFAULT_RUN_FILE())) : DEFAULT_RUN_FILE();
    for (const job of jobs) job.filename = file;
    temporary.push(file);
  }
  checkGroups(jobs);
  const capped = jobs.filter(j => j.iodepth > 1 && j.engines.some(blocksLoop)).map(j => j.name);
  if (capped.length) notes.push(`the sync engine blocks on every call, so iodepth is capped at 1 on it (as fio does for psync): ${[...new Set(capped)].join(', ')}`);
  return { jobs, globalOptions, cli: args.cli, defaultRun, temporary, notes };
}

function take(job: Partial<JobOptions>, record: Record<string, string>, o: RawOption): void {
  const prefix = o.where === 'command line' ? '--' : '';
  const def = findOption(o.name, o.where, prefix);
  applyOption(job, def, o.name, o.value, o.where, prefix);
  // fio lists options given with a value, under their own name; flags given alone it leaves out.
  if (o.value !== undefined) record[def.name] = o.value;
}

/** The most buffers io_uring registers (IORING_MAX_REG_BUFFERS). */
const MAX_FIXED_BUFFERS = 16384;

/** Checks between options, and what a value means for this job. */
function check(job: Job, where: string, ctx: PlanContext): void {
  const refuse = (msg: string) => { throw new BenchUsageError(`${where}: job '${job.name}': ${msg}`); };
  if (job.name === '') refuse('a job needs a name (--name=NAME)');
  if (job.time_based && job.runtime === 0) refuse('time_based needs a runtime (--runtime=2s)');
  if (job.size !== undefined && job.size < job.bs && !isFileWorkload(job.rw)) refuse(`size (${job.size}) is smaller than bs (${job.bs})`);
  if (job.io_size !== undefined && job.io_size < job.bs) refuse(`io_size (${job.io_size}) is smaller than bs (${job.bs})`);
  if (isFileWorkload(job.rw)) {
    if (job.direct) refuse(`rw=${job.rw} works on whole files through the page cache: direct=1 does not apply`);
    if (job.filename) refuse(`rw=${job.rw} makes its own files (NAME.CLONE.N in --directory): give --directory, not --filename`);
    if (job.fsync || job.fdatasync) refuse(`rw=${job.rw} has no fsync or fdatasync`);
    if (job.nrfiles > 1_000_000) refuse(`nrfiles (${job.nrfiles}) is more than 1000000`);
    // fio's meaning: size is all of the job's files, filesize each one
    job.filesize ??= job.size !== undefined ? Math.max(1, Math.floor(job.size / job.nrfiles)) : 4096;
    job.size = job.filesize * job.nrfiles;
  } else if (job.nrfiles > 1) {
    refuse(`nrfiles=${job.nrfiles}: a rw=${job.rw} job works on one file (several files are for readfile, readstream, writefile, stat)`);
  }
  if (job.direct) {
    if (!ctx.directIo) refuse('direct=1 needs O_DIRECT, which this platform does not have; run with direct=0');
    if (job.bs % 512 !== 0) refuse(`direct=1 needs bs to be a multiple of 512 (got ${job.bs})`);
    if (job.offset % 512 !== 0) refuse(`direct=1 needs offset to be a multiple of 512 (got ${job.offset})`);
  }
  if (job.fsync > 0 && job.fdatasync > 0) refuse('give fsync or fdatasync, not both');
  if (job.fixedbufs || !job.registerfiles) {
    const given = job.fixedbufs ? 'fixedbufs=1' : 'registerfiles=0';
    const elsewhere = job.engines.filter(e => !onRing(e, ctx.engines));
    if (elsewhere.length) refuse(`${given} is an option of io_uring (as fio's), not of ${elsewhere.join(', ')}`);
    if (job.fixedbufs && isFileWorkload(job.rw)) refuse(`fixedbufs=1 is for reads and writes at a position, not rw=${job.rw}`);
    if (job.fixedbufs && job.iodepth > MAX_FIXED_BUFFERS) refuse(`fixedbufs=1 registers one buffer per I/O in flight, and the kernel takes at most ${MAX_FIXED_BUFFERS}: iodepth=${job.iodepth}`);
  }
  if (job.batch) {
    if (!['read', 'randread', 'write', 'randwrite'].includes(job.rw)) refuse(`batch=1 drives reads or writes (rw=read, randread, write, randwrite), not rw=${job.rw}`);
    if (job.fsync || job.fdatasync) refuse('batch=1 has no fsync or fdatasync between the writes of a batch');
  }
}

/** A job with a sweep as one job per combination (bs, then iodepth); a job without, as it is. */
function sweepPoints(job: Job, written: number): Job[] {
  const { sweep } = job;
  if (!sweep) return [job];
  const combos = (sweep.bs ?? [job.bs]).flatMap(bs => (sweep.iodepth ?? [job.iodepth]).map(iodepth => ({ bs, iodepth })));
  return combos.map(({ bs, iodepth }) => {
    const name = `${job.name}${sweep.bs ? `-bs${sizeText(bs)}` : ''}${sweep.iodepth ? `-qd${iodepth}` : ''}`;
    // fio's "job options" of each combination name its own values, so a reader of the JSON can draw the sweep.
    const jobOptions = { ...job.jobOptions };
    if ('name' in jobOptions) jobOptions.name = name;
    if (sweep.bs) jobOptions.bs = sizeText(bs);
    if (sweep.iodepth) jobOptions.iodepth = String(iodepth);
    return { ...job, name, bs, iodepth, sweep: undefined, jobOptions, sweepPoint: { of: job.name, job: written } };
  });
}

/**
 * A group (jobs that run together) with a sweep runs once per combination, one combination after
 * the other: its jobs must all sweep, over the same number of combinations.
 */
function groupSweeps(jobs: Job[]): Job[] {
  const out: Job[] = [];
  let groupid = 0;
  for (const members of groupedBy(jobs, j => j.groupid)) {
    const swept = members.find(j => j.sweepPoint);
    if (!swept) {
      for (const j of members) out.push({ ...j, index: out.length, groupid });
      groupid++;
      continue;
    }
    const unswept = members.find(j => !j.sweepPoint);
    if (unswept) {
      throw new BenchUsageError(`job '${unswept.name}' runs together with '${swept.sweepPoint!.of}', which is a sweep: jobs that run together sweep together; give the list before the first --name (for every job), or run '${unswept.name}' apart with --stonewall`);
    }
    const perJob = groupedBy(members, j => j.sweepPoint!.job);
    const odd = perJob.find(p => p.length !== perJob[0].length);
    if (odd) {
      throw new BenchUsageError(`jobs that run together sweep the same number of combinations: '${perJob[0][0].sweepPoint!.of}' has ${perJob[0].length}, '${odd[0].sweepPoint!.of}' has ${odd.length}`);
    }
    for (let point = 0; point < perJob[0].length; point++) {
      for (const p of perJob) out.push({ ...p[point], index: out.length, groupid });
      groupid++;
    }
  }
  return out;
}

/** Items in lists by key, lists in order of first appearance. */
function groupedBy<T, K>(items: T[], key: (item: T) => K): T[][] {
  const lists = new Map<K, T[]>();
  for (const item of items) {
    const k = key(item);
    if (!lists.has(k)) lists.set(k, []);
    lists.get(k)!.push(item);
  }
  return [...lists.values()];
}

/** Jobs that run together (one group) are compared engine by engine: the same number of passes. */
function checkGroups(jobs: Job[]): void {
  const groups = new Map<number, Job[]>();
  for (const j of jobs) groups.set(j.groupid, [...(groups.get(j.groupid) ?? []), j]);
  for (const members of groups.values()) {
    const passes = Math.max(...members.map(j => j.engines.length));
    const odd = members.find(j => j.engines.length !== 1 && j.engines.length !== passes);
    if (odd) {
      throw new BenchUsageError(`job '${odd.name}' runs on ${odd.engines.join(',')} while a job running together with it runs on ${passes} engines: jobs of one group must list the same number of engines (or one)`);
    }
  }
}

/** Does every call of the engine block until done: a second I/O in flight is then impossible. */
export const blocksLoop = (engine: string): boolean => descriptor(engine)?.blocksLoop === true;

/** The engines of pass `pass` of a group: job by job (a job with one engine runs it in every pass). */
export function engineOfPass(job: Job, pass: number): string {
  return job.engines.length === 1 ? job.engines[0] : job.engines[pass];
}

/** The file each clone of a job works on, as fio names it (a sweep's combinations share the job's). */
export function cloneFile(job: JobOptions & { sweepPoint?: SweepPoint }, clone: number, file = 0): string {
  const dir = job.directory ?? '.';
  if (job.filename && !isFileWorkload(job.rw)) return path.isAbsolute(job.filename) ? job.filename : path.join(dir, job.filename);
  return path.join(dir, `${job.sweepPoint?.of ?? job.name}.${clone}.${file}`);
}

/** Every file of a clone: nrfiles of them for a whole-file workload, else its one file. */
export function cloneFiles(job: JobOptions & { sweepPoint?: SweepPoint }, clone: number): string[] {
  return Array.from({ length: isFileWorkload(job.rw) ? job.nrfiles : 1 }, (_, n) => cloneFile(job, clone, n));
}
