// Runs a plan: group after group (stonewall), and within a group, pass after pass (one engine
// each); the jobs of a pass run together, each in a fresh runner process, started at one instant
// once every runner has opened its files and built its clones.
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { blocksLoop, cloneFile, cloneFiles, engineOfPass, type Job, type Plan } from './plan.js';
import { BenchUsageError, isFileWorkload } from './options.js';
import { invalidate, layOut } from './prepare.js';
import type { ParentMessage, RunnerInput, RunnerMessage } from './protocol.js';
import type { Measured } from './results.js';

const RUNNER = new URL('./runner.js', import.meta.url);

export interface RunEvents {
  /** a pass starts: its jobs and engines, and its number among all passes */
  passStart?(label: string, index: number, total: number): void;
  /** I/Os done so far in the current pass, over all its runners */
  progress?(ios: number): void;
  /** something the user should know (printed to stderr) */
  note(message: string): void;
  /** a group's passes are done: the fio reference may run on the same files now */
  groupDone?(jobs: Job[], sizes: Map<Job, number>): Promise<void>;
}

export interface RunOutcome {
  measured: Measured[];
  /** runs that failed, with why */
  failures: string[];
  interrupted: boolean;
}

/** Stops a run from outside (Ctrl-C): runners stop their clones and report what they measured. */
export class RunControl {
  stopped = false;
  readonly children = new Set<ChildProcess>();
  stop(): void {
    this.stopped = true;
    for (const c of this.children) send(c, { type: 'stop' });
  }
}

function send(child: ChildProcess, m: ParentMessage): void {
  if (child.connected) child.send(m, () => {});
}

export function groupsOf(jobs: Job[]): Job[][] {
  const groups: Job[][] = [];
  for (const j of jobs) (groups[j.groupid] ??= []).push(j);
  return groups.filter(Boolean);
}

export function passesOf(group: Job[]): number {
  return Math.max(...group.map(j => j.engines.length));
}

/** The time a pass is expected to take, when every job in it is time-limited. */
export function expectedMs(group: Job[]): number | undefined {
  if (group.some(j => j.runtime === 0)) return undefined;
  return Math.max(...group.map(j => j.ramp_time + j.runtime));
}

/** The bytes each job works on: size, or what its existing file holds past offset. */
function sizeOf(job: Job): number {
  if (isFileWorkload(job.rw)) return job.filesize!; // each file's
  if (job.size !== undefined) return job.size;
  const file = cloneFile(job, 0);
  let have: number;
  try {
    have = fs.statSync(file).size;
  } catch {
    throw new BenchUsageError(`job '${job.name}': give a size (--size=256m): ${file} does not exist yet`);
  }
  if (have - job.offset < job.bs) throw new BenchUsageError(`job '${job.name}': ${file} holds ${have} bytes, too few past offset ${job.offset} for bs ${job.bs}; give a size`);
  return have - job.offset;
}

function layOutOrRefuse(job: Job, file: string, bytes: number, sync: boolean): void {
  try {
    layOut(file, bytes, sync);
  } catch (err) {
    throw new BenchUsageError(`job '${job.name}': cannot lay out ${file}: ${(err as Error).message}`);
  }
}

export async function runPlan(plan: Plan, control: RunControl, events: RunEvents): Promise<RunOutcome> {
  const outcome: RunOutcome = { measured: [], failures: [], interrupted: false };
  const groups = groupsOf(plan.jobs);
  const totalPasses = groups.reduce((n, g) => n + passesOf(g), 0);
  const warned = new Set<string>();
  let passIndex = 0;
  for (const group of groups) {
    const sizes = new Map(group.map(j => [j, sizeOf(j)] as const));
    for (let pass = 0; pass < passesOf(group) && !control.stopped; pass++) {
      for (const job of group) {
        for (let c = 0; c < job.numjobs; c++) {
          if (isFileWorkload(job.rw)) {
            // Many small files, cached: laid out without a sync each (10k fsyncs take seconds).
            for (const file of cloneFiles(job, c)) layOutOrRefuse(job, file, sizes.get(job)!, false);
            continue;
          }
          const file = cloneFile(job, c);
          layOutOrRefuse(job, file, job.offset + sizes.get(job)!, true);
          if (job.invalidate) {
            const why = invalidate(file);
            if (why && !warned.has(file)) {
              warned.add(file);
              events.note(`invalidate=1: ${why}`);
            }
          }
        }
      }
      const label = group.map(j => `${j.name} on ${engineOfPass(j, pass)}`).join(', ');
      events.passStart?.(label, passIndex++, totalPasses);
      const results = await runPass(group, pass, sizes, control, events, outcome);
      outcome.measured.push(...results);
      for (const job of group) {
        if (job.unlink) for (let c = 0; c < job.numjobs; c++) for (const file of cloneFiles(job, c)) fs.rmSync(file, { force: true });
      }
    }
    if (control.stopped) break;
    await events.groupDone?.(group, sizes);
  }
  outcome.interrupted = control.stopped;
  return outcome;
}

