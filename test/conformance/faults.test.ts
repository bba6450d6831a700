// Faults from the world below the engine: a full filesystem (a real one: a tiny tmpfs) and a
// caller's buffer that goes away (its ArrayBuffer transferred) while an operation waits. Every
// engine answers as node:fs/promises does, and nothing acknowledged is lost.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Engine } from '../../src/index.js';
import { assertBytes, assertCoded, conformance, outcome, type Handle } from './engines.js';

const FREE = 8192;

/**
 * Runs fn on a tmpfs of 1 MiB mounted at dir/tiny, unmounted after it; returns why not, where a
 * filesystem cannot be mounted here.
 */
async function onTinyFilesystem(dir: string, fn: (at: string) => Promise<void>): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'mounting a tiny tmpfs needs root';
  const at = path.join(dir, 'tiny');
  fs.mkdirSync(at);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', at], { stdio: 'pipe' });
  } catch (err) {
    return `cannot mount a tmpfs here: ${String((err as { stderr?: unknown }).stderr ?? err).trim()}`;
  }
  try {
    await fn(at);
  } finally {
    execFileSync('umount', ['-l', at]);
  }
}

/** Fills the filesystem at `at` until FREE bytes are left, and returns a fresh file's path there. */
function nearlyFull(at: string): string {
  for (const name of fs.readdirSync(at)) fs.rmSync(path.join(at, name));
  const { bavail, bsize } = fs.statfsSync(at);
  fs.writeFileSync(path.join(at, 'filler'), Buffer.alloc(bavail * bsize - FREE));
  return path.join(at, 'f');
}

/**
 * Runs the same writes through node:fs/promises and through the engine on a nearly full
 * filesystem: each write's outcome must be node's, and the file must hold exactly the bytes
 * acknowledged, in order.
 */
async function sameOnFullDisk(engine: Engine, at: string, writes: (fh: Handle) => Promise<unknown>, chunks: Buffer[]) {
  const run = async (open: (p: string) => Promise<Handle>) => {
    const file = nearlyFull(at);
    const fh = await open(file);
    const outcomes = await writes(fh) as object[];
    await fh.close();
    return { outcomes, content: fs.readFileSync(file) };
  };
  const node = await run(p => fsp.open(p, 'w+'));
  const ours = await run(p => engine.open(p, 'w+') as unknown as Promise<Handle>);
  assert.deepStrictEqual(ours.outcomes, node.outcomes, 'ioengine and node:fs/promises answered the writes differently');
  // What was acknowledged is there, and nothing overwrote it.
  const acknowledged: Buffer[] = [];
  for (const [i, o] of (ours.outcomes as { value?: { bytesWritten: number } }[]).entries())
    if (o.value) acknowledged.push(chunks[i].subarray(0, o.value.bytesWritten));
  assertBytes(ours.content, Buffer.concat(acknowledged), 'the file after the writes');
  return ours.outcomes as ({ value: { bytesWritten: number } } | { error: { code: unknown; syscall?: unknown } })[];
}

