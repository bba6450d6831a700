// The conformance suite's one helper: which engines to run, and the per-engine test generator.
// Every test is written once and generated for every engine engines() reports, plus `auto`
// (libuv's TEST_FS_IMPL habit). Engines that cannot run here appear as skipped tests with the
// engine's own reason, so a reader sees what was not covered and why.
//
// IOENGINE_TEST_ENGINES=sync,io_uring restricts a run to some engines (the others are skipped).
//
// Note: node --test runs every .js file under a `test` folder, this one included; it must stay
// free of side effects at import time.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type { FileHandle as NodeFileHandle } from 'node:fs/promises';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it, type TestContext } from 'node:test';
import { createEngine, engines, type Engine, type EngineOptions } from '../../src/index.js';

export const NO_IO = 'null engine does no I/O';
export const NO_GC = 'global.gc is not exposed: run node with --expose-gc';

/** The library entry point, for code run in child processes and worker_threads. */
export const INDEX_URL = new URL('../../src/index.js', import.meta.url).href;

export interface EngineCase {
  /** What createEngine() takes: an engine name or 'auto'. */
  name: string;
  /** How tests are titled: the name, and for auto what it chose. */
  label: string;
  available: boolean;
  /** Why the engine's tests are skipped. */
  reason?: string;
  /** false for the null engine, which completes every operation without doing it. */
  io: boolean;
}

let cases: EngineCase[] | undefined;

/** Every engine engines() reports, then `auto`. */
export function engineCases(): EngineCase[] {
  if (cases) return cases;
  const selected = process.env.IOENGINE_TEST_ENGINES?.split(',').map(s => s.trim()).filter(Boolean);
  const notSelected = (name: string) =>
    selected && !selected.includes(name) ? `not selected by IOENGINE_TEST_ENGINES=${process.env.IOENGINE_TEST_ENGINES}` : undefined;
  cases = engines().map(e => {
    const skip = e.available ? notSelected(e.name) : e.reason ?? 'unavailable (no reason given)';
    return { name: e.name, label: e.name, available: skip === undefined, reason: skip, io: e.name !== 'null' };
  });
  let auto: EngineCase;
  try {
    const engine = createEngine('auto');
    void engine.close();
    const skip = notSelected('auto');
    auto = { name: 'auto', label: `auto (${engine.name})`, available: skip === undefined, reason: skip, io: engine.name !== 'null' };
  } catch (err) {
    auto = { name: 'auto', label: 'auto', available: false, reason: (err as Error).message, io: true };
  }
  cases.push(auto);
  return cases;
}

/** What a test body gets: a fresh engine of the kind under test, and a private temp folder. */
export interface Ctx {
  t: TestContext;
  engine: Engine;
  kase: EngineCase;
  /** This test's own folder in os.tmpdir(), removed after the test. */
  dir: string;
  /** A path in dir; with content, the file is first written (with node:fs). */
  file(name: string, content?: string | Uint8Array): string;
  /** Another engine of the kind under test, closed after the test. */
  newEngine(options?: EngineOptions): Engine;
}

export interface CaseOptions {
  /** false: the test makes sense on the null engine too. Default true. */
  io?: boolean;
  /** Needs global.gc. */
  gc?: boolean;
  /** Per-test timeout, ms (default 30 s): a hang fails the test instead of the run. */
  timeout?: number;
  /** Options for the test's engine. */
  engineOptions?: EngineOptions;
  /** Marks a test blocked by a known library bug (node:test todo): it runs, and is reported. */
  todo?: string;
}

export type TestBody = (ctx: Ctx) => Promise<void>;
export type TestFn = (title: string, options: CaseOptions | TestBody, body?: TestBody) => void;

/**
 * One describe() per engine, titled `feature [engine]`; `define` declares the feature's tests
 * once with the test() it is given, and they are generated for every engine.
 */
export function conformance(feature: string, define: (test: TestFn, kase: EngineCase) => void): void {
  for (const kase of engineCases()) {
    suitesLeft++;
    describe(`${feature} [${kase.label}]`, () => {
      after(() => {
        if (--suitesLeft === 0) watchExit();
      });
      const test: TestFn = (title, options, body) => {
        const opts = typeof options === 'function' ? {} : options;
        const fn = typeof options === 'function' ? options : body!;
        it(title, { timeout: opts.timeout ?? 30_000, todo: opts.todo }, async t => {
          if (!kase.available) return t.skip(kase.reason);
          if (opts.io !== false && !kase.io) return t.skip(NO_IO);
          if (opts.gc && typeof gc() !== 'function') return t.skip(NO_GC);
          await runCase(t, kase, opts, fn);
        });
      };
      define(test, kase);
    });
  }
}

let suitesLeft = 0;

