// Teardown: closing engines and handles with operations in flight, engines that are never closed,
// worker_threads terminated mid-flight, process.exit() mid-flight. Whatever happens, every
// operation settles (fulfilled, or rejected with a coded error), nothing crashes, and an idle
// engine never keeps a process alive.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { assertBytes, assertCoded, conformance, describeChild, INDEX_URL, openDescriptorsUnder, pattern, runNode, sentinel } from './engines.js';

const FS_URL = new URL('../../src/fs/index.js', import.meta.url).href;

const BLOCK = 8192;

/** The start of a child script: the library, the engine under test, a scratch file. */
function prelude(engine: string, path: string): string {
  return `
    import fs from 'node:fs';
    const { createEngine } = await import(${JSON.stringify(INDEX_URL)});
    const ENGINE = ${JSON.stringify(engine)};
    const PATH = ${JSON.stringify(path)};
    fs.writeFileSync(PATH, Buffer.alloc(${16 * BLOCK}, 7));
  `;
}

conformance('teardown', (test, kase) => {
  test('engine.close() with 500 operations in flight: each settles, close waits for them, the process stays healthy', { io: false }, async ({ t, engine, file, newEngine }) => {
    const original = pattern(500 * BLOCK, 80);
    const p = file('inflight', original);
    const fh = await engine.open(p, 'r+');
    type Op = { kind: string; i: number; settled: boolean; ok?: unknown; err?: unknown; data?: Buffer };
    const ops: Op[] = [];
    const track = (kind: string, i: number, promise: Promise<unknown>, data?: Buffer) => {
      const op: Op = { kind, i, settled: false, data };
      promise.then(v => { op.settled = true; op.ok = v; }, e => { op.settled = true; op.err = e; });
      ops.push(op);
    };
    for (let i = 0; i < 500; i++) {
      const at = i * BLOCK;
      switch (i % 6) {
        case 0: track('read', i, fh.read(sentinel(BLOCK), 0, BLOCK, at)); break;
        case 1: { const d = pattern(BLOCK, 5000 + i); track('write', i, fh.write(d, 0, BLOCK, at), d); break; }
        case 2: track('readv', i, fh.readv([sentinel(100), sentinel(BLOCK - 100)], at)); break;
        case 3: { const d = pattern(BLOCK, 5000 + i); track('writev', i, fh.writev([d.subarray(0, 1), d.subarray(1)], at), d); break; }
        case 4: track('stat', i, fh.stat()); break;
        default: track(i % 12 ? 'sync' : 'datasync', i, i % 12 ? fh.sync() : fh.datasync());
      }
    }
    for (let i = 0; i < 20; i++) track('open', i, engine.open(p, 'r'));
    const closing = engine.close();
    const refused = await engine.open(p, 'r').then(() => undefined, (e: { code?: string }) => e.code);
    assert.equal(refused, 'ERR_IOENGINE_CLOSED', 'open() once close() has begun');
    await closing;
    await nextTurn();
    const unsettled = ops.filter(o => !o.settled).map(o => `${o.kind} ${o.i}`);
    assert.deepEqual(unsettled, [], 'operations still pending after engine.close() resolved');
    const content = fs.readFileSync(p);
    for (const op of ops) {
      const what = `${op.kind} ${op.i}`;
      if (op.err !== undefined) {
        assertCoded(op.err, what);
        // a write that failed did not happen (its block is as it was)
        if (op.data) assertBytes(content.subarray(op.i * BLOCK, (op.i + 1) * BLOCK), original.subarray(op.i * BLOCK, (op.i + 1) * BLOCK), `${what} rejected, yet its block changed`);
        continue;
      }
      if (op.kind === 'open') {
        assert.equal((op.ok as { fd: number }).fd, -1, `${what}: a handle opened during close() is closed by it`);
        continue;
      }
      if (!kase.io) continue; // the null engine: nothing to compare
      const block = original.subarray(op.i * BLOCK, (op.i + 1) * BLOCK);
      if (op.kind === 'read') assertBytes((op.ok as { buffer: Buffer }).buffer, block, what);
      if (op.kind === 'readv') assertBytes(Buffer.concat((op.ok as { buffers: Buffer[] }).buffers), block, what);
      if (op.data) assertBytes(content.subarray(op.i * BLOCK, (op.i + 1) * BLOCK), op.data, `${what} fulfilled, its block`);
    }
    assert.equal(fh.fd, -1, 'engine.close() closed the handle');
    const rejected = ops.filter(o => o.err !== undefined);
    t.diagnostic(`${ops.length - rejected.length} fulfilled, ${rejected.length} rejected ` +
      `(${[...new Set(rejected.map(o => (o.err as { code: string }).code))].join(', ') || 'none'})`);
    // healthy: a new engine of the same kind works
    const again = newEngine();
    const h = await again.open(p, 'r+');
    assert.equal((await h.write(Buffer.from('after'), 0, 5, 0)).bytesWritten, 5);
    const back = await h.read(Buffer.alloc(5), 0, 5, 0);
    assert.equal(back.bytesRead, 5);
    if (kase.io) assert.equal(back.buffer.toString(), 'after');
    await h.close();
  });

  test('handle.close() with operations in flight waits for them: all complete, then EBADF', { io: false }, async ({ engine, file }) => {
    const original = pattern(200 * BLOCK, 81);
    const p = file('handle-close', original);
    const fh = await engine.open(p, 'r+');
    const reads = Array.from({ length: 100 }, (_, i) => fh.read(sentinel(BLOCK), 0, BLOCK, i * BLOCK));
    const writes = Array.from({ length: 100 }, (_, i) => fh.write(pattern(BLOCK, 6000 + i), 0, BLOCK, (100 + i) * BLOCK));
    const closed = fh.close();
    const late = await fh.read(sentinel(1), 0, 1, 0).then(() => 'fulfilled', (e: { code?: string }) => e.code);
    assert.equal(late, 'EBADF', 'an operation started after close() began');
    await closed;
    assert.equal(fh.fd, -1);
    const r = await Promise.all(reads);
    const w = await Promise.all(writes);
    assert.ok(w.every(x => x.bytesWritten === BLOCK));
    if (!kase.io) return;
    r.forEach((x, i) => assertBytes(x.buffer, original.subarray(i * BLOCK, (i + 1) * BLOCK), `read ${i}`));
    const content = fs.readFileSync(p);
    for (let i = 0; i < 100; i++) assertBytes(content.subarray((100 + i) * BLOCK, (101 + i) * BLOCK), pattern(BLOCK, 6000 + i), `write ${i}`);
  });

  test('operations at the current position started before handle.close() complete, as in node:fs', { io: false }, async ({ engine, file }) => {
    const original = pattern(20 * BLOCK, 82);
    const fh = await engine.open(file('handle-close-sequential', original), 'r');
    // node:fs/promises completes all ten (its close waits for every operation begun before it)
    const reads = Array.from({ length: 10 }, () => fh.read(sentinel(BLOCK), 0, BLOCK, null));
    await fh.close();
    const outcomes = await Promise.allSettled(reads);
    const failed = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [`read ${i}: ${(o.reason as Error).message}`] : []));
    assert.deepEqual(failed, [], 'reads started before close() failed');
    if (!kase.io) return;
    outcomes.forEach((o, i) => assertBytes((o as PromiseFulfilledResult<{ buffer: Buffer }>).value.buffer, original.subarray(i * BLOCK, (i + 1) * BLOCK), `read ${i} at the current position`));
  });

  test('an idle engine does not keep the process alive; an operation in flight does until it completes', { io: false, timeout: 30_000 }, async ({ file, dir }) => {
    const r = await runNode(`${prelude(kase.name, file('idle'))}
      const engine = createEngine(ENGINE);
      const fh = await engine.open(PATH, 'r+');
      await fh.write(Buffer.from('hello'), 0, 5, 0);
      const back = await fh.read(Buffer.alloc(5), 0, 5, 0);
      console.log('idle', back.bytesRead);
      // not awaited: the process must live until it completes, and then exit by itself
      fh.write(Buffer.alloc(1 << 20, 1), 0, 1 << 20, 4096).then(w => console.log('completed', w.bytesWritten));
      // neither the handle nor the engine is closed
    `, dir, 10_000);
    assert.equal(r.timedOut, false, `the process did not exit on its own: ${describeChild(r)}`);
    assert.equal(r.code, 0, describeChild(r));
    assert.match(r.stdout, /^idle 5$/m, describeChild(r));
    assert.match(r.stdout, /^completed 1048576$/m, `the operation in flight did not keep the process alive: ${describeChild(r)}`);
  });

  test('engines created, used and closed 30 times leave nothing that keeps the process alive', { io: false, timeout: 60_000 }, async ({ file, dir }) => {
    const r = await runNode(`${prelude(kase.name, file('cycles'))}
      for (let i = 0; i < 30; i++) {
        const engine = createEngine(ENGINE);
        const fh = await engine.open(PATH, 'r+');
        await Promise.all([fh.write(Buffer.from('x'), 0, 1, i), fh.read(Buffer.alloc(10), 0, 10, 0), fh.stat()]);
        if (i % 2) await fh.close();
        await engine.close();
      }
      console.log('cycled');
    `, dir, 30_000); // under ASan, 30 workers engines' thread starts took over 10 s once on CI (not yet 'cycled')
    assert.equal(r.timedOut, false, `the process did not exit on its own: ${describeChild(r)}`);
    assert.equal(r.code, 0, describeChild(r));
    assert.match(r.stdout, /^cycled$/m, describeChild(r));
  });

  test('a worker_thread terminated with operations in flight does not crash the process', { io: false, timeout: 60_000 }, async ({ file, dir }) => {
    const p = file('worker');
    const r = await runNode(`${prelude(kase.name, p)}
      import { Worker } from 'node:worker_threads';
      import { once } from 'node:events';
      // the worker's own module, in a file: an eval'd worker would inherit --input-type
      const WORKER = PATH + '-worker.mjs';
      fs.writeFileSync(WORKER, \`
        import { parentPort, workerData } from 'node:worker_threads';
        const { createEngine } = await import(workerData.index);
        const engine = createEngine(workerData.engine);
        const fh = await engine.open(workerData.path, 'r+');
        const burst = () => {
          for (let i = 0; i < 64; i++) {
            fh.read(Buffer.alloc(${BLOCK}), 0, ${BLOCK}, (i % 16) * ${BLOCK}).catch(() => {});
            fh.write(Buffer.alloc(${BLOCK}, i), 0, ${BLOCK}, (i % 16) * ${BLOCK}).catch(() => {});
            fh.readv([Buffer.alloc(100), Buffer.alloc(${BLOCK})], i * 64).catch(() => {});
          }
          fh.stat().catch(() => {});
          fh.sync().catch(() => {});
        };
        burst();
        parentPort.postMessage('busy');
        setInterval(burst, 1);
      \`);
      for (let round = 0; round < 6; round++) {
        const worker = new Worker(WORKER, { workerData: { index: ${JSON.stringify(INDEX_URL)}, engine: ENGINE, path: PATH } });
        worker.on('error', err => { console.error('worker error', err); process.exitCode = 2; });
        await once(worker, 'message');
        await new Promise(resolve => setTimeout(resolve, 3 * round));
        await worker.terminate();
        console.log('terminated', round);
      }
      // still healthy: I/O on this thread works and is right
      const engine = createEngine(ENGINE);
      const fh = await engine.open(PATH, 'r+');
      await fh.write(Buffer.from('healthy'), 0, 7, 0);
      const back = await fh.read(Buffer.alloc(7), 0, 7, 0);
      await engine.close();
      console.log('after', back.bytesRead, ENGINE === 'null' || back.buffer.toString() === 'healthy');
    `, dir, 45_000);
    assert.equal(r.timedOut, false, `the process hung: ${describeChild(r)}`);
    assert.equal(r.signal, null, `the process crashed: ${describeChild(r)}`);
    assert.equal(r.code, 0, describeChild(r));
    assert.equal((r.stdout.match(/^terminated \d$/gm) ?? []).length, 6, describeChild(r));
    assert.match(r.stdout, /^after 7 true$/m, describeChild(r));
  });

  test('a worker_thread terminated with files open leaves no descriptor open', { io: false, timeout: 30_000 }, async ({ t, dir }) => {
    if (kase.name === 'sync' || kase.name === 'libuv') {
      return t.skip(`the ${kase.name} engine opens files with node:fs, which does not close a terminated worker's descriptors either`);
    }
    const p = `${dir}/held`;
    fs.writeFileSync(p, 'held open');
    const { Worker } = await import('node:worker_threads');
    const source = `
      const { parentPort, workerData } = await import('node:worker_threads');
      const { createEngine } = await import(workerData.index);
      const engine = createEngine(workerData.engine);
      globalThis.handles = [];
      for (let i = 0; i < 5; i++) globalThis.handles.push(await engine.open(workerData.path, 'r'));
      setInterval(() => {}, 1000); // alive until terminated
      parentPort.postMessage('open');
    `;
    const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(source)}`), { workerData: { index: INDEX_URL, engine: kase.name, path: p } });
    await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
    assert.equal(openDescriptorsUnder(dir).length, kase.io ? 5 : 0, 'the worker has its files open');
    await worker.terminate();
    assert.deepEqual(openDescriptorsUnder(dir), [], 'descriptors left open by the terminated worker');
  });

  test('a worker_thread terminated in the middle of a readFile leaves no descriptor open', { io: false, timeout: 30_000 }, async ({ t, dir }) => {
    if (kase.name === 'sync' || kase.name === 'libuv') {
      return t.skip(`the ${kase.name} engine opens files with node:fs, which does not close a terminated worker's descriptors either`);
    }
    if (!kase.io) return t.skip('the null engine opens no file');
    // Large: readFile in one operation opens it and hands it back unread; the file is then read
    // in parts on the descriptor that operation opened, which the engine must close at the end.
    const p = `${dir}/large`;
    fs.writeFileSync(p, Buffer.alloc(64 << 20, 1));
    const { Worker } = await import('node:worker_threads');
    const source = `
      const { workerData } = await import('node:worker_threads');
      const { fsOn } = await import(workerData.fs);
      const f = fsOn(workerData.engine);
      for (;;) await f.readFile(workerData.path);
    `;
    const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(source)}`), { workerData: { fs: FS_URL, engine: kase.name, path: p } });
    worker.on('error', () => {});
    // Terminated while the file is open (a readFile in the middle of it).
    for (const end = Date.now() + 10_000; openDescriptorsUnder(dir).length === 0 && Date.now() < end;) await new Promise(resolve => setTimeout(resolve, 1));
    assert.ok(openDescriptorsUnder(dir).length > 0, 'the worker was reading the file');
    await worker.terminate();
    assert.deepEqual(openDescriptorsUnder(dir), [], 'descriptors left open by the terminated worker');
  });

  // Calls that wait forever on one of the engine's threads: an open of a FIFO no one writes to,
  // a read of a FIFO no one writes into. Closing the engine, or terminating its worker, must not
  // wait with them. (On io_uring the open does not wait: the ring opens without blocking.)
  const waitsForever = (): string | undefined =>
    kase.name === 'sync' ? 'the sync engine makes the calls on the JS thread itself, which then waits with them'
      : kase.name === 'libuv' || kase.name === 'workers' ? `the ${kase.name} engine makes node:fs calls, which cannot be interrupted: node's own fs.promises waits the same way`
        : !kase.io ? 'the null engine makes no call'
          : undefined;

  test('engine.close() while an open of a FIFO waits for a writer and a read of a FIFO for data: close() returns, both settle', { io: false, timeout: 20_000 }, async ({ t, engine, dir }) => {
    const skip = waitsForever();
    if (skip) return t.skip(skip);
    const fifo = `${dir}/no-writer`, empty = `${dir}/no-data`;
    execFileSync('mkfifo', [fifo, empty]);
    const settled: string[] = [];
    const opening = engine.open(fifo, 'r').then(fh => { settled.push('open fulfilled'); return fh; }, (e: NodeJS.ErrnoException) => { settled.push(`open ${e.code}`); });
    const fh = await engine.open(empty, 'r+'); // O_RDWR: a FIFO opens at once, and its reads wait for data
    const reading = fh.read(Buffer.alloc(16), 0, 16, null).then(() => settled.push('read fulfilled'), (e: NodeJS.ErrnoException) => { settled.push(`read ${e.code}`); });
    await new Promise(resolve => setTimeout(resolve, 50)); // both in their calls
    assert.deepEqual(settled.filter(s => s.startsWith('read')), [], 'a read of an empty FIFO waits');
    const closed = engine.close().then(() => 'closed');
    const late = new Promise(resolve => setTimeout(resolve, 10_000, 'still waiting after 10 s')).then(String);
    assert.equal(await Promise.race([closed, late]), 'closed');
    await Promise.all([opening, reading]);
    assert.ok(settled.includes('read ECANCELED'), `the read was cancelled: ${settled.join(', ')}`);
    assert.ok(settled.includes('open ECANCELED') || (kase.name === 'io_uring' || kase.name === 'auto') && settled.includes('open fulfilled'), `the open settled: ${settled.join(', ')}`);
    assert.equal(fh.fd, -1, 'engine.close() closed the handle');
  });

  test('engine.close() never cancels a close: closes queued behind a call it cannot interrupt run once that call ends', { io: false, timeout: 30_000 }, async ({ t, dir }) => {
    if (kase.name === 'sync') return t.skip('the sync engine makes the calls on the JS thread itself, which then waits with them');
    if (!kase.io) return t.skip('the null engine makes no call');
    const fifo = `${dir}/fifo`;
    execFileSync('mkfifo', [fifo]);
    const r = await runNode(`
      import fs from 'node:fs';
      const { createEngine } = await import(${JSON.stringify(INDEX_URL)});
      const dir = ${JSON.stringify(dir)}, fifo = ${JSON.stringify(fifo)};
      const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));
      // The program takes SIGURG for itself: ioengine then interrupts nothing, and the read below
      // holds the engine's one thread until the FIFO gets data.
      process.on('SIGURG', () => {});
      const engine = createEngine(${JSON.stringify(kase.name)}, { threads: 1 });
      const names = ['a', 'b', 'c', 'd'].map(n => dir + '/' + n);
      for (const n of names) fs.writeFileSync(n, n);
      const handles = await Promise.all(names.map(n => engine.open(n, 'r')));
      const f = await engine.open(fifo, 'r+'); // read and write: opens at once; its reads wait for data
      const reading = f.read(Buffer.alloc(16), 0, 16, null).then(() => 'read', e => e.code);
      await sleep(50);
      const closes = Promise.allSettled(handles.map(h => h.close()));
      await sleep(50); // queued behind the read
      const closed = engine.close();
      await sleep(120); // close() cancels again every 50 ms while it waits
      fs.writeFileSync(fifo, 'x', { flag: 'r+' }); // the read ends (r+: opens whether or not a reader is left)
      await closed;
      const rejected = (await closes).filter(c => c.status === 'rejected').map(c => c.reason.code);
      const left = fs.readdirSync('/proc/self/fd').filter(fd => { try { return fs.readlinkSync('/proc/self/fd/' + fd).startsWith(dir + '/'); } catch { return false; } });
      console.log(JSON.stringify({ read: await reading, rejected, left: left.length }));
    `, dir, 20_000);
    assert.equal(r.timedOut, false, `the process hung: ${describeChild(r)}`);
    assert.equal(r.code, 0, describeChild(r));
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as { rejected: string[]; left: number };
    assert.deepEqual(out.rejected, [], `every close the program asked for ran: ${describeChild(r)}`);
    assert.equal(out.left, 0, `descriptors left open: ${describeChild(r)}`);
  });

  test('a worker_thread terminated while an open of a FIFO waits for a writer: terminate() returns', { io: false, timeout: 30_000 }, async ({ t, dir }) => {
    const skip = waitsForever();
    if (skip) return t.skip(skip);
    const fifo = `${dir}/no-writer`, empty = `${dir}/no-data`;
    execFileSync('mkfifo', [fifo, empty]);
    const r = await runNode(`
      import { Worker } from 'node:worker_threads';
      const source = \`
        const { parentPort, workerData } = await import('node:worker_threads');
        const { createEngine } = await import(workerData.index);
        const { fsOn } = await import(workerData.fs);
        const engine = createEngine(workerData.engine);
        engine.open(workerData.fifo, 'r').catch(() => {});
        fsOn(workerData.engine).readFile(workerData.fifo).catch(() => {});
        engine.open(workerData.empty, 'r+').then(fh => fh.read(Buffer.alloc(16), 0, 16, null)).catch(() => {});
        setTimeout(() => parentPort.postMessage('waiting'), 50);
        setInterval(() => {}, 1000);
      \`;
      const worker = new Worker(new URL('data:text/javascript,' + encodeURIComponent(source)), { workerData: ${JSON.stringify({ index: INDEX_URL, fs: FS_URL, engine: kase.name, fifo, empty })} });
      await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
      await worker.terminate();
      console.log('terminated');
    `, dir, 15_000);
    assert.equal(r.timedOut, false, `terminate() waited for the calls: ${describeChild(r)}`);
    assert.equal(r.code, 0, describeChild(r));
    assert.match(r.stdout, /^terminated$/m, describeChild(r));
  });

  test('process.exit() with operations in flight exits cleanly', { io: false, timeout: 30_000 }, async ({ file, dir }) => {
    const r = await runNode(`${prelude(kase.name, file('exit'))}
      const engine = createEngine(ENGINE);
      const fh = await engine.open(PATH, 'r+');
      for (let i = 0; i < 500; i++) {
        fh.read(Buffer.alloc(${BLOCK}), 0, ${BLOCK}, (i % 16) * ${BLOCK}).catch(() => {});
        fh.write(Buffer.alloc(${BLOCK}, i), 0, ${BLOCK}, (i % 16) * ${BLOCK}).catch(() => {});
      }
      setImmediate(() => { console.log('exiting'); process.exit(0); });
    `, dir, 15_000);
    assert.equal(r.timedOut, false, `the process hung in exit: ${describeChild(r)}`);
    assert.equal(r.signal, null, `the process crashed: ${describeChild(r)}`);
    assert.equal(r.code, 0, describeChild(r));
    assert.match(r.stdout, /^exiting$/m);
  });
});
