// Limits of the process: a low open-file limit, a low locked-memory limit, many engines in one
// process, many worker_threads with an engine each. Each engine works or is refused with a coded
// error and a reason, and `auto` always finds one that works.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { engines } from '../src/index.js';
import { describeChild, INDEX_URL, runNode } from './conformance/engines.js';

let dir: string;
before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ioengine-limits-'))));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const usable = engines().filter(e => e.available && e.name !== 'null');
const uring = engines().find(e => e.name === 'io_uring')!;

/** Runs an ES module under `sh -c '<limits> && exec node script'`; prints go to stdout. */
function underLimits(limits: string, source: string, wrapper: string[] = []) {
  const script = path.join(dir, `limits-${Math.random().toString(36).slice(2)}.mjs`);
  fs.writeFileSync(script, `const { createEngine, open } = await import(${JSON.stringify(INDEX_URL)});\n${source}`);
  const r = spawnSync(wrapper[0] ?? 'sh', [...wrapper.slice(1), ...(wrapper.length ? ['sh'] : []), '-c', `${limits} && exec "$0" "$1"`, process.execPath, script],
    { encoding: 'utf8', timeout: 30_000 });
  return { ...r, describe: `status ${r.status}, signal ${r.signal}\nstdout: ${r.stdout}\nstderr: ${r.stderr}` };
}

/** One read through an engine, printed as `name ok <engine chosen>` or `name <code> <message>`. */
const READ_WITH = `
  async function tryEngine(label, make) {
    try {
      const engine = make();
      const fh = await engine.open(${JSON.stringify(process.execPath)}, 'r');
      const { bytesRead } = await fh.read(Buffer.alloc(4), 0, 4, 0);
      await engine.close();
      console.log(label, bytesRead === 4 ? 'ok' : 'short', engine.name);
    } catch (err) {
      console.log(label, err.code, err.errno, err.syscall, err.message);
    }
  }
`;

describe('limits: a low open-file limit (ulimit -n 1023)', () => {
  it('io_uring, auto and the top-level open() work: the registered-file table shrinks to the limit', { skip: uring.available ? false : `io_uring unavailable: ${uring.reason}` }, () => {
    const r = underLimits('ulimit -n 1023', `${READ_WITH}
      await tryEngine('io_uring', () => createEngine('io_uring'));
      await tryEngine('io_uring-2048-slots', () => createEngine('io_uring', { registerFiles: 2048 }));
      await tryEngine('auto', () => createEngine('auto'));
      const fh = await open(${JSON.stringify(process.execPath)});
      console.log('open', (await fh.read(Buffer.alloc(4), 0, 4, 0)).bytesRead === 4 ? 'ok' : 'short');
      await fh.close();
    `);
    assert.equal(r.status, 0, r.describe);
    assert.match(r.stdout, /^io_uring ok io_uring$/m, r.describe);
    assert.match(r.stdout, /^io_uring-2048-slots ok io_uring$/m, r.describe);
    assert.match(r.stdout, /^auto ok io_uring$/m, r.describe);
    assert.match(r.stdout, /^open ok$/m, r.describe);
  });

  it('every engine works with no descriptors to spare, or is refused with a coded error', () => {
    // 24 descriptors: node itself needs most of them; engines that need more must say so.
    const r = underLimits('ulimit -n 40', `${READ_WITH}
      for (const name of ${JSON.stringify(usable.map(e => e.name))}) await tryEngine(name, () => createEngine(name));
      await tryEngine('auto', () => createEngine('auto'));
    `);
    assert.equal(r.signal, null, r.describe);
    for (const name of [...usable.map(e => e.name), 'auto']) {
      const line = r.stdout.split('\n').find(l => l.startsWith(`${name} `));
      assert.ok(line, `no outcome for ${name}: ${r.describe}`);
      assert.match(line, /^\S+ (ok \S+|E[A-Z]+ -\d+ \S+ .+|ERR_[A-Z_]+ .+)$/, `${name}: neither worked nor a coded error: ${line}`);
    }
    assert.match(r.stdout, /^auto ok \S+$/m, `auto found nothing that works: ${r.describe}`);
  });
});

