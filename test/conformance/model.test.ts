// Property tests (fast-check): random sequences of reads, writes, vectored I/O, truncates, syncs
// and stats, at chosen positions and at the file position, run on each engine and on a model of
// the file in memory; every result and the file's bytes must be the model's. A second property
// starts a random set of writes to distinct ranges all at once, then reads them back. Sizes reach
// past auto's inline limit (256 KiB) and its large-read threshold (64 KiB), so that every way an
// engine may choose is exercised. A failure prints the shrunk sequence and the seed to replay it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fc from 'fast-check';
import type { FileHandle } from '../../src/index.js';
import { conformance } from './engines.js';

const KiB = 1024;
const SPAN = 512 * KiB; // positions fall in the first half MiB

/** The file as it should be: its bytes, and the position reads and writes at null move. */
class Model {
  bytes = Buffer.alloc(0);
  position = 0;

  write(data: Buffer, at: number | null): number {
    const pos = at ?? this.position;
    // A write of nothing leaves the file as it is, even past its end.
    if (data.length > 0 && pos + data.length > this.bytes.length) {
      const grown = Buffer.alloc(pos + data.length);
      this.bytes.copy(grown);
      this.bytes = grown;
    }
    data.copy(this.bytes, pos);
    if (at === null) this.position += data.length;
    return data.length;
  }

  read(length: number, at: number | null): Buffer {
    const pos = at ?? this.position;
    const out = this.bytes.subarray(Math.min(pos, this.bytes.length), Math.min(pos + length, this.bytes.length));
    if (at === null) this.position += out.length;
    return Buffer.from(out);
  }

  truncate(length: number): void {
    const cut = Buffer.alloc(length);
    this.bytes.copy(cut, 0, 0, Math.min(length, this.bytes.length));
    this.bytes = cut;
  }
}

type Step =
  | { op: 'write'; at: number | null; length: number; fill: number }
  | { op: 'writev'; at: number | null; lengths: number[]; fill: number }
  | { op: 'read'; at: number | null; length: number }
  | { op: 'readv'; at: number | null; lengths: number[] }
  | { op: 'truncate'; length: number }
  | { op: 'sync' }
  | { op: 'stat' };

const at = fc.option(fc.nat(SPAN), { nil: null, freq: 4 });
/** Mostly small, sometimes past 64 KiB (auto's large reads) and 256 KiB (its inline limit). */
const length = fc.oneof({ weight: 6, arbitrary: fc.nat(8 * KiB) }, { weight: 2, arbitrary: fc.integer({ min: 64 * KiB, max: 160 * KiB }) },
  { weight: 1, arbitrary: fc.integer({ min: 256 * KiB, max: 300 * KiB }) });
const lengths = fc.array(fc.nat(6 * KiB), { minLength: 1, maxLength: 4 });
const fill = fc.integer({ min: 1, max: 255 });

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('write' as const), at, length, fill }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('writev' as const), at, lengths, fill }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('read' as const), at, length }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('readv' as const), at, lengths }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('truncate' as const), length: fc.nat(SPAN) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('sync' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('stat' as const) }) },
);

/** Bytes that differ from one position to the next (a uniform fill would hide an offset error). */
const bytesOf = (length: number, seed: number) => {
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) out[i] = (seed * 31 + i * 7 + (i >> 8)) & 255;
  return out;
};
/** Room around a read's bytes in its buffer, filled with GUARD: a read must not touch it. */
const PAD = 3, GUARD = 0xa5;

