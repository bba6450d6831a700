// The batch form, readMany and writeMany, on every engine: every byte of a large batch verified,
// a result per request (bytes or error), arguments refused before any I/O, abort, and close()
// of the handle or the engine with a batch in flight.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { assertBytes, assertCoded, conformance, outcome, pattern, sentinel } from './engines.js';

const BLOCK = 4096;
const blockData = (i: number) => pattern(BLOCK, 7000 + i);

conformance('batch form (readMany, writeMany)', test => {
  test('1,000 writes in one batch, then 1,000 reads in one: a result per request, every byte verified', async ({ engine, file }) => {
    const p = file('many');
    const fh = await engine.open(p, 'w+');
    const order = Array.from({ length: 1000 }, (_, i) => (i * 379) % 1000); // shuffled positions
    const written = await fh.writeMany(order.map(i => ({ buffer: blockData(i), position: i * BLOCK })));
    assert.deepEqual(written, order.map(() => BLOCK));
    const expected = Buffer.concat(Array.from({ length: 1000 }, (_, i) => blockData(i)));
    assertBytes(fs.readFileSync(p), expected, 'the file after writeMany');
    const into = order.map(() => sentinel(BLOCK + 16));
    const read = await fh.readMany(order.map((i, k) => ({ buffer: into[k], offset: 16, length: BLOCK, position: i * BLOCK })));
    assert.deepEqual(read, order.map(() => BLOCK));
    order.forEach((i, k) => {
      assertBytes(into[k].subarray(16), blockData(i), `block ${i} read back`);
      assertBytes(into[k].subarray(0, 16), sentinel(16), `bytes before offset, block ${i}`);
    });
    // Past the end: 0 bytes, a short count at the end, beside full reads.
    const tail = await fh.readMany([{ buffer: sentinel(BLOCK), position: 1000 * BLOCK }, { buffer: sentinel(BLOCK), position: 999 * BLOCK + 100 }, { buffer: sentinel(10), position: 0 }]);
    assert.deepEqual(tail, [0, BLOCK - 100, 10]);
    assert.deepEqual(await fh.readMany([]), [], 'an empty batch');
    await fh.close();
  });

  test('errors come per request, with node\'s code and syscall', async ({ engine, file }) => {
    const p = file('ro');
    fs.writeFileSync(p, pattern(2 * BLOCK, 3));
    const fh = await engine.open(p, 'r');
    const results = await fh.writeMany([{ buffer: pattern(BLOCK, 1), position: 0 }, { buffer: pattern(10, 2), position: BLOCK }]);
    assert.equal(results.length, 2);
    for (const r of results) {
      assert.ok(r instanceof Error, `a write to a read-only file gives an error, not ${String(r)}`);
      assertCoded(r, 'writeMany on a read-only file');
      assert.equal((r as NodeJS.ErrnoException).code, 'EBADF');
      assert.equal((r as NodeJS.ErrnoException).syscall, 'write');
    }
    assertBytes(fs.readFileSync(p), pattern(2 * BLOCK, 3), 'the read-only file is unchanged');
    await fh.close();
    const closed = await outcome(fh.readMany([{ buffer: sentinel(1), position: 0 }]));
    assert.ok('error' in closed && closed.error.code === 'EBADF', 'a closed handle refuses a batch');
  });

  test('arguments are checked before any request runs: nothing is written', async ({ engine, file }) => {
    const p = file('args');
    fs.writeFileSync(p, pattern(BLOCK, 9));
    const fh = await engine.open(p, 'r+');
    const ok = { buffer: pattern(BLOCK, 1), position: 0 };
    const refusals: [unknown, string][] = [
      ['not an array', 'ERR_INVALID_ARG_TYPE'],
      [[ok, null], 'ERR_INVALID_ARG_TYPE'],
      [[ok, { buffer: 'text', position: 0 }], 'ERR_INVALID_ARG_TYPE'],
      [[ok, { buffer: Buffer.alloc(4) }], 'ERR_INVALID_ARG_VALUE'], // no position: a batch has no order
      [[ok, { buffer: Buffer.alloc(4), position: -1 }], 'ERR_INVALID_ARG_VALUE'],
      [[ok, { buffer: Buffer.alloc(4), offset: 5, position: 0 }], 'ERR_OUT_OF_RANGE'],
      [[ok, Object.assign([], { buffer: Buffer.alloc(4), position: 0 })], 'ERR_INVALID_ARG_TYPE'], // an array is no request
      [[ok, { buffer: Buffer.alloc(4), length: 1.5, position: 0 }], 'ERR_OUT_OF_RANGE'],
    ];
    for (const [requests, code] of refusals) {
      const got = await outcome(fh.writeMany(requests as never));
      assert.ok('error' in got, `${JSON.stringify(requests)?.slice(0, 60)} is refused`);
      assert.equal(got.error.code, code);
    }
    assert.equal((await outcome(fh.readMany([ok], { signal: 'no' } as never)) as { error: { code: string } }).error.code, 'ERR_INVALID_ARG_TYPE');
    assertBytes(fs.readFileSync(p), pattern(BLOCK, 9), 'nothing was written');
    await fh.close();
  });

  test('abort: an aborted signal runs nothing; an abort in flight rejects once the engine let go', async ({ engine, file }) => {
    const p = file('abort');
    fs.writeFileSync(p, pattern(BLOCK, 4));
    const fh = await engine.open(p, 'r+');
    const before = await outcome(fh.writeMany([{ buffer: pattern(BLOCK, 5), position: 0 }], { signal: AbortSignal.abort() }));
    assert.ok('error' in before && before.error.name === 'AbortError', 'an aborted signal rejects with AbortError');
    assertBytes(fs.readFileSync(p), pattern(BLOCK, 4), 'nothing was written');
    await fh.close();
    // In flight: what the engine has not done yet is taken back; the promise settles only once
    // the engine let go of every buffer, with AbortError, or with the results if all were done.
    const fh2 = await engine.open(p, 'r');
    const ac = new AbortController();
    const buffers = Array.from({ length: 2000 }, () => sentinel(BLOCK));
    const reading = outcome(fh2.readMany(buffers.map((buffer, i) => ({ buffer, position: 0 })), { signal: ac.signal }));
    ac.abort();
    const got = await reading;
    if ('error' in got) assert.equal(got.error.name, 'AbortError');
    else assert.deepEqual(got.value, buffers.map(() => BLOCK), 'all done before any could be taken back');
    await fh2.close();
  });

  test('close() with a batch in flight waits for it; every request completes', async ({ engine, file }) => {
    const p = file('closing');
    fs.writeFileSync(p, pattern(512 * BLOCK, 6));
    const fh = await engine.open(p, 'r');
    const buffers = Array.from({ length: 512 }, () => sentinel(BLOCK));
    const reading = fh.readMany(buffers.map((buffer, i) => ({ buffer, position: i * BLOCK })));
    const closing = fh.close();
    const results = await reading;
    await closing;
    assert.deepEqual(results, buffers.map(() => BLOCK));
    assertBytes(Buffer.concat(buffers), pattern(512 * BLOCK, 6), 'every block read before the close');
    const other = await engine.open(p, 'r');
    const more = other.readMany(buffers.map((buffer, i) => ({ buffer, position: i * BLOCK })));
    await engine.close(); // the engine's close cancels what it can, and waits for the rest
    for (const r of await more) {
      if (typeof r === 'number') assert.equal(r, BLOCK);
      else assert.equal((r as NodeJS.ErrnoException).code, 'ECANCELED', `a request of a batch the engine's close met: ${String(r)}`);
    }
  });
});