conformance('faults', test => {
  const letters = (n: number) => Array.from({ length: n }, (_, i) => Buffer.alloc(3000, 65 + i));
  const show = async (p: Promise<{ bytesWritten: number }>) => {
    const o = await outcome(p);
    return 'value' in o ? { value: { bytesWritten: o.value.bytesWritten } } : o;
  };

  test('writes at the current position on a full filesystem: ENOSPC after the short write, nothing acknowledged is overwritten', async ({ t, engine, dir }) => {
    const skip = await onTinyFilesystem(dir, async at => {
      const chunks = letters(5);
      const outcomes = await sameOnFullDisk(engine, at, async fh => {
        const out = [];
        for (const c of chunks) out.push(await show(fh.write(c, 0, c.length, null as unknown as number)));
        return out;
      }, chunks);
      const codes = outcomes.map(o => ('value' in o ? o.value.bytesWritten : o.error.code));
      assert.deepEqual(codes.slice(0, 2), [3000, 3000]);
      assert.equal(codes.at(-1), 'ENOSPC', `the full filesystem was not reported: ${codes.join(', ')}`);
    });
    if (skip) t.skip(skip);
  });

  test('writev at the current position on a full filesystem loses nothing acknowledged', async ({ t, engine, dir }) => {
    const skip = await onTinyFilesystem(dir, async at => {
      const chunks = letters(5);
      const outcomes = await sameOnFullDisk(engine, at, async fh => {
        const out = [];
        for (const c of chunks) {
          const o = await outcome(fh.writev([c.subarray(0, 1000), c.subarray(1000)], null as unknown as number));
          out.push('value' in o ? { value: { bytesWritten: o.value.bytesWritten } } : o);
        }
        return out;
      }, chunks);
      const last = outcomes.at(-1)!;
      assert.ok('error' in last && last.error.code === 'ENOSPC', JSON.stringify(last));
    });
    if (skip) t.skip(skip);
  });

  test('positioned writes on a full filesystem fail with ENOSPC and syscall write, as node:fs', async ({ t, engine, dir }) => {
    const skip = await onTinyFilesystem(dir, async at => {
      const chunks = letters(4);
      const outcomes = await sameOnFullDisk(engine, at, async fh => {
        const out = [];
        for (const [i, c] of chunks.entries()) out.push(await show(fh.write(c, 0, c.length, i * 3000)));
        return out;
      }, chunks);
      const last = outcomes.at(-1)!;
      assert.ok('error' in last && last.error.code === 'ENOSPC' && last.error.syscall === 'write', JSON.stringify(last));
    });
    if (skip) t.skip(skip);
  });

  // Node's own fs hands libuv the memory before the caller can transfer it; an engine that reaches
  // it later must not write into nothing, report a false end of file, or throw where nobody can
  // catch: it settles, with the bytes or with EFAULT.
  for (const kind of ['read', 'readv', 'write', 'writev'] as const) {
    test(`${kind} into a buffer transferred right after the call settles: done, or EFAULT`, async ({ engine, file }) => {
      const p = file('data', Buffer.alloc(1 << 16, 7));
      const fh = await engine.open(p, 'r+');
      const buffer = Buffer.alloc(1 << 16, 1);
      const pending = kind === 'read' ? fh.read(buffer, 0, buffer.length, 0)
        : kind === 'readv' ? fh.readv([buffer], 0)
          : kind === 'write' ? fh.write(buffer, 0, buffer.length, 0)
            : fh.writev([buffer], 0);
      structuredClone(buffer.buffer, { transfer: [buffer.buffer] });
      const o = await outcome(pending as Promise<{ bytesRead?: number; bytesWritten?: number }>);
      if ('value' in o) {
        assert.equal(o.value.bytesRead ?? o.value.bytesWritten, 1 << 16, `${kind} resolved short (a false end of file)`);
      } else {
        assert.equal(o.error.code, 'EFAULT', JSON.stringify(o.error));
        assertCoded(Object.assign(new Error(), o.error), kind);
      }
      // the handle and the engine still work
      const again = await fh.read(Buffer.alloc(16), 0, 16, 0);
      assert.equal(again.bytesRead, 16);
      await fh.close();
    });
  }

  test('readv and writev with an empty view over a transferred buffer settle, and the engine goes on', async ({ engine, file }) => {
    const fh = await engine.open(file('data', Buffer.alloc(64, 7)), 'r+');
    for (let round = 0; round < 8; round++) { // more rounds than a pool has threads: none is lost
      const memory = new ArrayBuffer(32);
      const views = [new Uint8Array(memory, 0, 16), new Uint8Array(memory, 16, 0)];
      const pending = round % 2 ? fh.writev(views, 0) : fh.readv(views, 0);
      structuredClone(memory, { transfer: [memory] });
      const o = await outcome(pending as Promise<unknown>);
      if ('error' in o) assert.equal(o.error.code, 'EFAULT', JSON.stringify(o.error));
    }
    assert.equal((await fh.read(Buffer.alloc(16), 0, 16, 0)).bytesRead, 16);
    await fh.close();
  });
});