/** Runs one step on the handle and on the model; throws where they differ. */
async function apply(fh: FileHandle, model: Model, s: Step, i: number): Promise<void> {
  const where = `step ${i} ${JSON.stringify(s)}`;
  switch (s.op) {
    case 'write': {
      // from inside a larger buffer, at an offset
      const data = bytesOf(s.length, s.fill), room = Buffer.concat([Buffer.alloc(PAD, GUARD), data, Buffer.alloc(PAD, GUARD)]);
      const { bytesWritten } = await fh.write(room, PAD, data.length, s.at);
      assert.equal(bytesWritten, model.write(data, s.at), where);
      return;
    }
    case 'writev': {
      const bufs = s.lengths.map((n, k) => bytesOf(n, s.fill + k));
      const { bytesWritten } = await fh.writev(bufs, s.at);
      assert.equal(bytesWritten, model.write(Buffer.concat(bufs), s.at), where);
      return;
    }
    case 'read': {
      const buf = Buffer.alloc(s.length + 2 * PAD, GUARD);
      const { bytesRead } = await fh.read(buf, PAD, s.length, s.at);
      const expected = model.read(s.length, s.at);
      assert.equal(bytesRead, expected.length, where);
      assert.ok(buf.subarray(PAD, PAD + bytesRead).equals(expected), `${where}: bytes differ`);
      assert.ok(buf.subarray(0, PAD).every(b => b === GUARD) && buf.subarray(PAD + bytesRead).every(b => b === GUARD), `${where}: bytes outside the read changed`);
      return;
    }
    case 'readv': {
      const bufs = s.lengths.map(n => Buffer.alloc(n));
      const { bytesRead } = await fh.readv(bufs, s.at);
      const expected = model.read(s.lengths.reduce((a, b) => a + b, 0), s.at);
      assert.equal(bytesRead, expected.length, where);
      assert.ok(Buffer.concat(bufs).subarray(0, bytesRead).equals(expected), `${where}: bytes differ`);
      return;
    }
    case 'truncate':
      await fh.truncate(s.length);
      model.truncate(s.length);
      return;
    case 'sync':
      await fh.sync();
      return;
    case 'stat':
      assert.equal((await fh.stat()).size, model.bytes.length, where);
  }
}

conformance('model', test => {
  test('random sequences of operations give what a file in memory gives', { timeout: 120_000 }, async ({ engine, file }) => {
    let run = 0;
    await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 24 }), async steps => {
      const p = file(`seq-${run++}`);
      const fh = await engine.open(p, 'w+');
      const model = new Model();
      try {
        for (let i = 0; i < steps.length; i++) await apply(fh, model, steps[i], i);
      } finally {
        await fh.close();
      }
      assert.ok(fs.readFileSync(p).equals(model.bytes), 'the file holds what the model holds');
    }), { numRuns: 150 });
  });

  test('writes to distinct ranges started at once all land; reads started at once see them', { timeout: 120_000 }, async ({ engine, file }) => {
    let run = 0;
    const ranges = fc.uniqueArray(fc.nat(63), { minLength: 1, maxLength: 32 })
      .chain(slots => fc.tuple(fc.constant(slots), fc.array(fc.integer({ min: 1, max: 8 * KiB }), { minLength: slots.length, maxLength: slots.length })));
    await fc.assert(fc.asyncProperty(ranges, async ([slots, sizes]) => {
      // Slot k starts at k * 8 KiB: ranges never overlap, whatever their sizes.
      const p = file(`at-once-${run++}`);
      const fh = await engine.open(p, 'w+');
      const model = new Model();
      try {
        const data = slots.map((k, i) => bytesOf(sizes[i], k + 1));
        const written = await Promise.all(slots.map((k, i) => fh.write(data[i], 0, data[i].length, k * 8 * KiB)));
        slots.forEach((k, i) => {
          assert.equal(written[i].bytesWritten, data[i].length);
          model.write(data[i], k * 8 * KiB);
        });
        const reads = await Promise.all(slots.map((k, i) => fh.read(Buffer.alloc(sizes[i]), 0, sizes[i], k * 8 * KiB)));
        reads.forEach((r, i) => assert.ok(r.buffer.subarray(0, r.bytesRead).equals(data[i]), `slot ${slots[i]}`));
      } finally {
        await fh.close();
      }
      assert.ok(fs.readFileSync(p).equals(model.bytes), 'the file holds what the model holds');
    }), { numRuns: 100 });
  });
});