describe('limits: a low locked-memory limit (ulimit -l 64)', () => {
  // root is not held to RLIMIT_MEMLOCK: drop CAP_IPC_LOCK with setpriv to be held to it.
  const root = process.getuid?.() === 0;
  const setpriv = spawnSync('setpriv', ['--version']).status === 0;
  const skip = !uring.available ? `io_uring unavailable: ${uring.reason}`
    : root && !setpriv ? 'running as root, and no setpriv (util-linux) to drop CAP_IPC_LOCK' : false;
  it('registeredBuffers beyond it: a coded ENOMEM that names the limit; auto falls back', { skip }, () => {
    const r = underLimits('ulimit -l 64', `${READ_WITH}
      const big = { registeredBuffers: { count: 64, size: 1 << 20 } };
      await tryEngine('io_uring', () => createEngine('io_uring', big));
      await tryEngine('auto', () => createEngine('auto', big));
      await tryEngine('io_uring-small', () => createEngine('io_uring'));
    `, root ? ['setpriv', '--bounding-set', '-ipc_lock', '--inh-caps', '-ipc_lock'] : []);
    assert.equal(r.status, 0, r.describe);
    assert.match(r.stdout, /^io_uring ENOMEM -12 io_uring_setup Cannot set up the io_uring engine: ENOMEM: .*ulimit -l/m, r.describe);
    assert.match(r.stdout, /^auto ok (?!io_uring)\S+$/m, r.describe);
    assert.match(r.stdout, /^io_uring-small ok io_uring$/m, r.describe);
  });
});

describe('limits: many engines in one process', () => {
  for (const e of usable) {
    // posix-aio once parked a read of each engine's wake-up pipe in glibc's AIO threads (20 by
    // default): the 21st busy engine then hung, and every engine with it.
    it(`100 ${e.name} engines busy at once all complete, and close`, { timeout: 60_000 }, async () => {
      const file = path.join(dir, `many-${e.name}`);
      fs.writeFileSync(file, Buffer.alloc(8 * 4096, 5));
      const r = await runNode(`
        const { createEngine } = await import(${JSON.stringify(INDEX_URL)});
        const all = Array.from({ length: 100 }, () => createEngine(${JSON.stringify(e.name)}, { threads: 1 }));
        const handles = await Promise.all(all.map(engine => engine.open(${JSON.stringify(file)}, 'r')));
        const reads = handles.flatMap(fh => Array.from({ length: 8 }, (_, i) => fh.read(Buffer.alloc(4096), 0, 4096, i * 4096)));
        const bytes = (await Promise.all(reads)).reduce((n, r) => n + r.bytesRead, 0);
        await Promise.all(all.map(engine => engine.close()));
        console.log('bytes', bytes);
      `, dir, 45_000);
      assert.equal(r.timedOut, false, `hung: ${describeChild(r)}`);
      assert.equal(r.code, 0, describeChild(r));
      assert.match(r.stdout, new RegExp(`^bytes ${100 * 8 * 4096}$`, 'm'), describeChild(r));
    });
  }

  it('16 worker_threads with an engine of every kind each all complete', { timeout: 60_000 }, async () => {
    const file = path.join(dir, 'threads');
    fs.writeFileSync(file, Buffer.alloc(4096, 6));
    const r = await runNode(`
      import { Worker } from 'node:worker_threads';
      import { once } from 'node:events';
      import fs from 'node:fs';
      const WORKER = ${JSON.stringify(path.join(dir, 'threads-worker.mjs'))};
      fs.writeFileSync(WORKER, \`
        import { parentPort } from 'node:worker_threads';
        const { createEngine } = await import(${JSON.stringify(INDEX_URL)});
        let bytes = 0;
        for (const name of ${JSON.stringify(usable.map(x => x.name))}) {
          const engine = createEngine(name, { threads: 1 });
          const fh = await engine.open(${JSON.stringify(file)}, 'r');
          bytes += (await fh.read(Buffer.alloc(4096), 0, 4096, 0)).bytesRead;
          await engine.close();
        }
        parentPort.postMessage(bytes);
      \`);
      const workers = Array.from({ length: 16 }, () => new Worker(WORKER));
      const results = await Promise.all(workers.map(w => once(w, 'message').then(([n]) => n)));
      console.log('bytes', results.reduce((a, b) => a + b, 0));
    `, dir, 45_000);
    assert.equal(r.timedOut, false, `hung: ${describeChild(r)}`);
    assert.equal(r.code, 0, describeChild(r));
    assert.match(r.stdout, new RegExp(`^bytes ${16 * usable.length * 4096}$`, 'm'), describeChild(r));
  });
});
