// Many operations in flight at once: on one handle, on many handles, on two engines; more than
// an engine's threads and queue hold. Every byte is verified.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fsOn } from '../../src/fs/index.js';
import type { Engine, FileHandle } from '../../src/index.js';
import { descriptor } from '../../src/engines/registry.js';
import { assertBytes, assertCoded, conformance, pattern, sentinel } from './engines.js';

const BLOCK = 4096;

/** Block i of a file: where it is, how long, what it holds (every block different). */
function block(i: number, salt = 0) {
  const length = 1 + ((i * 977 + salt) % BLOCK);
  return { position: i * BLOCK, length, data: pattern(length, 1000 + i + salt * 7919) };
}

/** What the file looks like once blocks [0, n) are written over zeros. */
function image(n: number, salt = 0): Buffer {
  const out = Buffer.alloc(n * BLOCK);
  for (let i = 0; i < n; i++) {
    const b = block(i, salt);
    b.data.copy(out, b.position);
  }
  return out.subarray(0, (n - 1) * BLOCK + block(n - 1, salt).length);
}

/** Block i written with one of the argument forms, chosen by i. */
function writeBlock(fh: FileHandle, i: number, salt = 0): Promise<number> {
  const { position, length, data } = block(i, salt);
  switch (i % 4) {
    case 0: return fh.write(data, 0, length, position).then(r => r.bytesWritten);
    case 1: return fh.write(data, { position }).then(r => r.bytesWritten);
    case 2: {
      const cut = length >> 1;
      return fh.writev([data.subarray(0, cut), data.subarray(cut)], position).then(r => r.bytesWritten);
    }
    default: {
      // from the middle of a bigger buffer: offset and length matter
      const big = Buffer.alloc(length + 20, 0x55);
      data.copy(big, 10);
      return fh.write(big, 10, length, position).then(r => r.bytesWritten);
    }
  }
}

/** Block i read back with one of the argument forms; resolves to the bytes read. */
async function readBlock(fh: FileHandle, i: number): Promise<Buffer> {
  const { position, length } = block(i);
  switch (i % 3) {
    case 0: {
      const r = await fh.read(sentinel(length), 0, length, position);
      return r.buffer.subarray(0, r.bytesRead);
    }
    case 1: {
      const into = sentinel(length + 8);
      const r = await fh.read({ buffer: into, offset: 8, length, position });
      assertBytes(into.subarray(0, 8), sentinel(8), `bytes before offset, block ${i}`);
      return into.subarray(8, 8 + r.bytesRead);
    }
    default: {
      const parts = [sentinel(1), sentinel(Math.max(0, length - 1))];
      const r = await fh.readv(parts, position);
      return Buffer.concat(parts).subarray(0, r.bytesRead);
    }
  }
}

