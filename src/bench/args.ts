// The bench's command line, read as fio reads its own: `--opt=value` (or `--opt value`), flags alone
// (`--time_based`), options before the first `--name` are global defaults, each `--name` starts a
// job that the options after it belong to, and every other word is a job file.
import { CLI_OPTIONS, type CliOptions, BenchUsageError, findOption } from './options.js';
import type { RawOption, RawSection } from './job-file.js';

export interface ParsedArgs {
  jobFiles: string[];
  globals: RawOption[];
  jobs: RawSection[];
  cli: CliOptions;
}

const WHERE = 'command line';

export function parseArgs(argv: readonly string[]): ParsedArgs {
  const out: ParsedArgs = { jobFiles: [], globals: [], jobs: [], cli: { outputFormat: 'normal', eta: 'auto', fio: false } };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('-') || arg === '-') {
      out.jobFiles.push(arg);
      continue;
    }
    if (!arg.startsWith('--')) throw new BenchUsageError(`${WHERE}: unknown option '${arg}': options are written --name=value`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    let value = eq < 0 ? undefined : arg.slice(eq + 1);
    const def = findOption(name, WHERE, '--');
    if (value === undefined && !def.flag && i + 1 < argv.length && !argv[i + 1].startsWith('--')) value = argv[++i];
    const cliDef = CLI_OPTIONS.find(o => o === def);
    if (cliDef) {
      if (value === undefined && !cliDef.flag) throw new BenchUsageError(`${WHERE}: option '--${name}' needs a value (--${name}=VALUE)`);
      try {
        cliDef.applyCli(out.cli, value);
      } catch (err) {
        throw new BenchUsageError(`${WHERE}: invalid value '${value}' for '--${name}': ${(err as Error).message}`);
      }
      continue;
    }
    const option: RawOption = { name, value, where: WHERE };
    if (def.name === 'name') {
      out.jobs.push({ name: value ?? '', global: false, options: [option], where: WHERE });
    } else if (out.jobs.length > 0) {
      out.jobs[out.jobs.length - 1].options.push(option);
    } else {
      out.globals.push(option);
    }
  }
  return out;
}
