// `ioengine report results.json [more.json …] -o report.html`, and what `bench --report` calls:
// bench results in, one self-contained HTML page out.
import { printable } from '../fio/printable.js';
import fs from 'node:fs';
import { chartSpecs } from './charts.js';
import { pageHtml } from './html.js';
import { buildModel } from './model.js';
import { checkBenchJson, readBenchFile, ReportInputError, type Source } from './read.js';

export { buildModel, type ReportModel, type Workload } from './model.js';
export { chartSpecs, type ChartSpec } from './charts.js';
export { checkBenchJson, readBenchFile, ReportInputError, type BenchJson, type Source } from './read.js';
export { PERCENTILES } from '../fio/json.js';
export type { Result } from './results.js';
export type { Sweep } from './sweeps.js';

export function renderReport(sources: Source[], generatedAt = new Date()): string {
  const model = buildModel(sources);
  return pageHtml(model, chartSpecs(model), generatedAt);
}

/** Writes the page; a file that cannot be written is a ReportInputError (the user's to fix). */
export function writeReport(sources: Source[], output: string): void {
  const html = renderReport(sources);
  try {
    fs.writeFileSync(output, html);
  } catch (err) {
    throw new ReportInputError(`cannot write '${output}': ${(err as Error).message}`);
  }
}

export interface ReportIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** The command: returns the exit status (1: a file it cannot read or write, with why). */
export function report(files: readonly string[], output: string, io: ReportIo = { stdout: process.stdout, stderr: process.stderr }): number {
  try {
    if (files.length === 0) throw new ReportInputError('give one or more results files (ioengine bench --output-format=json --output=results.json)');
    writeReport(files.map(readBenchFile), output);
  } catch (err) {
    if (!(err instanceof ReportInputError)) throw err;
    io.stderr.write(`ioengine report: ${printable(err.message)}\n`);
    return 1;
  }
  io.stdout.write(`report: ${output}\n`);
  return 0;
}

/**
 * bench --report: the page of one run's JSON, through the same checks `ioengine report` makes of
 * a file, so it is the same page. Returns why it was refused, or undefined when written.
 */
export function reportOfRun(json: object, file: string, output: string): string | undefined {
  try {
    writeReport([{ file, json: checkBenchJson(json, file) }], output);
    return undefined;
  } catch (err) {
    if (err instanceof ReportInputError) return err.message;
    throw err;
  }
}
