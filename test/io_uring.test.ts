// What only the io_uring engine has: a bounded ring with more operations than it holds, per-op
// cancellation, registered files and buffers, SQPOLL, the probe's reasons (a real seccomp filter),
// and teardown with operations in flight (engine close, worker_thread termination).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it, type TestContext } from 'node:test';
import { createEngine, engines, type EngineOptions } from '../src/index.js';
import { assertBytes, describeChild, pattern, runNode } from './conformance/engines.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const INDEX = path.join(root, 'dist/src/index.js');
const DENY = path.join(root, 'build/Release/deny-io-uring');
const uring = engines().find(e => e.name === 'io_uring')!;
const skip = uring.available ? false : `io_uring unavailable here: ${uring.reason}`;

let dir: string;
let file: string;
const SIZE = 1 << 20;
/** What `file` holds. No test writes it (the one that writes works on a copy). */
const DATA = pattern(SIZE, 31);

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ioengine-uring-'));
  file = path.join(dir, 'data');
  fs.writeFileSync(file, DATA);
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Asserts buf holds the file's bytes from position on. */
function expectBytes(buf: Buffer, position: number) {
  assertBytes(buf, DATA.subarray(position, position + buf.length), `bytes at ${position}`);
}

/** An io_uring engine closed after the test, pass or fail (close() twice is harmless). */
function uringEngine(t: TestContext, options?: EngineOptions) {
  const engine = createEngine('io_uring', options);
  t.after(() => engine.close());
  return engine;
}

/** A FIFO opened O_RDWR (open does not wait for a writer) on an engine closed after the test. */
async function fifoHandle(t: TestContext, name: string) {
  const fifo = path.join(dir, name);
  spawnSync('mkfifo', [fifo]);
  const engine = uringEngine(t);
  return { fifo, engine, fh: await engine.open(fifo, fs.constants.O_RDWR) };
}

