// What only the io_uring engine has: a bounded ring with more operations than it holds, per-op
// cancellation, registered files and buffers, SQPOLL, the probe's reasons (a real seccomp filter),
// and teardown with operations in flight (engine close, worker_thread termination).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { createEngine, engines } from '../src/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const INDEX = path.join(root, 'dist/src/index.js');
const DENY = path.join(root, 'build/Release/deny-io-uring');
const uring = engines().find(e => e.name === 'io_uring')!;
const skip = uring.available ? false : `io_uring unavailable here: ${uring.reason}`;

let dir: string;
let file: string;
const SIZE = 1 << 20;
const pattern = (i: number) => (i * 31 + 7) & 0xff;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ioengine-uring-'));
  file = path.join(dir, 'data');
  fs.writeFileSync(file, Buffer.from(Array.from({ length: SIZE }, (_, i) => pattern(i))));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function expectBytes(buf: Buffer, position: number) {
  for (let i = 0; i < buf.length; i++) if (buf[i] !== pattern(position + i)) assert.fail(`byte ${position + i} is ${buf[i]}`);
}

describe('io_uring', { skip }, () => {
  it('runs 10x the ring size in flight, every byte right', async () => {
    const engine = createEngine('io_uring', { entries: 8 });
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

  it('cancels a blocked read on abort: AbortError once the kernel let go', async () => {
    const fifo = path.join(dir, 'fifo');
    spawnSync('mkfifo', [fifo]);
    const engine = createEngine('io_uring');
    const fh = await engine.open(fifo, fs.constants.O_RDWR); // O_RDWR: open does not wait for a writer
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
  it('delivers everything when cancels overflow a full completion ring', () => {
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
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.signal, null, `killed after 20 s (spinning or hung): ${r.stderr}`);
    assert.equal(r.status, 0, r.stderr);
    const results = JSON.parse(r.stdout.trim()) as unknown[];
    assert.equal(results.length, 8);
    for (const x of results) assert.ok(x === 1 || x === 'ABORT_ERR', `a read settled with ${x}`);
    assert.equal(results.filter(x => x === 1).length, 8, 'the reads were done before the aborts');
  });

  it('resolves normally when the operation finished before the abort', async () => {
    const engine = createEngine('io_uring');
    const fh = await engine.open(file);
    const ac = new AbortController();
    const r = await fh.read(Buffer.alloc(64), { position: 0, signal: ac.signal });
    ac.abort();
    assert.equal(r.bytesRead, 64);
    expectBytes(r.buffer, 0);
    await engine.close();
  });

  it('lends registered buffers for READ_FIXED/WRITE_FIXED, with registered files', async () => {
    const engine = createEngine('io_uring', { registerFiles: 4, registeredBuffers: { count: 2, size: 8192 } });
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
    assert.deepEqual(fs.readFileSync(copy).subarray(0, 101), Buffer.concat([Buffer.alloc(100, 0xab), Buffer.from([pattern(100)])]));
    engine.returnBuffer(a);
    assert.throws(() => engine.returnBuffer(a), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => engine.returnBuffer(Buffer.alloc(8192)), { code: 'ERR_INVALID_ARG_VALUE' });
    await fh.close();
    await engine.close();
    // Lent memory outlives the engine: still readable and writable, no crash.
    b.fill(1);
    assert.equal(b[8191], 1);
  });

  it('works with SQPOLL when asked', async () => {
    const engine = createEngine('io_uring', { sqpoll: { idle: 50 } });
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

  it('closes with 1000 operations in flight: each settles, nothing written after', async () => {
    const engine = createEngine('io_uring', { entries: 16 });
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

  it('survives a worker_thread terminated with reads in flight', async () => {
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
      const worker = new Worker(code, { eval: true, type: 'module' } as never);
      await new Promise((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject); });
      await worker.terminate();
    }
    // The process is still healthy: the engine here still works.
    const engine = createEngine('io_uring');
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
      const w = new Worker(code, { eval: true, workerData: start, type: 'module' } as never);
      w.once('message', resolve);
      w.once('error', reject);
    })));
    const expected = (start: number) => Array.from({ length: 200 }, (_, i) => pattern(start + i)).reduce((a, b) => a + b, 0);
    assert.deepEqual(sums, [expected(0), expected(1000), expected(2000)]);
  });
});

describe('io_uring refused by seccomp (as in Docker)', () => {
  it('reports EPERM with a reason, and auto falls back', { skip: fs.existsSync(DENY) ? false : `no ${DENY} (built by node-gyp on Linux)` }, t => {
    const script = `
      const { engines, createEngine } = await import(${JSON.stringify(INDEX)});
      const info = engines().find(e => e.name === 'io_uring');
      const auto = createEngine('auto');
      console.log(JSON.stringify({ info, auto: auto.name }));
      await auto.close();`;
    const r = spawnSync(DENY, [process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8' });
    if (r.status !== 0 && /seccomp/.test(r.stderr)) return t.skip(`cannot install a seccomp filter here: ${r.stderr.trim()}`);
    assert.equal(r.status, 0, r.stderr);
    const { info, auto } = JSON.parse(r.stdout);
    assert.equal(info.available, false);
    assert.match(info.reason, /not permitted.*seccomp/);
    assert.notEqual(auto, 'io_uring');
    assert.equal(auto, 'libuv');
  });
});
