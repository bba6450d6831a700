// Large readFile results in memory used again (native/large_memory.cc): each result is memory
// of its own, as node's (its .buffer is its size, it can be transferred), the memory of a
// collected result serves the next one, and what readFile returns is the file, every time.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MessageChannel, Worker } from 'node:worker_threads';
import { largeMemory } from '../src/binding.js';
import { fsOn } from '../src/fs/index.js';
import { createEngine } from '../src/index.js';

const memory = largeMemory();
const skip = memory ? false : 'native/large_memory.cc is not built here';
const MiB = 1024 * 1024;

/** Collects garbage until the cache holds more than `than` bytes (the collector frees backing stores a little later). */
async function cachedAbove(than: number): Promise<number> {
  for (let i = 0; i < 100; i++) {
    globalThis.gc!();
    await sleep(10);
    if (memory!.cachedBytes() > than) return memory!.cachedBytes();
  }
  return memory!.cachedBytes();
}

test('largeBuffer: memory of its own, used again once collected, not for a result of less than half its size', { skip }, async () => {
  const a = memory!.largeBuffer(40 * MiB)!, b = memory!.largeBuffer(40 * MiB)!;
  assert.ok(Buffer.isBuffer(a));
  assert.equal(a.length, 40 * MiB);
  assert.equal(a.buffer.byteLength, 40 * MiB, 'its .buffer is its own size');
  a.fill(1);
  b.fill(2);
  assert.equal(a[40 * MiB - 1], 1, 'two live results share nothing');
  const before = memory!.cachedBytes();
  let dropped: Buffer | undefined = memory!.largeBuffer(40 * MiB)!;
  dropped.fill(3);
  dropped = undefined;
  const after = await cachedAbove(before);
  assert.ok(after > before, `a collected result's memory is kept (${before} -> ${after} bytes)`);
  const small = memory!.largeBuffer(8 * MiB)!;
  assert.equal(memory!.cachedBytes(), after, 'a result of less than half a kept region maps its own');
  const again = memory!.largeBuffer(39 * MiB)!;
  assert.ok(memory!.cachedBytes() < after, 'the next result of about its size takes it');
  assert.equal(again.length, 39 * MiB);
  assert.equal(a[0] + b[0] + small.length, 3 + 8 * MiB);
  assert.equal(memory!.largeBuffer(0), undefined);
  assert.equal(memory!.largeBuffer(-1), undefined);
  assert.equal(memory!.largeBuffer('1' as never), undefined);
});

test('largeBuffer: transferred to a worker, read there, freed there', { skip }, async () => {
  const buffer = memory!.largeBuffer(33 * MiB)!;
  buffer.fill(7);
  const worker = new Worker(`
    const { parentPort } = require('node:worker_threads');
    parentPort.once('message', ab => { const v = new Uint8Array(ab); parentPort.postMessage(v[0] + v[v.length - 1]); });`, { eval: true });
  worker.postMessage(buffer.buffer, [buffer.buffer as ArrayBuffer]);
  assert.equal(buffer.buffer.byteLength, 0, 'detached here');
  const [sum] = await Promise.race([new Promise(resolve => worker.once('message', v => resolve([v]))), sleep(20_000, undefined, { ref: false }).then(() => ['timed out'])]) as [unknown];
  assert.equal(sum, 14);
  await worker.terminate();
  const { port1, port2 } = new MessageChannel();
  const other = memory!.largeBuffer(33 * MiB)!;
  port1.postMessage(other.buffer, [other.buffer as ArrayBuffer]);
  port1.close();
  port2.close();
});

test('readFile of large files again and again, each result the file and memory of its own', { skip }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ioengine-large-'));
  const engine = createEngine('auto');
  try {
    const files = [40 * MiB + 5, 36 * MiB].map((size, i) => {
      const data = Buffer.alloc(size, 0x30 + i);
      data.writeUInt32LE(size, size - 8);
      const p = path.join(dir, `f${i}`);
      fs.writeFileSync(p, data);
      return { p, data };
    });
    for (let round = 0; round < 4; round++) {
      const { p, data } = files[round % 2];
      const got = await fsOn(engine).readFile(p) as Buffer;
      assert.equal(got.buffer.byteLength, data.length);
      assert.ok(got.equals(data), `round ${round}: the file's bytes`);
      globalThis.gc!();
      await sleep(10);
    }
  } finally {
    await engine.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('trim gives back the memory unused for as long as asked, and only that', { skip }, async () => {
  let dropped: Buffer | undefined = memory!.largeBuffer(36 * MiB)!;
  dropped.fill(1);
  dropped = undefined;
  const kept = await cachedAbove(0);
  assert.ok(kept > 0);
  assert.equal(memory!.trim(60_000), kept, 'nothing has been unused for a minute');
  await sleep(30);
  assert.equal(memory!.trim(20), 0, 'all of it unused for 20 ms: given back');
  assert.equal(memory!.cachedBytes(), 0);
});
