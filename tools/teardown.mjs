// Teardown with operations in flight, for valgrind/ASan: engines closed mid-flight, a worker_thread
// terminated mid-flight, the process exiting mid-flight. Usage (from the repo root, after a build):
//   valgrind --suppressions=tools/v8.supp --error-exitcode=9 -q node tools/teardown.mjs [file]
// Engines this machine lacks (per engines()) are reported as skipped, with the reason. The data
// file is made in a fresh temp folder, removed at exit; a file given as [file] is used as it is
// (created if missing) and kept.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { createEngine, engines } from '../dist/src/index.js';

const INDEX = new URL('../dist/src/index.js', import.meta.url).href;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ioengine-teardown-'));
// 'exit' is emitted on process.exit() and on an uncaught error too.
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
const file = process.argv[2] ?? path.join(dir, 'data');
if (!fs.existsSync(file)) fs.writeFileSync(file, Buffer.alloc(1 << 20, 1));

const info = new Map(engines().map(e => [e.name, e]));
/** The names that can run here; says which cannot, and why. */
function available(names, phase) {
  return names.filter(name => {
    const e = info.get(name);
    if (e?.available) return true;
    console.log(name, `skipped (${phase}):`, e ? e.reason ?? 'unavailable (no reason given)' : 'not an engine of this build');
    return false;
  });
}

for (const name of available(['io_uring', 'pool', 'thread', 'linux-aio', 'posix-aio'], 'closed with ops in flight')) {
  const e = createEngine(name, name === 'io_uring' ? { entries: 8 } : {});
  const fh = await e.open(file);
  const ops = Array.from({ length: 200 }, (_, i) => fh.read(Buffer.alloc(4096), 0, 4096, i * 4096));
  await Promise.all([e.close(), Promise.allSettled(ops)]);
  console.log(name, 'closed with ops in flight');
}

// A worker terminated mid-flight: the env cleanup hook drains the ring. Its module is a file,
// not eval'd code (which would be a CommonJS script unless node guesses otherwise).
const inWorker = available(['io_uring', 'pool', 'linux-aio', 'posix-aio'], 'worker terminated mid-flight');
if (inWorker.length > 0) {
  const script = path.join(dir, 'worker.mjs');
  fs.writeFileSync(script, `
    import { parentPort, workerData } from 'node:worker_threads';
    const { createEngine } = await import(workerData.index);
    for (const name of workerData.names) {
      const e = createEngine(name);
      const fh = await e.open(workerData.file);
      for (let i = 0; i < 16; i++) (async () => { for (;;) await fh.read(Buffer.alloc(65536), 0, 65536, 0); })();
    }
    parentPort.postMessage('go');`);
  const w = new Worker(script, { workerData: { index: INDEX, names: inWorker, file } });
  await new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
  await new Promise(r => setTimeout(r, 50));
  await w.terminate();
  console.log('worker terminated with', inWorker.join(', '), 'in flight');
}

// Exit with operations in flight: the cleanup hook runs at exit.
for (const name of available(['io_uring'], 'exit with ops in flight')) {
  const e = createEngine(name);
  const fh = await e.open(file);
  for (let i = 0; i < 64; i++) fh.read(Buffer.alloc(65536), 0, 65536, 0);
  console.log(name, 'exiting with ops in flight');
}
setImmediate(() => process.exit(0));