function shuffled(n: number, seed: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  let x = seed;
  for (let i = n - 1; i > 0; i--) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const j = x % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

async function roundTrip(engine: Engine, p: string, n: number): Promise<void> {
  const fh = await engine.open(p, 'w+');
  const order = shuffled(n, 42);
  const written = await Promise.all(order.map(i => writeBlock(fh, i)));
  order.forEach((i, k) => assert.equal(written[k], block(i).length, `bytes written by block ${i}`));
  assertBytes(fs.readFileSync(p), image(n), `file after ${n} concurrent writes`);
  const read = await Promise.all(order.map(i => readBlock(fh, i)));
  order.forEach((i, k) => assertBytes(read[k], block(i).data, `block ${i} read back`));
  await fh.close();
}

conformance('concurrency', (test, kase) => {
  // Reads 32 deep (completed inline by the kernel queues), one at a time (auto reads them at once)
  // and buffered writes (auto writes them inline): each a turn's work that must end. A turn's
  // inline work is bounded by time (0.5 ms), which no machine fills with 4,096 4 KiB operations,
  // nor, where the loop thread copies them (the kernel queues, auto on one), with 64 reads of
  // 256 KiB (16 MiB copied). Elsewhere another thread copies, and a turn only takes completions.
  for (const [what, lanes, count, write, size, most] of [
    ['cached reads', 32, 20000, false, 4096, 4096], ['cached reads one at a time', 1, 20000, false, 4096, 4096],
    ['buffered writes', 32, 8000, true, 4096, 4096], ['cached 256 KiB reads one at a time', 1, 1000, false, 256 * 1024, 64],
  ] as const) {
    // (null too: its operations complete at once, as a cached read does inline.)
    test(`the event loop runs while ${what} complete at full speed: never ${most.toLocaleString('en')} in one turn`, { io: false }, async ({ t, engine, file }) => {
      if (descriptor(engine.name)?.blocksLoop) return t.skip(`the ${engine.name} engine blocks the loop by design`);
      // (linux-aio's io_submit reads a buffered file itself, as the ring does inline.)
      const copiesInline = descriptor(engine.name)?.kernelQueue === true || engine.name === 'linux-aio';
      const bound = size > 4096 && !copiesInline ? 4096 : most;
      const p = file('loop');
      fs.writeFileSync(p, pattern(1 << 20, 5)); // cached: reads complete inline on kernel engines
      const fh = await engine.open(p, write ? 'r+' : 'r');
      // Operations settled between two turns of the loop (a setImmediate chain marks each turn).
      let sinceTurn = 0, longest = 0, running = true;
      const turn = () => {
        longest = Math.max(longest, sinceTurn);
        sinceTurn = 0;
        if (running) setImmediate(turn);
      };
      setImmediate(turn);
      await Promise.all(Array.from({ length: lanes }, async (_, lane) => {
        const buf = Buffer.alloc(size, lane);
        const blocks = (1 << 20) / size;
        for (let i = lane; i < count; i += lanes) {
          await (write ? fh.write(buf, 0, size, (i % blocks) * size) : fh.read(buf, 0, size, (i % blocks) * size));
          sinceTurn++;
        }
      }));
      running = false;
      longest = Math.max(longest, sinceTurn);
      await fh.close();
      // Before: 8,192 reads per turn on io_uring, and linux-aio delivered for as long as JS read on;
      // 256 KiB reads counted as one operation each until the 64th, past the budget many times over.
      assert.ok(longest < bound, `${longest} settled in one turn of the event loop`);
    });
  }

  test('2000 concurrent writes, then 2000 concurrent reads, on one handle: every byte verified', async ({ engine, file }) => {
    await roundTrip(engine, file('2000'), 2000);
  });

  test('2000 mixed operations in flight at once on one handle: every byte verified', async ({ engine, file }) => {
    const p = file('mixed', image(1000));
    const fh = await engine.open(p, 'r+');
    const ops: Promise<unknown>[] = [];
    const reads: [number, Promise<Buffer>][] = [];
    const writes: [number, Promise<number>][] = [];
    for (const i of shuffled(1000, 7)) {
      // reads of the first 1000 blocks race writes of the next 750, 200 stats and 50 syncs
      reads.push([i, readBlock(fh, i)]);
      if (i < 750) {
        const write = writeBlock(fh, 1000 + i, 1);
        writes.push([1000 + i, write]);
        ops.push(write);
      }
      if (i % 5 === 0) ops.push(fh.stat().then(st => assert.ok(st.size >= 1000 * BLOCK - BLOCK, `size ${st.size} while writing`)));
      if (i % 20 === 0) ops.push(i % 40 ? fh.datasync() : fh.sync());
    }
    await Promise.all(ops);
    for (const [i, w] of writes) assert.equal(await w, block(i, 1).length, `bytes written by block ${i}`);
    for (const [i, r] of reads) assertBytes(await r, block(i).data, `block ${i}`);
    const content = fs.readFileSync(p);
    assertBytes(content.subarray(0, image(1000).length), image(1000), 'the blocks that were only read');
    for (let i = 0; i < 750; i++) {
      const b = block(1000 + i, 1);
      assertBytes(content.subarray(b.position, b.position + b.length), b.data, `block ${1000 + i} written`);
    }
    await fh.close();
  });

  test('more operations than the engine\'s threads and queue hold are queued, not dropped', { engineOptions: { threads: 2, queueDepth: 2 } }, async ({ engine, file }) => {
    await roundTrip(engine, file('small-engine'), 600);
  });

  test('64 files open at once, 30 operations each in flight together', async ({ engine, dir }) => {
    const names = Array.from({ length: 64 }, (_, i) => `${dir}/f${i}`);
    const handles = await Promise.all(names.map(n => engine.open(n, 'w+')));
    assert.equal(new Set(handles.map(h => h.fd)).size, 64, 'every handle has its own descriptor');
    await Promise.all(handles.flatMap((fh, f) => Array.from({ length: 30 }, (_, i) => writeBlock(fh, i, f))));
    for (const [f, n] of names.entries()) assertBytes(fs.readFileSync(n), image(30, f), `file ${f}`);
    await Promise.all(handles.map(h => h.close()));
  });

  test('readFiles waiting for their FIFOs\' writers hold up nothing else: 300 stats and reads complete meanwhile', async ({ t, engine, dir }) => {
    if (kase.name === 'sync') return t.skip('sync opens on the loop thread: a FIFO\'s open waits there, with everything else');
    if (kase.name === 'workers') return t.skip('workers opens every file on one worker (node closes what a worker opened when it exits): an open that waits holds up every open after it');
    // Two threads blocked in open() (every engine here has four or more): the others go on.
    const fifos = ['fifo1', 'fifo2'].map(name => path.join(dir, name));
    for (const fifo of fifos) execFileSync('mkfifo', [fifo]);
    const f = fsOn(engine);
    const waiting = fifos.map(fifo => f.readFile(fifo, 'utf8'));
    const content = pattern(4096, 7);
    fs.writeFileSync(path.join(dir, 'small'), content);
    const done = await Promise.all(Array.from({ length: 300 }, (_, i) =>
      i % 2 ? f.stat(dir).then(st => st.isDirectory()) : f.readFile(path.join(dir, 'small')).then(b => content.equals(b as Buffer))));
    assert.ok(done.every(Boolean), 'every stat and read gave the right answer');
    const writers = fifos.map((fifo, i) => spawn('sh', ['-c', `printf 'writer ${i}' > '${fifo}'`]));
    try {
      assert.deepEqual(await Promise.all(waiting), ['writer 0', 'writer 1']);
    } finally {
      for (const w of writers) w.kill();
    }
  });

  test('two engines of one kind are independent: closing one leaves the other\'s operations alone', async ({ engine, newEngine, file }) => {
    const other = newEngine();
    const a = await engine.open(file('a', image(300)), 'r');
    const b = await other.open(file('b'), 'w+');
    const reads = Array.from({ length: 300 }, (_, i) => readBlock(a, i));
    const writes = Array.from({ length: 300 }, (_, i) => writeBlock(b, i));
    const settled = Promise.allSettled(reads);
    await engine.close();
    // everything engine `a` had in flight settled; engine `b` carries on
    for (const [i, r] of (await settled).entries()) {
      if (r.status === 'rejected') assertCoded(r.reason, `engine 1, read ${i}`);
      else assertBytes(r.value, block(i).data, `engine 1, block ${i}`);
    }
    await Promise.all(writes);
    const more = await Promise.all(Array.from({ length: 300 }, (_, i) => readBlock(b, i)));
    more.forEach((got, i) => assertBytes(got, block(i).data, `engine 2, block ${i}`));
    assertBytes(fs.readFileSync(file('b')), image(300));
    await b.close();
  });
});