interface Runner {
  ready: Promise<void>;
  done: Promise<Measured | undefined>;
  child: ChildProcess;
  ios: number;
}

async function runPass(group: Job[], pass: number, sizes: Map<Job, number>, control: RunControl, events: RunEvents, outcome: RunOutcome): Promise<Measured[]> {
  const runners = group.map(job => startRunner(job, engineOfPass(job, pass), pass, sizes.get(job)!, control, outcome));
  const report = () => events.progress?.(runners.reduce((s, r) => s + r.ios, 0));
  for (const r of runners) r.child.on('message', (m: RunnerMessage) => { if (m.type === 'progress') report(); });
  const ready = await Promise.allSettled(runners.map(r => r.ready));
  if (control.stopped || ready.some(r => r.status === 'rejected')) {
    for (const r of runners) send(r.child, { type: 'stop' });
  } else {
    for (const r of runners) send(r.child, { type: 'go' });
  }
  const done = await Promise.all(runners.map(r => r.done));
  return done.filter((m): m is Measured => m !== undefined);
}

function startRunner(job: Job, engine: string, pass: number, size: number, control: RunControl, outcome: RunOutcome): Runner {
  // As fio caps iodepth at 1 for its synchronous engines: lanes beyond the first would only wait
  // behind the one running call and add their waiting to the latency.
  const runJob = blocksLoop(engine) && job.iodepth > 1 ? { ...job, iodepth: 1 } : job;
  const input: RunnerInput = {
    job: runJob, engine, size, firstClone: 0,
    files: Array.from({ length: job.numjobs }, (_, c) => cloneFiles(job, c)),
  };
  const child = fork(RUNNER, [JSON.stringify(input)], { execArgv: [], stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  control.children.add(child);
  let output = '';
  child.stdout!.on('data', d => { output += d; });
  child.stderr!.on('data', d => { output += d; });
  const runner: Runner = { child, ios: 0, ready: undefined!, done: undefined! };
  let failed: string | undefined;
  runner.ready = new Promise((resolve, reject) => {
    child.on('message', (m: RunnerMessage) => {
      if (m.type === 'ready') resolve();
      else if (m.type === 'progress') runner.ios = m.ios;
      else if (m.type === 'error') { failed = m.message; reject(new Error(m.message)); }
    });
    child.on('exit', () => reject(new Error('exited')));
    child.on('error', reject);
  });
  runner.ready.catch(() => {});
  runner.done = new Promise(resolve => {
    let measured: Measured | undefined;
    let ended = false;
    const end = (why: string) => {
      if (ended) return;
      ended = true;
      control.children.delete(child);
      if (!measured) outcome.failures.push(`job '${job.name}' on ${engine}: ${failed ?? why}`);
      resolve(measured);
    };
    child.on('message', (m: RunnerMessage) => {
      if (m.type === 'result') measured = { job, engine, pass, clones: m.clones, cpu: m.cpu };
    });
    child.on('exit', (code, signal) => end(output.trim().split('\n').slice(-3).join(' / ') || `runner exited with ${signal ?? `code ${code}`}`));
    // A process that could not be started gets 'error' and no 'exit' (with a pid, 'exit' follows).
    child.on('error', e => { if (child.pid === undefined) end(`cannot start the runner process: ${e.message}`); });
  });
  return runner;
}
