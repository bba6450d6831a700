// Error shapes: system errors as node:fs makes them (code, errno, syscall, path, message, the
// caller's stack), EBADF after close, the closed engine, and bad arguments refused with Node's
// codes, as rejected promises, before any I/O.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import util from 'node:util';
import { describe, it } from 'node:test';
import { systemError } from '../../src/errors.js';
import { createEngine, engines } from '../../src/index.js';
import { conformance, INDEX_URL, outcome, rejection, runNode, sameAsNode, type Handle } from './engines.js';

const B = () => Buffer.alloc(8);

/** Bad calls on a handle. node: node:fs/promises rejects it too (and must agree on the code). */
const BAD_HANDLE_CALLS: { what: string; call: (h: Handle) => Promise<unknown>; node?: true; name?: string; code?: string }[] = [
  { what: 'read: negative offset', call: h => h.read(B(), -1, 1, 0), node: true },
  { what: 'read: offset + length past the buffer', call: h => h.read(B(), 8, 1, 0), node: true },
  { what: 'read: length past the buffer', call: h => h.read(B(), 0, 9, 0), node: true },
  { what: 'read: negative length', call: h => h.read(B(), 0, -1, 0), node: true },
  { what: 'read: fractional offset', call: h => h.read(B(), 1.5, 1, 0), node: true },
  { what: 'read: string offset', call: h => h.read(B(), '1' as unknown as number, 1, 0), node: true },
  { what: 'read: a string for the buffer', call: h => h.read('abc' as unknown as Buffer), node: true },
  { what: 'read: a number for the buffer', call: h => h.read(123 as unknown as Buffer), node: true },
  { what: 'read: options.offset negative', call: h => h.read(B(), { offset: -1 }), node: true },
  { what: 'read: options.length past the buffer', call: h => h.read({ buffer: B(), length: 99 }), node: true },
  { what: 'read: options.buffer a string', call: h => h.read({ buffer: 'x' as unknown as Buffer }), node: true },
  { what: 'read: position -2', call: h => h.read(B(), 0, 1, -2), name: 'RangeError', code: 'ERR_OUT_OF_RANGE' },
  { what: 'read: fractional position', call: h => h.read(B(), 0, 1, 1.5), name: 'RangeError', code: 'ERR_OUT_OF_RANGE' },
  { what: 'read: string position', call: h => h.read(B(), 0, 1, 'x' as unknown as number), name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' },
  { what: 'write: negative offset', call: h => h.write(B(), -1, 1, 0), node: true },
  { what: 'write: offset past the buffer', call: h => h.write(B(), 9, 0, 0), node: true },
  { what: 'write: length past the buffer', call: h => h.write(B(), 0, 9, 0), node: true },
  { what: 'write: negative length', call: h => h.write(B(), 0, -1, 0), node: true },
  { what: 'write: fractional offset', call: h => h.write(B(), 1.5, 1, 0), node: true },
  { what: 'write: string offset', call: h => h.write(B(), '1' as unknown as number, 1, 0), node: true },
  { what: 'write: a number', call: h => h.write(123 as unknown as Buffer), node: true },
  { what: 'write: an object', call: h => h.write({} as unknown as Buffer), node: true },
  { what: 'write: null', call: h => h.write(null as unknown as Buffer), node: true },
  { what: 'write: options.offset negative', call: h => (h.write as Function)(B(), { offset: -1 }), node: true },
  { what: 'write: options.length past the buffer', call: h => (h.write as Function)(B(), { length: 99 }), node: true },
  { what: 'write: position -2', call: h => h.write(B(), 0, 1, -2), name: 'RangeError', code: 'ERR_OUT_OF_RANGE' },
  { what: 'write: fractional position', call: h => h.write(B(), 0, 1, 1.5), name: 'RangeError', code: 'ERR_OUT_OF_RANGE' },
  { what: 'write: string position', call: h => h.write(B(), 0, 1, 'x' as unknown as number), name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' },
  { what: 'write string: position -2', call: h => h.write('abc', -2), name: 'RangeError', code: 'ERR_OUT_OF_RANGE' },
  { what: 'readv: a string', call: h => h.readv('x' as unknown as Buffer[]), node: true },
  { what: 'readv: an array of numbers', call: h => h.readv([1] as unknown as Buffer[]), node: true },
  { what: 'readv: position -2', call: h => h.readv([B()], -2), name: 'RangeError', code: 'ERR_OUT_OF_RANGE' },
  { what: 'writev: a string', call: h => h.writev('x' as unknown as Buffer[]), node: true },
  { what: 'writev: an array of strings', call: h => h.writev(['x'] as unknown as Buffer[]), node: true },
  { what: 'writev: fractional position', call: h => h.writev([B()], 1.5), name: 'RangeError', code: 'ERR_OUT_OF_RANGE' },
  { what: 'truncate: a string', call: h => h.truncate('x' as unknown as number), node: true },
  { what: 'truncate: fractional', call: h => h.truncate(1.5), node: true },
];

/** Bad calls of open(): node:fs/promises rejects every one of them. */
const BAD_OPEN_CALLS: { what: string; call: (open: (...args: unknown[]) => Promise<unknown>, path: string) => Promise<unknown> }[] = [
  { what: 'a number for the path', call: open => open(123) },
  { what: 'an unknown flag string', call: (open, p) => open(p, 'bogus') },
  { what: 'a flags object', call: (open, p) => open(p, {}) },
  { what: 'fractional flags', call: (open, p) => open(p, 1.5) },
  { what: 'a path with a NUL byte', call: (open, p) => open(`${p}\0x`) },
  { what: 'a non-octal mode string', call: (open, p) => open(p, 'w', 'abc') },
  { what: 'a negative mode', call: (open, p) => open(p, 'w', -1) },
  { what: 'a fractional mode', call: (open, p) => open(p, 'w', 1.5) },
  { what: 'a non-file URL', call: open => open(new URL('http://example.com/x')) },
];

/**
 * What went wrong with a call that must refuse its arguments, or undefined: it must return a
 * promise that rejects with the expected class and code.
 */
async function misrefusal(fn: () => Promise<unknown>, expected: { name?: string; code?: unknown }): Promise<string | undefined> {
  let p: Promise<unknown>;
  let err: Error & { code?: unknown };
  let how = '';
  try {
    p = fn();
    await p;
    return 'resolved';
  } catch (e) {
    err = e as Error;
    if (!p!) how = 'threw synchronously instead of returning a rejected promise';
  }
  if (err.name !== expected.name || err.code !== expected.code)
    how += `${how ? '; ' : ''}${err.name} ${String(err.code)}, expected ${expected.name} ${String(expected.code)}`;
  return how || undefined;
}

conformance('errors', test => {
  test('ENOENT: code, errno, syscall, path and message as node:fs gives them, with the caller\'s stack', async ({ engine, dir }) => {
    const missing = `${dir}/no/such/file`;
    const err = await rejection(() => engine.open(missing, 'r'));
    assert.equal(err.code, 'ENOENT');
    assert.equal(err.errno, -os.constants.errno.ENOENT);
    assert.equal(err.syscall, 'open');
    assert.equal(err.path, missing);
    assert.equal(err.message, `ENOENT: no such file or directory, open '${missing}'`);
    assert.match(err.stack ?? '', /errors\.test\.[jt]s/, 'the stack leads back to the call site');
    const nodeErr = await rejection(() => fsp.open(missing, 'r'));
    for (const k of ['name', 'code', 'errno', 'syscall', 'path', 'message'] as const)
      assert.equal((err as unknown as Record<string, unknown>)[k], (nodeErr as unknown as Record<string, unknown>)[k], `error.${k}, compared with node:fs/promises`);
  });

  test('EISDIR reading a directory, as in node:fs', async ({ engine, dir }) => {
    await sameAsNode(engine, dir, { 'sub/': '' }, async io => {
      const dh = await io.open('sub', 'r');
      return {
        read: await outcome(dh.read(Buffer.alloc(10), 0, 10, 0)),
        readAtCurrent: await outcome(dh.read(Buffer.alloc(10), 0, 10, null)),
        readv: await outcome(dh.readv([Buffer.alloc(10)], 0)),
        openForWriting: await outcome(io.open('sub', 'r+')),
        openW: await outcome(io.open('sub', 'w')),
      };
    });
  });

  test('other system errors as in node:fs: EEXIST, ENOTDIR, EBADF for the wrong access mode', async ({ engine, dir }) => {
    await sameAsNode(engine, dir, { f: 'content' }, async io => {
      const ro = await io.open('f', 'r');
      const wo = await io.open('f', 'a');
      return {
        eexist: await outcome(io.open('f', 'wx')),
        enotdir: await outcome(io.open('f/inside', 'r')),
        writeReadOnly: await outcome(ro.write(Buffer.from('x'), 0, 1, 0)),
        writevReadOnly: await outcome(ro.writev([Buffer.from('x')], 0)),
        readWriteOnly: await outcome(wo.read(Buffer.alloc(4), 0, 4, 0)),
        readvWriteOnly: await outcome(wo.readv([Buffer.alloc(4)], 0)),
      };
    });
  });

  test('a closed handle answers as node\'s does: file closed, EBADF, the method\'s syscall, no errno', async ({ engine, dir }) => {
    await sameAsNode(engine, dir, { f: 'data' }, async io => {
      const h = await io.open('f', 'r+');
      await h.close();
      const calls: [string, () => Promise<unknown>][] = [
        ['read', () => h.read(Buffer.alloc(4), 0, 4, 0)], ['write', () => h.write('x')], ['readv', () => h.readv([Buffer.alloc(2)])],
        ['writev', () => h.writev([Buffer.from('x')])], ['stat', () => h.stat()], ['sync', () => h.sync()], ['datasync', () => h.datasync()],
        ['truncate', () => h.truncate()], ['readFile', () => h.readFile()], ['writeFile', () => h.writeFile('x')], ['appendFile', () => h.appendFile('x')],
        ['chmod', () => h.chmod(0o600)], ['utimes', () => h.utimes(1, 2)],
      ];
      const out: unknown[] = [];
      for (const [name, call] of calls) {
        const o = await outcome(call());
        out.push([name, 'error' in o ? { ...o.error, message: ((await call().catch((e: unknown) => e)) as Error).message } : o]);
      }
      return out;
    });
  });

  test('a closed handle: every method rejects with EBADF, fd is -1, close() again resolves', { io: false }, async ({ engine, file }) => {
    const p = file('closed', 'abc');
    const fh = await engine.open(p, 'r+');
    assert.ok(fh.fd >= 0);
    await fh.close();
    assert.equal(fh.fd, -1);
    const nh = await fsp.open(p, 'r+');
    await nh.close();
    const calls: [string, (h: Handle) => Promise<unknown>][] = [
      ['read', h => h.read(Buffer.alloc(1), 0, 1, 0)],
      ['read (current position)', h => h.read(Buffer.alloc(1), 0, 1, null)],
      ['write', h => h.write(Buffer.from('x'), 0, 1, 0)],
      ['write string', h => h.write('x')],
      ['readv', h => h.readv([Buffer.alloc(1)], 0)],
      ['writev', h => h.writev([Buffer.from('x')], 0)],
      ['stat', h => h.stat()],
      ['sync', h => h.sync()],
      ['datasync', h => h.datasync()],
      ['truncate', h => h.truncate(1)],
    ];
    for (const [what, call] of calls) {
      const err = await rejection(() => call(fh as unknown as Handle));
      const nodeErr = await rejection(() => call(nh));
      assert.equal(err.code, 'EBADF', `${what} on a closed handle`);
      assert.equal(err.code, nodeErr.code, `${what}: node:fs/promises says ${String(nodeErr.code)}`);
      assert.equal(typeof err.syscall, 'string', `${what}: error.syscall`);
    }
    assert.equal(await fh.close(), undefined, 'close() of a closed handle resolves');
    assert.equal(fs.readFileSync(p, 'utf8'), 'abc');
  });

  test('a closed engine: open() rejects with ERR_IOENGINE_CLOSED, its handles are closed, close() is idempotent', { io: false }, async ({ engine, file }) => {
    const p = file('engine-closed', 'abc');
    const fh = await engine.open(p, 'r');
    assert.equal(engine.closed, false);
    const closing = engine.close();
    assert.equal(engine.closed, true);
    assert.equal(engine.close(), closing, 'close() again returns the same promise');
    const early = await rejection(() => engine.open(p, 'r'));
    assert.equal(early.code, 'ERR_IOENGINE_CLOSED', 'open() while closing');
    await closing;
    const late = await rejection(() => engine.open(p, 'r'));
    assert.equal(late.code, 'ERR_IOENGINE_CLOSED', 'open() after close');
    assert.match(late.message, /closed/);
    assert.equal(fh.fd, -1, 'engine.close() closed the handle left open');
    for (const call of [() => fh.read(Buffer.alloc(1), 0, 1, 0), () => fh.stat(), () => fh.write('x', 0)]) {
      const err = await rejection(call);
      assert.ok(err.code === 'EBADF' || err.code === 'ERR_IOENGINE_CLOSED', `a handle of a closed engine: ${String(err.code)}`);
    }
    await fh.close();
  });

  test('bad arguments to read, write, readv, writev, truncate reject with Node\'s class and code, before any I/O', { io: false }, async ({ engine, file }) => {
    const fh = await engine.open(file('args', 'abcdefghij'), 'r+');
    const nh = await fsp.open(file('args-node', 'abcdefghij'), 'r+');
    const failures: string[] = [];
    for (const c of BAD_HANDLE_CALLS) {
      let expected: { name?: string; code?: unknown } = { name: c.name, code: c.code };
      if (c.node) expected = await rejection(() => c.call(nh));
      const wrong = await misrefusal(() => c.call(fh as unknown as Handle), expected);
      if (wrong) failures.push(`${c.what}: ${wrong}`);
    }
    await Promise.all([fh.close(), nh.close()]);
    assert.deepEqual(failures, [], `${failures.length} bad calls were not refused as node refuses them`);
  });

  test('bad arguments to open() reject with the class and code node:fs/promises gives', { io: false }, async ({ engine, dir }) => {
    const failures: string[] = [];
    for (const c of BAD_OPEN_CALLS) {
      const target = `${dir}/created`;
      const expected = await rejection(() => c.call((...a) => (fsp.open as Function)(...a), target));
      const wrong = await misrefusal(() => c.call((...a) => (engine.open as Function)(...a), target), expected);
      if (wrong) failures.push(`open, ${c.what}: ${wrong}`);
    }
    assert.deepEqual(failures, [], `${failures.length} bad calls were not refused as node refuses them`);
  });

  test('a call refused for its arguments does no I/O: file, size and position unchanged', async ({ engine, file, dir }) => {
    const p = file('untouched', 'abcdefghij');
    const fh = await engine.open(p, 'r+');
    const before = fs.statSync(p);
    for (const c of BAD_HANDLE_CALLS) await c.call(fh as unknown as Handle).catch(() => {});
    // the same with the current position
    await fh.write(B(), -1, 1, null).catch(() => {});
    await fh.write(B(), 0, 99, null).catch(() => {});
    await fh.read(B(), 0, 99, null).catch(() => {});
    await fh.readv('x' as unknown as Buffer[], null).catch(() => {});
    assert.equal(fs.readFileSync(p, 'utf8'), 'abcdefghij', 'file content');
    assert.equal(fs.statSync(p).size, before.size, 'file size');
    const r = await fh.read(Buffer.alloc(10), 0, 10, null);
    assert.equal(r.buffer.toString(), 'abcdefghij', 'the current position is still 0');
    await fh.close();
    for (const c of BAD_OPEN_CALLS) {
      await Promise.resolve().then(() => c.call((...a) => (engine.open as Function)(...a), `${dir}/created`)).catch(() => {});
    }
    assert.equal(fs.existsSync(`${dir}/created`), false, 'a refused open() created a file');
  });
});

describe('system errors', () => {
  it('an errno libuv has no name for is named as node:fs/promises names it (uv_err_name, uv_strerror)', () => {
    const err = systemError(-9999, 'read');
    assert.equal(err.code, util.getSystemErrorName(-9999));
    assert.equal(err.errno, -9999);
    assert.equal(err.message, 'Unknown system error -9999: Unknown system error -9999, read');
  });
});

describe('the package-level open()', () => {
  it('rejects (never throws) when no engine can run here', async () => {
    const dir = fs.mkdtempSync(`${os.tmpdir()}/ioengine-open-`);
    try {
      const child = await runNode(`
        process.env.IOENGINE_ENGINES = 'no-such-engine';
        const { open } = await import(${JSON.stringify(INDEX_URL)});
        let p;
        try { p = open('/dev/null'); } catch (err) { console.log('threw ' + err.code); process.exit(0); }
        await p.then(() => console.log('opened'), err => console.log('rejected ' + err.code));`, dir);
      assert.equal(child.code, 0, child.stderr);
      assert.equal(child.stdout.trim(), 'rejected ERR_IOENGINE_UNAVAILABLE');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('createEngine() refusals', () => {
  it('an unknown engine name is a TypeError with ERR_IOENGINE_UNKNOWN', () => {
    assert.throws(() => createEngine('no-such-engine'), { name: 'TypeError', code: 'ERR_IOENGINE_UNKNOWN' });
  });
  for (const e of engines().filter(x => !x.available)) {
    it(`the unavailable ${e.name} engine refuses with its reason`, () => {
      assert.ok(e.reason, 'engines() says why');
      assert.throws(() => createEngine(e.name), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'ERR_IOENGINE_UNAVAILABLE');
        assert.ok(err.message.includes(e.reason!), `the message carries the reason: ${err.message}`);
        return true;
      });
    });
  }
});
