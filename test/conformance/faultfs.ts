// The fault-injecting filesystem of the fault tests (test/fixtures/faultfs.c): built once per
// machine with the libfuse3 headers, mounted over a backing folder with the rules a test file
// names, unmounted when the file's tests are done. Where it cannot run here, mount() says why,
// for the tests to skip with that reason.
//
// No side effects at import time: node --test runs every .js file under test/.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const SOURCE = new URL('../../../test/fixtures/faultfs.c', import.meta.url).pathname;

export interface FaultFs {
  /** Where the filesystem is mounted: paths here meet the rules. */
  at: string;
  /** The folder behind it: paths here are the same files, without faults. */
  backing: string;
  unmount(): Promise<void>;
}

/** The helper's path, compiled if this version of its source has not been yet; or why it cannot be. */
function build(): string | { skip: string } {
  if (!fs.existsSync(SOURCE)) return { skip: `${SOURCE} is missing` };
  const source = fs.readFileSync(SOURCE);
  const bin = path.join(os.tmpdir(), `ioengine-faultfs-${createHash('sha256').update(source).digest('hex').slice(0, 12)}`);
  if (fs.existsSync(bin)) return bin;
  let flags: string[];
  try {
    flags = execFileSync('pkg-config', ['fuse3', '--cflags', '--libs'], { encoding: 'utf8', stdio: 'pipe' }).trim().split(/\s+/);
  } catch {
    return { skip: 'the libfuse3 headers are not installed (Debian: apt-get install libfuse3-dev pkgconf)' };
  }
  const tmp = `${bin}.${process.pid}`;
  try {
    execFileSync('cc', ['-O2', '-Wall', '-o', tmp, SOURCE, ...flags], { stdio: 'pipe' });
  } catch (err) {
    return { skip: `cannot build the fault filesystem: ${String((err as { stderr?: unknown }).stderr ?? err).trim()}` };
  }
  fs.renameSync(tmp, bin); // whole, or not there: another test process may be building it too
  return bin;
}

/**
 * Mounts the fault filesystem with rules (see faultfs.c: NAME:OP:FAULT[@OFFSET]) on a fresh
 * folder; resolves once the mount is in place, or with the reason it cannot be here.
 */
export async function mount(rules: string[]): Promise<FaultFs | { skip: string }> {
  if (!fs.existsSync('/dev/fuse')) return { skip: '/dev/fuse is absent: no FUSE in this kernel or container' };
  if (process.getuid?.() !== 0) return { skip: 'mounting a FUSE filesystem here needs root' };
  const bin = build();
  if (typeof bin !== 'string') return bin;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ioengine-faultfs-'));
  const backing = path.join(root, 'backing');
  const at = path.join(root, 'mnt');
  fs.mkdirSync(backing);
  fs.mkdirSync(at);
  const child = spawn(bin, [backing, at, ...rules], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', d => (stderr += d));
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()));
  const before = fs.statSync(root).dev;
  for (let waited = 0; fs.statSync(at).dev === before; waited += 10) {
    if (child.exitCode !== null || child.signalCode !== null || waited > 5000) {
      child.kill('SIGKILL');
      await exited;
      fs.rmSync(root, { recursive: true, force: true });
      return { skip: `cannot mount a FUSE filesystem here: ${stderr.trim() || 'it did not appear in 5 s'}` };
    }
    await new Promise(resolve => setTimeout(resolve, 10));
  }
  return { at, backing, unmount: () => unmount(child, exited, at, root) };
}

async function unmount(child: ChildProcess, exited: Promise<void>, at: string, root: string): Promise<void> {
  child.kill('SIGTERM'); // fuse_main unmounts and returns
  const timer = setTimeout(() => {
    try {
      execFileSync('umount', ['-l', at], { stdio: 'pipe' });
    } catch { /* already gone */ }
    child.kill('SIGKILL');
  }, 5000);
  await exited;
  clearTimeout(timer);
  fs.rmSync(root, { recursive: true, force: true });
}
