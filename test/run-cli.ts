// The ioengine CLI (or another command, fio) in a child process, for the tests of the commands:
// exit code and output. (node --test also loads this file: it must stay free of side effects.)
import { execFile, type ExecFileOptions } from 'node:child_process';

export const CLI = new URL('../src/cli.js', import.meta.url).pathname;

export interface Run { code: number | null; stdout: string; stderr: string }

export function run(command: string, args: string[], options: ExecFileOptions = {}): Promise<Run> {
  return new Promise(resolve => {
    execFile(command, args, { maxBuffer: 64 << 20, ...options, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

export function runCli(args: string[], options: ExecFileOptions = {}): Promise<Run> {
  return run(process.execPath, [CLI, ...args], options);
}
