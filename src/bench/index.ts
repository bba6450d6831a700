// `ioengine bench`: read the options and job files, run every job on its engines, print fio's
// report or a comparison, in fio's JSON on request, and the HTML report with --report. Returns the
// exit status.
import fs from 'node:fs';
import os from 'node:os';
import { printable } from '../fio/printable.js';
import path from 'node:path';
import { constants } from 'node:fs';
import * as ioengine from '../index.js';
import { describeAuto } from '../engines/registry.js';
import { unavailable } from './engines.js';
import { fioEnginesFor, fioInstalled, runFio, type FioRun } from './fio-ref.js';
import { fioJson } from './fio-json.js';
import { isNetBench, netJson, netText, planNetBench, runNetBench, type NetJob } from './net.js';
import { BenchUsageError, CLI_OPTIONS, isFileWorkload, JOB_OPTIONS } from './options.js';
import { engineOfPass, planBench, type Job, type Plan } from './plan.js';
import { Progress } from './progress.js';
import { entriesOf, type Entry, type Measured } from './results.js';
import { rowOf, rowOfFio, type Row } from './rows.js';
import { expectedMs, groupsOf, passesOf, RunControl, runPlan } from './run.js';
import { bytes, comparisonText, entryText } from './text.js';

export interface BenchIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream | NodeJS.WritableStream;
  /**
   * --report: writes the page of the run's JSON (`file` names it) to `output`; returns why not,
   * or undefined. The CLI passes the report's; the bench itself knows nothing of pages.
   */
  report?: (json: object, file: string, output: string) => string | undefined;
}

/** Whether O_DIRECT can be used here (the platform has it; allocAligned() gives the buffers). */
export function directIo(): boolean {
  return constants.O_DIRECT !== undefined;
}

export function benchHelp(): string {
  const line = (name: string, help: string) => `  --${name.padEnd(20)} ${help}`;
  return [
    '',
    'With no job, runs the default comparison: four workloads on every available engine, 256 MiB file in the',
    'temp folder, under a minute. Otherwise fio\'s options and job files (fio\'s names, values and meaning):',
    '',
    ...JOB_OPTIONS.map(o => line(`${o.name}${o.aliases ? ` (${o.aliases.join(', ')})` : ''}`, o.help)),
    '',
    ...CLI_OPTIONS.map(o => line(o.name, o.help)),
    '',
    'Examples:',
    '  ioengine bench',
    '  ioengine bench --name=w1 --filename=/tmp/f --size=256m --rw=randread --bs=4k --iodepth=32 --runtime=2 --time_based --ioengine=all',
    '  ioengine bench --ioengine=sync,pool --output-format=json job.fio',
    '  ioengine bench --name=qd --filename=/tmp/qd.dat --size=256m --rw=randread --iodepth=1,4,16,32 --bs=4k,64k --ioengine=sync,io_uring --runtime=2 --time_based --report=report.html',
  ].join('\n');
}