describe('io_uring', { skip }, () => {
  it('runs 10x the ring size in flight, every byte right', async t => {
    const engine = uringEngine(t, { entries: 8 });
    const fh = await engine.open(file);
    const reads = Array.from({ length: 160 }, (_, i) => fh.read(Buffer.alloc(4096), 0, 4096, (i % 256) * 4096));
    const results = await Promise.all(reads);
    results.forEach((r, i) => {
      assert.equal(r.bytesRead, 4096);
      expectBytes(r.buffer, (i % 256) * 4096);
    });
    await fh.close();
    await engine.close();
  });

  it('cancels a blocked read on abort: AbortError once the kernel let go', async t => {
    const { engine, fh } = await fifoHandle(t, 'fifo');
    const ac = new AbortController();
    const pending = fh.read(Buffer.alloc(16), { position: -1, signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    await assert.rejects(pending, (err: Error & { code?: string }) => err.name === 'AbortError' && err.code === 'ABORT_ERR');
    await fh.close();
    await engine.close();
  });

  // A full completion ring plus the cancels' own completions overflows it (parked by the kernel,
  // IORING_FEAT_NODROP). The wake-up hands completions to JS a few at a time and once spun forever
  // there, flushing an overflow that a still-full ring could not take. In a child process: a spin
  // never returns to the event loop, so only a timeout from outside can see it.
  it('delivers everything when cancels overflow a full completion ring', async () => {
    const fifo = path.join(dir, 'overflow-fifo');
    spawnSync('mkfifo', [fifo]);
    const code = `
      import fs from 'node:fs';
      import { createEngine } from ${JSON.stringify(INDEX)};
      const engine = createEngine('io_uring', { entries: 4 }); // 8 in flight, a ring of 8 completions
      const fh = await engine.open(${JSON.stringify(fifo)}, fs.constants.O_RDWR);
      const acs = Array.from({ length: 8 }, () => new AbortController());
      const reads = acs.map(ac => fh.read(Buffer.alloc(1), { position: 0, signal: ac.signal }).then(r => r.bytesRead, e => e.code));
      await new Promise(r => setTimeout(r, 50));
      const w = fs.openSync(${JSON.stringify(fifo)}, 'w');
      fs.writeSync(w, Buffer.alloc(8, 1)); // all 8 reads complete: the ring is full
      for (const ac of acs) ac.abort();    // 8 cancels find nothing: 8 more completions
      console.log(JSON.stringify(await Promise.all(reads)));
      fs.closeSync(w);
      await fh.close();
      await engine.close();`;
    const r = await runNode(code, dir, 20_000);
    assert.equal(r.timedOut, false, `killed after 20 s (spinning or hung): ${describeChild(r)}`);
    assert.equal(r.signal, null, describeChild(r));
    assert.equal(r.code, 0, describeChild(r));
    const results = JSON.parse(r.stdout.trim()) as unknown[];
    assert.equal(results.length, 8);
    assert.equal(results.filter(x => x === 1).length, 8, `the reads were done before the aborts: ${JSON.stringify(results)}`);
  });

  // The read is done in the kernel but JS has not seen its completion yet when the abort comes:
  // the cancel finds nothing, and the read must resolve with its data, not reject as aborted.
  it('resolves normally when the operation finished before the abort', async t => {
    const { fifo, fh } = await fifoHandle(t, 'finished-fifo');
    const ac = new AbortController();
    const into = Buffer.alloc(64);
    const pending = fh.read(into, { position: -1, signal: ac.signal });
    await new Promise(resolve => setTimeout(resolve, 20)); // submitted, and waiting for data
    const data = pattern(64, 4);
    const w = fs.openSync(fifo, 'w');
    t.after(() => fs.closeSync(w));
    fs.writeSync(w, data);
    // Block this thread (JS cannot take the completion) while the kernel completes the read.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    ac.abort();
    const r = await pending;
    assert.equal(r.bytesRead, 64);
    assertBytes(r.buffer, data, 'the read completed before the abort');
  });

  it('lends registered buffers for READ_FIXED/WRITE_FIXED, with registered files', async t => {
    const engine = uringEngine(t, { registerFiles: 4, registeredBuffers: { count: 2, size: 8192 } });
    const copy = path.join(dir, 'copy');
    fs.copyFileSync(file, copy);
    const fh = await engine.open(copy, 'r+');
    const a = engine.borrowBuffer();
    const b = engine.borrowBuffer();
    assert.equal(a.length, 8192);
    assert.throws(() => engine.borrowBuffer(), { code: 'ERR_IOENGINE_NO_BUFFER' });
    assert.equal((await fh.read(a, 0, 8192, 4096)).bytesRead, 8192);
    expectBytes(a, 4096);
    b.fill(0xab);
    assert.equal((await fh.write(b, 0, 100, 0)).bytesWritten, 100);
    assert.deepEqual(fs.readFileSync(copy).subarray(0, 101), Buffer.concat([Buffer.alloc(100, 0xab), DATA.subarray(100, 101)]));
    engine.returnBuffer(a);
    assert.throws(() => engine.returnBuffer(a), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => engine.returnBuffer(Buffer.alloc(8192)), { code: 'ERR_INVALID_ARG_VALUE' });
    await fh.close();
    await engine.close();
    // Lent memory outlives the engine: it still holds what it held (not unmapped, reused or
    // cleared by close), and writing it does not crash.
    assertBytes(b, Buffer.alloc(8192, 0xab), 'a lent buffer after engine.close()');
    b.fill(1);
  });

  it('hands a buffered read of 512 KiB or more to a kernel worker: the loop thread does not copy it', async t => {
    // Copied inside io_uring_enter, a large read holds the loop thread for as long as the copy
    // takes, which no turn budget can cut short. A cached 64 MiB read: how long the loop stands
    // still once it is submitted, against a copy of 64 MiB between two Buffers (what copying it
    // on the loop thread costs at least).
    const big = path.join(dir, 'big');
    const data = Buffer.alloc(64 * SIZE, 7);
    fs.writeFileSync(big, data);
    const engine = uringEngine(t);
    const h = await engine.open(big, 'r');
    const buf = Buffer.alloc(data.length);
    await h.read(buf, 0, buf.length, 0); // cached, its pages faulted in
    data.copy(buf);
    let t0 = performance.now();
    data.copy(buf);
    const copyMs = performance.now() - t0;
    buf.fill(0);
    await new Promise(resolve => setImmediate(resolve)); // a fresh turn
    t0 = performance.now();
    const read = h.read(buf, 0, buf.length, 0);
    await Promise.resolve(); // the batch goes to the ring in a microtask
    const stillMs = await new Promise<number>(resolve => setImmediate(() => resolve(performance.now() - t0)));
    assert.equal((await read).bytesRead, buf.length);
    assert.ok(stillMs < copyMs / 2, `the loop stood still ${stillMs.toFixed(2)} ms after the read was submitted; a 64 MiB copy takes ${copyMs.toFixed(2)} ms`);
    assert.ok(buf.equals(data), 'bytes read');
    await h.close();
  });

  it('works with SQPOLL when asked', async t => {
    const engine = uringEngine(t, { sqpoll: { idle: 50 } });
    const fh = await engine.open(file);
    const results = await Promise.all(Array.from({ length: 64 }, (_, i) => fh.read(Buffer.alloc(512), 0, 512, i * 512)));
    results.forEach((r, i) => expectBytes(r.buffer, i * 512));
    await engine.close();
  });

  it('refuses bad options before setting anything up', () => {
    assert.throws(() => createEngine('io_uring', { entries: 0 }), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => createEngine('io_uring', { registeredBuffers: { count: 1, size: -1 } }), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => createEngine('io_uring', { ringSize: 8 } as never), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => createEngine('io_uring', { sqpoll: 'yes' } as never), { code: 'ERR_INVALID_ARG_TYPE' });
  });

  it('closes with 1000 operations in flight: each settles, nothing written after', async t => {
    const engine = uringEngine(t, { entries: 16 });
    const fh = await engine.open(file);
    const ops = Array.from({ length: 1000 }, (_, i) => fh.read(Buffer.alloc(4096), 0, 4096, (i % 256) * 4096));
    const closing = engine.close();
    const settled = await Promise.allSettled(ops);
    await closing;
    for (const s of settled) {
      if (s.status === 'fulfilled') assert.equal(s.value.bytesRead, 4096);
      else assert.match((s.reason as { code: string }).code, /^(ECANCELED|ERR_IOENGINE_CLOSED)$/);
    }
    await assert.rejects(engine.open(file), { code: 'ERR_IOENGINE_CLOSED' });
  });

  it('survives a worker_thread terminated with reads in flight', async t => {
    const { Worker } = await import('node:worker_threads');
    const code = `
      const { createEngine } = await import(${JSON.stringify(INDEX)});
      const { parentPort } = await import('node:worker_threads');
      const e = createEngine('io_uring');
      const fh = await e.open(${JSON.stringify(file)});
      const loop = async () => { for (;;) await fh.read(Buffer.alloc(65536), 0, 65536, 0); };
      for (let i = 0; i < 32; i++) loop();
      parentPort.postMessage('running');`;
    for (let round = 0; round < 3; round++) {
      const worker = new Worker(code, { eval: true });
      await new Promise((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject); });
      await worker.terminate();
    }
    // The process is still healthy: the engine here still works.
    const engine = uringEngine(t);
    const fh = await engine.open(file);
    expectBytes((await fh.read(Buffer.alloc(100), 0, 100, 7)).buffer, 7);
    await engine.close();
  });

  it('works in several worker_threads at once, one engine each', async () => {
    const { Worker } = await import('node:worker_threads');
    const code = `
      const { createEngine } = await import(${JSON.stringify(INDEX)});
      const { parentPort, workerData } = await import('node:worker_threads');
      const e = createEngine('io_uring');
      const fh = await e.open(${JSON.stringify(file)});
      let sum = 0;
      for (let i = 0; i < 200; i++) { const { buffer } = await fh.read(Buffer.alloc(1), 0, 1, workerData + i); sum += buffer[0]; }
      await e.close();
      parentPort.postMessage(sum);`;
    const sums = await Promise.all([0, 1000, 2000].map(start => new Promise<number>((resolve, reject) => {
      const w = new Worker(code, { eval: true, workerData: start });
      w.once('message', resolve);
      w.once('error', reject);
    })));
    const expected = (start: number) => DATA.subarray(start, start + 200).reduce((a, b) => a + b, 0);
    assert.deepEqual(sums, [expected(0), expected(1000), expected(2000)]);
  });
});

describe('io_uring refused by seccomp (as in Docker)', () => {
  it('reports EPERM with a reason, and auto falls back', { skip: fs.existsSync(DENY) ? false : `no ${DENY} (built by node-gyp on Linux)` }, t => {
    // A module file, not -e: runNode cannot run node under the seccomp wrapper, and -e's
    // --input-type would be inherited by any worker_thread (see runNode in conformance/engines.ts).
    const script = path.join(dir, 'seccomp-child.mjs');
    fs.writeFileSync(script, `
      const { engines, createEngine } = await import(${JSON.stringify(INDEX)});
      const info = engines().find(e => e.name === 'io_uring');
      const auto = createEngine('auto');
      console.log(JSON.stringify({ info, auto: auto.name }));
      await auto.close();`);
    const r = spawnSync(DENY, [process.execPath, script], { encoding: 'utf8' });
    if (r.status !== 0 && /seccomp/.test(r.stderr)) return t.skip(`cannot install a seccomp filter here: ${r.stderr.trim()}`);
    assert.equal(r.status, 0, r.stderr);
    const { info, auto } = JSON.parse(r.stdout);
    assert.equal(info.available, false);
    assert.match(info.reason, /not permitted.*seccomp/);
    assert.equal(auto, 'libuv');
  });
});