/**
 * Once every suite of this file is done, the process must exit on its own: engines closed or
 * idle keep nothing alive. If it has not within EXIT_GRACE_MS, say what keeps it alive and fail
 * the file, rather than hang the whole run.
 */
const EXIT_GRACE_MS = 10_000;
function watchExit(): void {
  setTimeout(() => {
    const p = process as unknown as { _getActiveHandles(): object[]; _getActiveRequests(): object[] };
    const handles = p._getActiveHandles().map(h => h.constructor.name);
    const requests = p._getActiveRequests().map(r => r.constructor.name);
    process.stderr.write(`conformance: the process did not exit ${EXIT_GRACE_MS / 1000} s after its last test; ` +
      `still active: handles [${handles.join(', ')}], requests [${requests.join(', ')}]\n`);
    process.exit(1);
  }, EXIT_GRACE_MS).unref();
}

async function runCase(t: TestContext, kase: EngineCase, opts: CaseOptions, fn: TestBody): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ioengine-${kase.name}-`));
  const made: Engine[] = [];
  const newEngine = (options?: EngineOptions) => {
    const engine = createEngine(kase.name, options);
    made.push(engine);
    return engine;
  };
  try {
    const engine = newEngine(opts.engineOptions);
    const file = (name: string, content?: string | Uint8Array) => {
      const p = path.join(dir, name);
      if (content !== undefined) fs.writeFileSync(p, content);
      return p;
    };
    await fn({ t, engine, kase, dir, file, newEngine });
    // Every engine must close, even after a test that left handles open: close() closes them.
    await Promise.all(made.map(e => e.close()));
    assert.deepEqual(openDescriptorsUnder(dir), [], 'engine.close() left descriptors open');
  } finally {
    await Promise.allSettled(made.map(e => e.close()));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Descriptors of this process that point into dir (Linux /proc; [] elsewhere). */
export function openDescriptorsUnder(dir: string): string[] {
  let fds: string[];
  try {
    fds = fs.readdirSync('/proc/self/fd');
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const fd of fds) {
    try {
      const target = fs.readlinkSync(`/proc/self/fd/${fd}`);
      if (target === dir || target.startsWith(dir + path.sep)) found.push(`${fd} -> ${target}`);
    } catch {
      // closed between readdir and readlink
    }
  }
  return found;
}

export function gc(): (() => void) | undefined {
  return (globalThis as { gc?: () => void }).gc;
}

// ---- data ----

/** size deterministic pseudo-random bytes; different seeds give different bytes. */
export function pattern(size: number, seed: number): Buffer {
  const buf = Buffer.allocUnsafeSlow(size); // its own ArrayBuffer: aligned, not pooled
  const words = new Uint32Array(buf.buffer, 0, size >>> 2);
  let x = (Math.imul(seed + 1, 0x9e3779b1) ^ 0x85ebca6b) >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    words[i] = x;
  }
  for (let i = words.length * 4; i < size; i++) buf[i] = (x >>> (8 * (i & 3))) & 0xff;
  return buf;
}

/** A buffer of size bytes of `fill`: shows which bytes a read did not touch. */
export function sentinel(size: number, fill = 0xee): Buffer {
  return Buffer.alloc(size, fill);
}

/** Asserts two byte ranges are equal, and says where they first differ (not 16 MiB of hex). */
export function assertBytes(actual: Uint8Array, expected: Uint8Array, what = 'bytes'): void {
  const a = Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength);
  const e = Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength);
  if (a.equals(e)) return;
  let i = 0;
  while (i < a.length && i < e.length && a[i] === e[i]) i++;
  assert.fail(`${what} differ: lengths ${a.length} and ${e.length}, first difference at byte ${i} ` +
    `(${a.subarray(i, i + 8).toString('hex')} instead of ${e.subarray(i, i + 8).toString('hex')})`);
}

// ---- errors ----

export interface Coded { name?: string; code: string; syscall?: string }

/** Calls fn, which must return a promise (not throw), and awaits its rejection. */
export async function rejection(fn: () => unknown): Promise<Error & { code?: unknown; errno?: unknown; syscall?: unknown; path?: unknown }> {
  let p: unknown;
  assert.doesNotThrow(() => { p = fn(); }, 'threw synchronously instead of returning a rejected promise');
  assert.ok(p instanceof Promise, 'did not return a promise');
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof Error, `rejected with a non-Error: ${String(err)}`);
    return err as Error & { code?: unknown };
  }
  return assert.fail('resolved, expected a rejection');
}

/** A rejection any settled-by-teardown operation may end with: an Error with a Node-style code. */
export function assertCoded(err: unknown, what: string): void {
  assert.ok(err instanceof Error, `${what}: rejected with a non-Error: ${String(err)}`);
  const code = (err as { code?: unknown }).code;
  assert.ok(typeof code === 'string' && /^(E[A-Z0-9]+|ERR_[A-Z0-9_]+|ABORT_ERR)$/.test(code),
    `${what}: rejected without a code: ${err.stack}`);
}

// ---- node:fs/promises as the reference ----

/** Our FileHandle seen through node's type: the two must be used the same way. */
export type Handle = NodeFileHandle;

export interface Io {
  open(name: string, flags?: string | number, mode?: string | number): Promise<Handle>;
  /** The path of name in this run's folder. */
  path(name: string): string;
}

/** A value or an error, reduced to what must be the same for node and for ioengine. */
export type Outcome<T> = { value: T } | { error: { name: string; code: unknown; errno?: unknown; syscall?: unknown; path?: unknown; message?: string } };

/**
 * Runs scenario twice, once through node:fs/promises and once through engine, each in a fresh
 * folder holding the files of setup; asserts both give the same result and leave the same files.
 * Paths inside error messages are written relative to the folder. Returns ioengine's result.
 */
export async function sameAsNode<T>(engine: Engine, dir: string, setup: Record<string, string | Uint8Array>,
  scenario: (io: Io) => Promise<T>): Promise<T> {
  const run = async (tag: string, open: (p: string, f?: string | number, m?: string | number) => Promise<Handle>) => {
    const root = path.join(dir, tag);
    fs.mkdirSync(root);
    for (const [name, content] of Object.entries(setup)) {
      if (name.endsWith('/')) fs.mkdirSync(path.join(root, name));
      else fs.writeFileSync(path.join(root, name), content);
    }
    const handles: Handle[] = [];
    const io: Io = {
      path: name => path.join(root, name),
      open: async (name, flags, mode) => {
        const h = await open(path.join(root, name), flags, mode);
        handles.push(h);
        return h;
      },
    };
    const result = normalize(await scenario(io), root);
    await Promise.all(handles.map(h => h.close()));
    return { result, files: snapshot(root) };
  };
  const node = await run('node', (p, f, m) => fsp.open(p, f, m));
  const ours = await run('ioengine', (p, f, m) => engine.open(p, f, m) as unknown as Promise<Handle>);
  assert.deepStrictEqual(ours.result, node.result, 'ioengine and node:fs/promises gave different results');
  assert.deepStrictEqual(ours.files, node.files, 'ioengine and node:fs/promises left different files');
  return ours.result as T;
}

/** p's outcome, as data that node and ioengine must agree on. */
export async function outcome<T>(p: Promise<T>): Promise<Outcome<T>> {
  try {
    return { value: await p };
  } catch (err) {
    const e = err as Error & { code?: unknown; errno?: unknown; syscall?: unknown; path?: unknown };
    // System errors must match node's word for word; for argument errors the class and code
    // are the contract (node's own messages for them vary between versions).
    const error: Extract<Outcome<T>, { error: unknown }>['error'] = { name: e.name, code: e.code };
    if (e.errno !== undefined) error.message = e.message;
    if (e.errno !== undefined) error.errno = e.errno;
    if (e.syscall !== undefined) error.syscall = e.syscall;
    if (e.path !== undefined) error.path = e.path;
    return { error };
  }
}

function normalize(value: unknown, root: string): unknown {
  if (typeof value === 'string') return value.split(root).join('<dir>');
  if (Array.isArray(value)) return value.map(v => normalize(v, root));
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v, root)]));
  return value;
}

function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of fs.readdirSync(root).sort()) {
    const p = path.join(root, name);
    const st = fs.statSync(p);
    out[name] = st.isFile() ? `${(st.mode & 0o777).toString(8)} ${fs.readFileSync(p).toString('hex')}` : 'dir';
  }
  return out;
}

// ---- child processes ----

export interface ChildResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; timedOut: boolean }

let children = 0;

/**
 * Runs an ES module, given as source, in a fresh node process: written to a file in dir (not
 * `-e`, whose --input-type would be inherited by worker_threads). Kills it after timeoutMs.
 */
export function runNode(source: string, dir: string, timeoutMs = 15_000): Promise<ChildResult> {
  const script = path.join(dir, `child-${process.pid}-${children++}.mjs`);
  fs.writeFileSync(script, source);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '', timedOut = false;
    child.stdout.setEncoding('utf8').on('data', d => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', d => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

export function describeChild(r: ChildResult): string {
  return `exit code ${r.code}, signal ${r.signal}${r.timedOut ? ' (killed: did not exit on its own)' : ''}\n` +
    `stdout: ${r.stdout.trim()}\nstderr: ${r.stderr.trim().slice(0, 2000)}`;
}