export async function bench(argv: readonly string[], io: BenchIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const err = (s: string) => io.stderr.write(`${printable(s)}\n`);
  if (isNetBench(argv)) return netBench(argv, io, err);
  let plan: Plan;
  const known = ioengine.engines();
  try {
    plan = planBench(argv, { engines: known, directIo: directIo() });
  } catch (e) {
    if (e instanceof BenchUsageError) {
      err(`ioengine bench: ${e.message}`);
      return 1;
    }
    throw e;
  }
  for (const [option, file] of [['output', plan.cli.output], ['report', plan.cli.report]] as const) {
    const why = file === undefined ? undefined : cannotWrite(file);
    if (why) {
      err(`ioengine bench: --${option}=${file}: ${why}`);
      return 1;
    }
  }
  for (const n of plan.notes) err(`note: ${n}`);
  const auto = plan.jobs.some(j => j.engines.includes('auto')) ? describeAuto() : undefined;
  if (auto) err(`note: auto runs on ${auto.engine}; ${auto.choices.map(c => `${c.operations}: ${c.way}`).join('; ')}`);
  const missing = unavailable(known);
  if (plan.jobs.some(j => j.ioengine[0] === 'all') && missing.length) err(`note: not available here, so not compared: ${missing.join('; ')}`);
  const withFio = plan.cli.fio && fioInstalled();
  if (plan.cli.fio && !withFio) err('note: --fio: fio is not installed (apt-get install fio): no reference rows');

  const groups = groupsOf(plan.jobs);
  const showProgress = plan.cli.eta === 'always' || (plan.cli.eta === 'auto' && (io.stderr as NodeJS.WriteStream).isTTY === true);
  const expected = groups.flatMap(g => Array.from({ length: passesOf(g) }, () => expectedMs(g)));
  const progress = showProgress ? new Progress(io.stderr, expected) : undefined;
  if (plan.defaultRun && plan.cli.outputFormat === 'normal') {
    const j = plan.jobs[0];
    io.stdout.write(`ioengine bench: ${plan.jobs.length} workloads x ${j.engines.length} engines (${j.engines.join(', ')}), ${bytes(j.size ?? 0)} file ${j.filename}, ${(j.ramp_time + j.runtime) / 1000} s each (${j.ramp_time / 1000} s ramp)\n\n`);
  }

  const control = new RunControl();
  let interrupts = 0;
  const onSigint = () => {
    if (++interrupts === 1) {
      progress?.clear();
      err('ioengine bench: stopping; results so far follow (Ctrl-C again to quit at once)');
      control.stop();
    } else {
      for (const c of control.children) c.kill('SIGKILL');
      cleanup(plan);
      process.exit(130);
    }
  };
  process.on('SIGINT', onSigint);
  // Asked to end (SIGTERM, SIGHUP: a closed terminal): no results to wait for, nothing left behind.
  const onTerminate = (signal: NodeJS.Signals) => {
    progress?.clear();
    err(`ioengine bench: ${signal}: stopping, and removing its temporary files`);
    for (const c of control.children) c.kill('SIGKILL');
    cleanup(plan);
    process.exit(128 + (os.constants.signals[signal] ?? 0));
  };
  process.on('SIGTERM', onTerminate);
  process.on('SIGHUP', onTerminate);
  const stopListening = () => {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onTerminate);
    process.off('SIGHUP', onTerminate);
  };

  const startedAt = new Date();
  const references: Array<{ jobs: Job[]; run: FioRun }> = [];
  let outcome;
  try {
    outcome = await runPlan(plan, control, {
      note: m => { progress?.clear(); err(`note: ${m}`); },
      passStart: (label, index, total) => progress?.passStart(label, index, total),
      progress: ios => progress?.update(ios),
      groupDone: async (jobs, sizes) => {
        if (!withFio) return;
        if (jobs.some(j => isFileWorkload(j.rw))) {
          err(`note: fio has no whole-file workloads (rw=readfile, readstream, writefile, stat): no fio rows for ${jobs.map(j => j.name).join(', ')}`);
          return;
        }
        const engines = [...new Set(jobs.flatMap(j => Array.from({ length: passesOf(jobs) }, (_, p) => engineOfPass(j, p))))];
        for (const fioEngine of fioEnginesFor(engines)) {
          progress?.passStart(`fio ${fioEngine}: ${jobs.map(j => j.name).join(', ')}`, 0, 1);
          references.push({ jobs, run: runFio(jobs, sizes, fioEngine) });
        }
      },
    });
  } catch (e) {
    progress?.clear();
    cleanup(plan);
    stopListening();
    if (e instanceof BenchUsageError) {
      err(`ioengine bench: ${e.message}`);
      return 1;
    }
    throw e;
  }
  progress?.clear();
  cleanup(plan);
  stopListening();

  const entries = byPass(outcome.measured).flatMap(entriesOf);
  const json: Record<string, unknown> = fioJson({ globalOptions: plan.globalOptions, entries, startedAt });
  if (references.length) json['fio reference'] = references.map(r => ({ ioengine: r.run.fioEngine, error: r.run.error, jobs: r.run.jobs ?? [] }));
  const text = plan.cli.outputFormat === 'json' ? `${JSON.stringify(json, null, 2)}\n` : printable(normalText(plan, outcome.measured, entries, references));
  let outputFailed = false;
  if (plan.cli.output) {
    try {
      fs.writeFileSync(plan.cli.output, text);
    } catch (e) {
      // Checked before the run, and failing now (a full disk, /dev/full): the results are not lost.
      err(`ioengine bench: --output=${plan.cli.output}: ${(e as Error).message}; the results follow on stdout`);
      io.stdout.write(text);
      outputFailed = true;
    }
  } else {
    io.stdout.write(text);
  }

  let reportFailed = false;
  if (plan.cli.report) {
    const file = plan.cli.outputFormat === 'json' && plan.cli.output ? plan.cli.output : 'this run';
    const refused = entries.length === 0 ? 'no job gave results'
      : io.report ? io.report(json, file, plan.cli.report) : 'no report writer was given to the bench (the ioengine CLI gives it)';
    if (refused) {
      err(`ioengine bench: --report: ${refused}`);
      reportFailed = true;
    } else {
      err(`report: ${plan.cli.report}`);
    }
  }

  for (const f of outcome.failures) err(`ioengine bench: failed: ${f}`);
  if (outcome.interrupted) return 130;
  return outputFailed || reportFailed || outcome.failures.length || entries.some(e => e.error) || references.some(r => r.run.error) ? 1 : 0;
}

