// Teardown with operations in flight, for valgrind/ASan: engines closed mid-flight, a worker_thread
// terminated mid-flight, the process exiting mid-flight. Usage (from the repo root, after a build):
//   valgrind --suppressions=tools/v8.supp --error-exitcode=9 -q node tools/teardown.mjs
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { createEngine } from '../dist/src/index.js';

const INDEX = new URL('../dist/src/index.js', import.meta.url).href;
const file = process.argv[2] ?? '/tmp/ioengine-teardown.dat';
if (!fs.existsSync(file)) fs.writeFileSync(file, Buffer.alloc(1 << 20, 1));
for (const name of ['io_uring', 'pool', 'thread', 'linux-aio', 'posix-aio']) {
  const e = createEngine(name, name === 'io_uring' ? { entries: 8 } : {});
  const fh = await e.open(file);
  const ops = Array.from({ length: 200 }, (_, i) => fh.read(Buffer.alloc(4096), 0, 4096, i * 4096));
  await Promise.all([e.close(), Promise.allSettled(ops)]);
  console.log(name, 'closed with ops in flight');
}
// A worker terminated mid-flight: the env cleanup hook drains the ring.
const w = new Worker(`
  const { createEngine } = await import('${INDEX}');
  const { parentPort } = await import('node:worker_threads');
  for (const name of ['io_uring', 'pool', 'linux-aio', 'posix-aio']) {
    const e = createEngine(name);
    const fh = await e.open('${file}');
    for (let i = 0; i < 16; i++) (async () => { for (;;) await fh.read(Buffer.alloc(65536), 0, 65536, 0); })();
  }
  parentPort.postMessage('go');`, { eval: true, type: 'module' });
await new Promise(r => w.once('message', r));
await new Promise(r => setTimeout(r, 50));
await w.terminate();
console.log('worker terminated');
// Exit with operations in flight: the cleanup hook runs at exit.
const e = createEngine('io_uring');
const fh = await e.open(file);
for (let i = 0; i < 64; i++) fh.read(Buffer.alloc(65536), 0, 65536, 0);
setImmediate(() => process.exit(0));
