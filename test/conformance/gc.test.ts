// Forced garbage collection (node --expose-gc) while operations are in flight: the buffers of an
// operation are referenced by nothing but the operation, and must stay alive, and in place,
// until it completes. Every byte is verified afterwards.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Engine, FileHandle } from '../../src/index.js';
import { assertBytes, conformance, gc, pattern } from './engines.js';

const BLOCK = 4096;
const N = 1000;

/** A fresh view of size bytes of a kind chosen by i: small typed arrays live on V8's heap. */
function freshView(i: number, size: number): NodeJS.ArrayBufferView {
  switch (i % 4) {
    case 0: return Buffer.allocUnsafeSlow(size).fill(0xee);
    case 1: return new Uint8Array(size).fill(0xee);
    case 2: return new DataView(new Uint8Array(size).fill(0xee).buffer);
    default: return Buffer.alloc(size, 0xee);
  }
}
const bytes = (v: NodeJS.ArrayBufferView) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
/** Sizes from 1 byte (on-heap arrays, which a GC may move) to a block. */
const sizeOf = (i: number) => (i % 3 === 0 ? 1 + (i % 60) : BLOCK);

/**
 * Starts N reads of the first half of the file and N writes to the second half, every buffer
 * made here and referenced only by its operation. Only the promises are returned.
 */
function startOperations(fh: FileHandle): Promise<unknown>[] {
  const ops: Promise<unknown>[] = [];
  for (let i = 0; i < N; i++) {
    const size = sizeOf(i);
    ops.push(fh.read(freshView(i, size), 0, size, i * BLOCK).then(r => bytes(r.buffer).subarray(0, r.bytesRead)));
    const data = freshView(i + 1, size);
    bytes(data).set(pattern(size, 9000 + i));
    ops.push(i % 5 === 0
      ? fh.writev([freshView(i, 0), data], (N + i) * BLOCK).then(r => r.bytesWritten)
      : fh.write(data, 0, size, (N + i) * BLOCK).then(r => r.bytesWritten));
  }
  return ops;
}

/** Collects garbage until every promise has settled; returns how many collections ran meanwhile. */
async function collectWhileInFlight(ops: Promise<unknown>[]): Promise<number> {
  let pending = ops.length;
  for (const op of ops) op.then(() => pending--, () => pending--);
  let collections = 0;
  for (let round = 0; pending > 0 && round < 20; round++) {
    gc()!();
    collections++;
    await nextTurn();
  }
  return collections;
}

async function verify(ops: Promise<unknown>[], original: Buffer, p: string): Promise<void> {
  const results = await Promise.all(ops);
  const content = fs.readFileSync(p);
  for (let i = 0; i < N; i++) {
    const size = sizeOf(i);
    assertBytes(results[2 * i] as Buffer, original.subarray(i * BLOCK, i * BLOCK + size), `read ${i} (${size} bytes)`);
    assert.equal(results[2 * i + 1], size, `bytes written by write ${i}`);
    assertBytes(content.subarray((N + i) * BLOCK, (N + i) * BLOCK + size), pattern(size, 9000 + i), `write ${i} (${size} bytes)`);
  }
}

conformance('gc', test => {
  test('forced GC while 2000 operations are in flight: every byte verified afterwards', { gc: true }, async ({ t, engine, file }) => {
    const original = pattern(2 * N * BLOCK, 90);
    const p = file('gc', original);
    const fh = await engine.open(p, 'r+');
    const ops = startOperations(fh);
    gc()!(); // before the batch has even gone native
    const collections = await collectWhileInFlight(ops);
    t.diagnostic(`${collections} collections with operations in flight`);
    await verify(ops, original, p);
    await fh.close();
  });

  test('forced GC with the FileHandle itself unreferenced while its operations are in flight', { gc: true }, async ({ engine, file }) => {
    const original = pattern(2 * N * BLOCK, 91);
    const p = file('gc-handle', original);
    // the handle is referenced by nothing of ours once this returns (the engine still tracks it)
    const start = async (e: Engine) => startOperations(await e.open(p, 'r+'));
    const ops = await start(engine);
    await collectWhileInFlight(ops);
    await verify(ops, original, p);
  });

  test('forced GC after the caller empties the array of a readv in flight: its buffers stay alive', { gc: true }, async ({ t, kase, engine, dir }) => {
    if (kase.name === 'sync') return t.skip('the sync engine blocks its thread in a read of an empty FIFO');
    const fifo = `${dir}/fifo`;
    execFileSync('mkfifo', [fifo]);
    const fh = await engine.open(fifo, fs.constants.O_RDWR); // blocks until data comes
    const list = [Buffer.allocUnsafeSlow(1 << 20).fill(0xee)];
    const kept = new WeakRef(list[0]);
    const reading = fh.readv(list, null);
    list.length = 0; // the caller lets go of the buffer: only the operation holds it now
    for (let i = 0; i < 5; i++) {
      gc()!();
      await nextTurn();
    }
    assert.ok(kept.deref(), 'the buffer of a readv in flight was collected');
    const data = pattern(16, 77);
    const w = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    fs.writeSync(w, data);
    fs.closeSync(w);
    assert.equal((await reading).bytesRead, 16);
    assertBytes(kept.deref()!.subarray(0, 16), data, 'bytes read into the buffer');
    await fh.close();
  });

  test('forced GC while writes at the current position wait in line: order and bytes kept', { gc: true }, async ({ engine, file }) => {
    const p = file('gc-sequential', '');
    const fh = await engine.open(p, 'w');
    const sizes = Array.from({ length: 400 }, (_, i) => 1 + ((i * 131) % 3000));
    const writes = sizes.map((size, i) => {
      const data = freshView(i, size);
      bytes(data).set(pattern(size, 9500 + i));
      return fh.write(data, 0, size, null).then(r => r.bytesWritten);
    });
    await collectWhileInFlight(writes);
    assert.deepEqual(await Promise.all(writes), sizes);
    assertBytes(fs.readFileSync(p), Buffer.concat(sizes.map((s, i) => pattern(s, 9500 + i))), 'file after 400 writes at the current position');
    await fh.close();
  });
});
