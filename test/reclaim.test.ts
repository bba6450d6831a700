// Engines dropped without close(): the garbage collector's finding them gives back their threads,
// rings and open files, with a warning, as node closes a FileHandle it collects. Run in a child
// with the collector exposed, so that only this test's engines are in it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { engines } from '../src/index.js';
import { describeChild, INDEX_URL, runNode } from './conformance/engines.js';

let dir: string;
before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ioengine-reclaim-'))));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const names = [...engines().filter(e => e.available).map(e => e.name), 'auto'];

it(`engines dropped without close() give back their files and threads once collected (${names.join(', ')})`, async () => {
  const file = path.join(dir, 'data');
  fs.writeFileSync(file, Buffer.alloc(4096, 1));
  const r = await runNode(`
    import fs from 'node:fs';
    import v8 from 'node:v8';
    import vm from 'node:vm';
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc');
    const { createEngine } = await import(${JSON.stringify(INDEX_URL)});
    const names = ${JSON.stringify(names)};
    const fds = () => fs.readdirSync('/proc/self/fd').length;
    const threads = () => fs.readdirSync('/proc/self/task').length;
    const warnings = [];
    process.on('warning', w => { if (w.code === 'IOENGINE_NOT_CLOSED') warnings.push(w.message); });
    // An engine with a file open and read, then dropped: nothing refers to either afterwards.
    async function useAndDrop(name) {
      const engine = createEngine(name);
      const h = await engine.open(${JSON.stringify(file)}, 'r');
      const { bytesRead } = await h.read(Buffer.alloc(16), 0, 16, 0);
      if (bytesRead !== 16) throw new Error(name + ': read ' + bytesRead);
    }
    async function collect() {
      for (let i = 0; i < 10; i++) {
        gc();
        await new Promise(resolve => setTimeout(resolve, 20));
      }
    }
    // Once of each first, closed, so that what loads once (the addon, modules) is loaded.
    for (const name of names) await (await createEngine(name)).close();
    await collect();
    const before = { fds: fds(), threads: threads() };
    for (let round = 0; round < 3; round++) for (const name of names) await useAndDrop(name);
    const held = { fds: fds(), threads: threads() };
    let now = held;
    for (let i = 0; i < 20 && (now.fds > before.fds || now.threads > before.threads); i++) {
      await collect();
      now = { fds: fds(), threads: threads() };
    }
    console.log(JSON.stringify({ before, held, after: now, warnings: warnings.length, sample: warnings[0] }));
  `, dir, 60_000);
  assert.equal(r.code, 0, describeChild(r));
  const { before, held, after, warnings, sample } = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.ok(held.fds > before.fds, `the dropped engines held files while referenced (${JSON.stringify(held)} against ${JSON.stringify(before)})`);
  assert.ok(after.fds <= before.fds, `descriptors back to ${before.fds}: ${after.fds}`);
  assert.ok(after.threads <= before.threads, `threads back to ${before.threads}: ${after.threads}`);
  assert.equal(warnings, 3 * names.length, 'one warning per engine collected');
  assert.match(sample, /garbage-collected without close\(\).*1 open file/);
});