/** Measured runs, split where the group or pass changes (runPlan reports them in that order). */
function byPass(measured: Measured[]): Measured[][] {
  const out: Measured[][] = [];
  let key = '';
  for (const m of measured) {
    const k = `${m.job.groupid}/${m.pass}`;
    if (k !== key) out.push([]);
    key = k;
    out[out.length - 1].push(m);
  }
  return out;
}

function normalText(plan: Plan, measured: Measured[], entries: Entry[], references: Array<{ jobs: Job[]; run: FioRun }>): string {
  const comparison = plan.jobs.some(j => j.engines.length > 1) || references.length > 0;
  const parts: string[] = [];
  if (!comparison) for (const e of entries) parts.push(entryText(e));
  if (comparison) {
    const rows: Row[] = measured.map(rowOf);
    for (const { jobs, run } of references) {
      for (const job of jobs) {
        if (run.error || !run.jobs) {
          rows.push({ job, label: `fio ${run.fioEngine}`, kind: 'reference', iops: 0, bwBytes: 0, p50: 0, p99: 0, p999: 0, cpuPerOpUs: 0, ctxPerOp: 0, usrPercent: 0, sysPercent: 0, failed: run.error ?? 'no output' });
          continue;
        }
        const mine = run.jobs.filter(j => j.jobname === job.name);
        if (mine.length) rows.push(rowOfFio(job, `fio ${run.fioEngine}`, mine));
      }
    }
    parts.push(comparisonText(rows));
  }
  return `${parts.join('\n\n')}\n`;
}

/** Why the file cannot be written, if it cannot: found before any job runs, not at the end with the results in hand. */
function cannotWrite(file: string): string | undefined {
  const folder = path.dirname(path.resolve(file));
  const exists = fs.existsSync(file);
  if (exists && fs.statSync(file).isDirectory()) return 'it is a folder';
  try {
    fs.accessSync(exists ? file : folder, fs.constants.W_OK);
    return undefined;
  } catch {
    return exists ? 'the file is read-only' : `cannot write in ${folder}`;
  }
}

function cleanup(plan: Plan): void {
  for (const f of plan.temporary) fs.rmSync(f, { force: true });
}

/** --rw=rr|stream: the socket engines (src/bench/net.ts). */
async function netBench(argv: readonly string[], io: BenchIo, err: (s: string) => void): Promise<number> {
  let job: NetJob;
  try {
    job = planNetBench(argv);
  } catch (e) {
    if (e instanceof BenchUsageError) {
      err(`ioengine bench: ${e.message}`);
      return 1;
    }
    throw e;
  }
  const why = job.output === undefined ? undefined : cannotWrite(job.output);
  if (why) {
    err(`ioengine bench: --output=${job.output}: ${why}`);
    return 1;
  }
  const results = await runNetBench(job, s => err(s));
  const text = job.outputFormat === 'json' ? `${JSON.stringify(netJson(job, results), null, 2)}\n` : printable(netText(job, results));
  if (job.output === undefined) {
    io.stdout.write(text);
    return 0;
  }
  try {
    fs.writeFileSync(job.output, text);
  } catch (e) {
    err(`ioengine bench: cannot write --output=${job.output} (${(e as Error).message}); the results follow on stdout`);
    io.stdout.write(text);
    return 1;
  }
  return 0;
}
