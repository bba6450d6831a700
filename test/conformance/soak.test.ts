// A short soak on every engine: actors run random operations concurrently for a while, with
// aborts, handles closed under them and the engine closed with work in flight, and check what a
// program relies on: every promise settles, each result is right or a node-shaped error that the
// situation allows, an aborted write changed nothing, and the file holds exactly what the
// successful writes put there. The run is seeded (IOENGINE_SOAK_SEED replays one); failures say
// the seed.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { FileHandle } from '../../src/index.js';
import { assertCoded, conformance, rejection } from './engines.js';

const ACTORS = 8;
const REGION = 32 * 1024;  // each actor owns one region of the file, so it can predict its bytes
const SOAK_MS = Number(process.env.IOENGINE_SOAK_MS ?? 600);
const seed = Number(process.env.IOENGINE_SOAK_SEED ?? Date.now() % 2 ** 31);

/** mulberry32: small, fast, seeded. */
function random(s: number): () => number {
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

// Not assertCoded (any code would pass) nor rejection() (an aborted write may also complete).
const isAbort = (err: unknown) => (err as Error).name === 'AbortError' && (err as { code?: string }).code === 'ABORT_ERR';

conformance('soak', test => {
  test(`random operations, aborts and closes under load settle correctly (seed ${seed})`, { timeout: 60_000 }, async ({ engine, file }) => {
    const rnd = random(seed);
    const int = (n: number) => Math.floor(rnd() * n);
    const path = file('soak', new Uint8Array(ACTORS * REGION));
    const shadow = Buffer.alloc(ACTORS * REGION);
    const fh = await engine.open(path, 'r+');
    const deadline = performance.now() + SOAK_MS;
    const counts = { ops: 0, aborted: 0, closedUnder: 0 };
    const where = (actor: number, what: string) => `seed ${seed}, actor ${actor}: ${what}`;

    // Reads back the actor's region and compares it with what its successful writes made.
    const verify = async (actor: number, what: string) => {
      const got = Buffer.alloc(REGION);
      assert.equal((await fh.read(got, 0, REGION, actor * REGION)).bytesRead, REGION, where(actor, what));
      assert.ok(got.equals(shadow.subarray(actor * REGION, (actor + 1) * REGION)), where(actor, `${what}: region differs`));
    };

    const actor = async (a: number) => {
      const base = a * REGION;
      while (performance.now() < deadline) {
        counts.ops++;
        const off = int(REGION - 1);
        const len = 1 + int(Math.min(8192, REGION - off));
        const pos = base + off;
        const op = int(8);
        if (op <= 1) {
          const data = Buffer.alloc(len, 1 + int(255));
          assert.equal((await fh.write(data, 0, len, pos)).bytesWritten, len, where(a, 'write'));
          data.copy(shadow, pos);
        } else if (op === 2) {
          const got = Buffer.alloc(len);
          assert.equal((await fh.read(got, 0, len, pos)).bytesRead, len, where(a, 'read'));
          assert.ok(got.equals(shadow.subarray(pos, pos + len)), where(a, `read ${len} at ${pos}`));
        } else if (op === 3) {
          const parts = [Buffer.alloc(len, 1 + int(255)), Buffer.alloc(Math.min(100, REGION - off - len))];
          const total = parts[0].length + parts[1].length;
          assert.equal((await fh.writev(parts, pos)).bytesWritten, total, where(a, 'writev'));
          Buffer.concat(parts).copy(shadow, pos);
        } else if (op === 4) {
          const parts = [Buffer.alloc(Math.ceil(len / 2)), Buffer.alloc(Math.floor(len / 2))];
          assert.equal((await fh.readv(parts, pos)).bytesRead, len, where(a, 'readv'));
          assert.ok(Buffer.concat(parts).equals(shadow.subarray(pos, pos + len)), where(a, 'readv bytes'));
        } else if (op === 5) {
          // A write aborted at once, after a microtask or never: done, or AbortError and nothing written.
          const ac = new AbortController();
          const data = Buffer.alloc(len, 1 + int(255));
          const when = int(3);
          if (when === 0) ac.abort();
          const pending = fh.write(data, { offset: 0, length: len, position: pos, signal: ac.signal } as never);
          if (when === 1) queueMicrotask(() => ac.abort());
          try {
            assert.equal((await pending).bytesWritten, len, where(a, 'aborted write that completed'));
            data.copy(shadow, pos);
          } catch (err) {
            assert.ok(isAbort(err), where(a, `an aborted write rejected with ${(err as Error).stack}`));
            counts.aborted++;
            await verify(a, 'after an aborted write');
          }
        } else if (op === 6) {
          // A second handle closed while its reads are in flight: they finish, later ones get EBADF.
          const other: FileHandle = await engine.open(path, 'r');
          const got = [Buffer.alloc(len), Buffer.alloc(len)];
          const reads = got.map(b => other.read(b, 0, len, pos));
          const closing = other.close();
          const late = await rejection(() => other.read(Buffer.alloc(1), 0, 1, 0));
          assert.equal(late.code, 'EBADF', where(a, `read after close: ${late.stack}`));
          for (const [i, r] of reads.entries()) {
            assert.equal((await r).bytesRead, len, where(a, 'read in flight at close'));
            assert.ok(got[i].equals(shadow.subarray(pos, pos + len)), where(a, 'bytes of a read in flight at close'));
          }
          await closing;
          counts.closedUnder++;
        } else {
          const st = await fh.stat();
          assert.equal(st.size, ACTORS * REGION, where(a, 'stat size'));
          if (int(4) === 0) await fh.datasync();
        }
      }
      await verify(a, 'at the end');
    };

    await Promise.all(Array.from({ length: ACTORS }, (_, a) => actor(a)));
    assert.ok(counts.ops > ACTORS, `seed ${seed}: only ${counts.ops} operations ran`);

    // Closing the engine with reads in flight: each one completes or is cancelled, none hangs.
    const tail = Promise.allSettled(Array.from({ length: 64 }, (_, i) => fh.read(Buffer.alloc(4096), 0, 4096, (i * 4096) % (ACTORS * REGION))));
    await engine.close();
    for (const r of await tail) {
      if (r.status === 'fulfilled') assert.equal(r.value.bytesRead, 4096);
      else {
        assertCoded(r.reason, `seed ${seed}: a read in flight at engine.close()`);
        assert.ok(['ECANCELED', 'EBADF'].includes((r.reason as { code: string }).code), `seed ${seed}: ${(r.reason as Error).stack}`);
      }
    }
    assert.ok(fs.readFileSync(path).equals(shadow), `seed ${seed}: the file differs from what the successful writes wrote`);
  });
});
