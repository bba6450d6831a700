// fio's job files: INI with fio's rules. `[global]` holds defaults for the jobs after it, every other
// section is a job (names may repeat, contain dots, or be numbers; order matters), `key=value` or a
// bare `key` for flags, whole-line comments with ';' or '#', and ${VAR} taken from the environment.
// A general INI library does not fit: `ini` reorders numeric sections, nests dotted names and merges
// repeated ones, all of which change what fio would run.
import { BenchUsageError } from './options.js';

export interface RawOption {
  name: string;
  /** undefined for a bare flag (`time_based`) */
  value: string | undefined;
  /** where it was written, for messages: `job.fio:12` or `command line` */
  where: string;
}

export interface RawSection {
  /** `global` for defaults, else the job's name */
  name: string;
  global: boolean;
  options: RawOption[];
  where: string;
}

export function parseJobFile(text: string, file: string, env: NodeJS.ProcessEnv = process.env): RawSection[] {
  const sections: RawSection[] = [];
  let current: RawSection | undefined;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const where = `${file}:${i + 1}`;
    const line = lines[i].trim();
    if (line === '' || line.startsWith(';') || line.startsWith('#')) continue;
    if (line.startsWith('[')) {
      const m = /^\[([^\]]+)\]$/.exec(line);
      if (!m || m[1].trim() === '') throw new BenchUsageError(`${where}: a section header is [name], got '${line}'`);
      const name = m[1].trim();
      current = { name, global: name === 'global', options: [], where };
      sections.push(current);
      continue;
    }
    if (!current) throw new BenchUsageError(`${where}: option '${line}' is outside any section; put it under [global] or a [job]`);
    const eq = line.indexOf('=');
    const name = (eq < 0 ? line : line.slice(0, eq)).trim();
    if (!/^[A-Za-z_][\w-]*$/.test(name)) throw new BenchUsageError(`${where}: cannot read '${line}' as key=value`);
    const value = eq < 0 ? undefined : expand(line.slice(eq + 1).trim(), where, env);
    current.options.push({ name, value, where });
  }
  return sections;
}

/** fio's environment variables in values: ${NAME}. An unset one is refused, not left as text. */
function expand(value: string, where: string, env: NodeJS.ProcessEnv): string {
  return value.replace(/\$\{([A-Za-z_]\w*)\}/g, (_, name: string) => {
    const v = env[name];
    if (v === undefined) throw new BenchUsageError(`${where}: environment variable \${${name}} is not set`);
    return v;
  });
}
