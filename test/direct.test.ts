// Direct I/O (O_DIRECT) on every engine that does I/O: aligned reads and writes reach the device and
// read back; misaligned ones are refused with EINVAL before the kernel, naming the alignment.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it, type TestContext } from 'node:test';
import { allocAligned, createEngine, engines } from '../src/index.js';
import { assertBytes, describeChild, INDEX_URL, pattern, runNode } from './conformance/engines.js';

// Every engine that does I/O: the workers engine reads through a shared block it aligns, libuv is node's own.
const NATIVE = ['sync', 'thread', 'pool', 'workers', 'libuv', 'linux-aio', 'posix-aio', 'io_uring'];
// Not os.tmpdir(): that may be tmpfs, which refuses O_DIRECT. The project's folder is on a disk.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
let dir: string;
let directReason: string | false = false;
const SIZE = 1 << 20;

before(() => {
  dir = fs.mkdtempSync(path.join(root, '.direct-test-'));
  const probe = path.join(dir, 'probe');
  fs.writeFileSync(probe, Buffer.alloc(4096));
  try {
    fs.closeSync(fs.openSync(probe, fs.constants.O_DIRECT | fs.constants.O_RDONLY));
  } catch (err) {
    directReason = `this filesystem refuses O_DIRECT (${(err as Error).message})`;
  }
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/**
 * What one test needs, its own: a file holding pattern(SIZE, seed) (so a failed test leaves
 * nothing behind that another test reads), and an engine closed after the test, pass or fail.
 */
function setup(t: TestContext, name: string, seed: number) {
  const file = path.join(dir, `${name}-${seed}`);
  const data = pattern(SIZE, seed);
  fs.writeFileSync(file, data);
  const engine = createEngine(name);
  t.after(async () => {
    try {
      await engine.close();
    } finally {
      fs.rmSync(file, { force: true });
    }
  });
  return { engine, file, data };
}

describe('allocAligned', () => {
  it('returns zeroed buffers aligned as asked, and refuses bad arguments', () => {
    for (const alignment of [512, 4096, 65536]) {
      const b = allocAligned(10000, alignment);
      assert.equal(b.length, 10000);
      assert.ok(b.every(x => x === 0));
    }
    assert.equal(allocAligned(0).length, 0);
    assert.throws(() => allocAligned(-1), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => allocAligned(10, 3000), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => allocAligned('10' as never), { code: 'ERR_INVALID_ARG_TYPE' });
  });
});

for (const name of NATIVE) {
  const info = engines().find(e => e.name === name)!;
  describe(`direct I/O [${name}]`, { skip: info.available ? false : info.reason }, () => {
    it('reads and writes aligned blocks through O_DIRECT, bytes verified', async t => {
      if (directReason) return t.skip(directReason);
      const { engine, file, data } = setup(t, name, 1);
      const fh = await engine.open(file, fs.constants.O_DIRECT | fs.constants.O_RDWR);
      const block = allocAligned(8192);
      assert.equal((await fh.read(block, 0, 8192, 4096)).bytesRead, 8192);
      assertBytes(block, data.subarray(4096, 4096 + 8192), 'read at 4096');
      block.fill(0x5a);
      assert.equal((await fh.write(block, 0, 4096, 65536)).bytesWritten, 4096);
      const [a, b] = [allocAligned(4096), allocAligned(4096)];
      assert.equal((await fh.readv([a, b], 65536)).bytesRead, 8192);
      assertBytes(a, Buffer.alloc(4096, 0x5a), 'readv, the block written');
      assertBytes(b, data.subarray(65536 + 4096, 65536 + 8192), 'readv, the block after it');
      await fh.close();
      await engine.close();
      const expected = Buffer.from(data);
      expected.fill(0x5a, 65536, 65536 + 4096);
      assertBytes(fs.readFileSync(file), expected, 'the file after the write');
    });

    // A direct read completes after it was issued: io_uring then left the file position where the
    // read began, and the next read at the current position returned the same block again.
    it('reads and writes at the current position move it past what they moved', async t => {
      if (directReason) return t.skip(directReason);
      const { engine, file, data } = setup(t, name, 3);
      const fh = await engine.open(file, fs.constants.O_DIRECT | fs.constants.O_RDWR);
      for (let i = 0; i < 3; i++) {
        const b = allocAligned(4096);
        assert.equal((await fh.read(b, 0, 4096, null)).bytesRead, 4096);
        assertBytes(b, data.subarray(i * 4096, (i + 1) * 4096), `read ${i} at the current position`);
      }
      const [a, b] = [allocAligned(4096), allocAligned(4096)];
      assert.equal((await fh.readv([a, b])).bytesRead, 8192);
      assertBytes(Buffer.concat([a, b]), data.subarray(3 * 4096, 5 * 4096), 'readv at the current position');
      const w = allocAligned(4096).fill(0x33);
      assert.equal((await fh.write(w, 0, 4096, null)).bytesWritten, 4096);
      assert.equal((await fh.write(w, 0, 4096, null)).bytesWritten, 4096);
      await fh.close();
      const expected = Buffer.from(data);
      expected.fill(0x33, 5 * 4096, 7 * 4096);
      assertBytes(fs.readFileSync(file), expected, 'the file after writes at the current position');
    });

    // Device completions come back in bursts and are handed to JS a few at a time (the ramp in
    // native/engine.h); whatever is left must still arrive, whether or not JS starts more work.
    it('settles every one of many device reads, with or without new work started from completions', { timeout: 30_000 }, async t => {
      if (directReason) return t.skip(directReason);
      const { engine, file, data } = setup(t, name, 2);
      const fh = await engine.open(file, fs.constants.O_DIRECT | fs.constants.O_RDONLY);
      const blocks = SIZE / 4096;
      const check = (b: Buffer, block: number) => assertBytes(b, data.subarray(block * 4096, (block + 1) * 4096), `block ${block}`);
      // All at once, nothing started from the completions.
      const burst = Array.from({ length: blocks }, async (_, block) => {
        const b = allocAligned(4096);
        assert.equal((await fh.read(b, 0, 4096, block * 4096)).bytesRead, 4096);
        check(b, block);
      });
      await Promise.all(burst);
      // Chains: each completion starts the next read, as a benchmark or a server does.
      let done = 0;
      await Promise.all(Array.from({ length: 32 }, async (_, chain) => {
        const b = allocAligned(4096);
        for (let i = 0; i < 16; i++) {
          const block = (chain * 16 + i) % blocks;
          assert.equal((await fh.read(b, 0, 4096, block * 4096)).bytesRead, 4096);
          check(b, block);
          done++;
        }
      }));
      assert.equal(done, 32 * 16);
      await fh.close();
      await engine.close();
    });

    it('refuses misaligned address, position and length with EINVAL before the kernel, file unchanged', async t => {
      if (directReason) return t.skip(directReason);
      const { engine, file, data } = setup(t, name, 3);
      const fh = await engine.open(file, fs.constants.O_DIRECT | fs.constants.O_RDWR);
      const aligned = allocAligned(8192);
      const cases: [string, Promise<unknown>][] = [
        ['the buffer address', fh.write(aligned.subarray(1), 0, 4096, 0)],
        ['the file position', fh.write(aligned, 0, 4096, 100)],
        ['the length', fh.write(aligned, 0, 1000, 0)],
        ['the buffer address', fh.read(aligned, 1, 4096, 0)],
        ['the length (4196)', fh.writev([aligned.subarray(0, 4096), allocAligned(100)], 0)],
        ["a buffer's length", fh.writev([allocAligned(100), allocAligned(8092)], 0)],
      ];
      for (const [what, op] of cases) {
        await assert.rejects(op, (err: Error & { code: string; errno: number; syscall: string }) => {
          assert.equal(err.code, 'EINVAL');
          assert.equal(err.errno, -22);
          assert.match(err.syscall, /^(read|write)$/);
          assert.match(err.message, /O_DIRECT needs the buffer address aligned to \d+ bytes/);
          assert.ok(err.message.includes(`${what}`), err.message);
          assert.match(err.message, /allocAligned\(\)/);
          return true;
        });
      }
      await engine.close();
      assertBytes(fs.readFileSync(file), data, 'the file after the refused writes');
    });

    // Node frees the memory behind external Buffers in a worker's environment cleanup, before an
    // engine's own cleanup has waited for the kernel: allocAligned memory once lived there, and
    // the device wrote into freed memory ("corrupted double-linked list", 7 runs in 7 on io_uring).
    it('a worker_thread terminated with direct reads into allocAligned buffers in flight, 20 times: no crash', { timeout: 90_000 }, async t => {
      if (directReason) return t.skip(directReason);
      const { file } = setup(t, name, 4);
      const worker = `${file}-worker.mjs`;
      t.after(() => fs.rmSync(worker, { force: true }));
      fs.writeFileSync(worker, `
        import { parentPort } from 'node:worker_threads';
        import { constants } from 'node:fs';
        const { allocAligned, createEngine } = await import(${JSON.stringify(INDEX_URL)});
        const engine = createEngine(${JSON.stringify(name)});
        const fh = await engine.open(${JSON.stringify(file)}, constants.O_RDONLY | constants.O_DIRECT);
        for (let i = 0; i < 256; i++) fh.read(allocAligned(65536), 0, 65536, (i % ${SIZE / 65536}) * 65536).catch(() => {});
        parentPort.postMessage('reading');
      `);
      const r = await runNode(`
        import { Worker } from 'node:worker_threads';
        import { once } from 'node:events';
        for (let round = 0; round < 20; round++) {
          const w = new Worker(${JSON.stringify(worker)});
          await once(w, 'message');
          await w.terminate();
        }
        console.log('survived');
      `, dir, 80_000);
      assert.equal(r.signal, null, `the process crashed: ${describeChild(r)}`);
      assert.equal(r.code, 0, describeChild(r));
      assert.match(r.stdout, /^survived$/m, describeChild(r));
    });
  });
}
