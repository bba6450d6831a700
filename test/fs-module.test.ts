// The module as programs load it: `ioengine/fs` from ESM and from CommonJS (require of ESM, which
// Node 20.19+ allows), and `node --import ioengine/register`, which makes an unchanged program's
// node:fs/promises ioengine's. Each in a fresh process, by the package's own name.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
let dir: string;
// Inside the package, so that `ioengine/fs` resolves to it by its own name (package self-reference).
before(() => (dir = fs.mkdtempSync(path.join(root, '.fs-module-test-'))));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function node(file: string, source: string, args: string[] = []) {
  const script = path.join(dir, file);
  fs.writeFileSync(script, source);
  const r = spawnSync(process.execPath, [...args, script], { encoding: 'utf8', timeout: 30_000, cwd: dir });
  return { ...r, describe: `status ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}` };
}

describe('ioengine/fs as programs load it', () => {
  it('import from ESM: every function of node:fs/promises, and they work', () => {
    const r = node('esm.mjs', `
      import * as ours from 'ioengine/fs';
      import * as theirs from 'node:fs/promises';
      const missing = Object.keys(theirs).filter(k => k !== 'default' && !(k in ours));
      await ours.writeFile(new URL('./esm.txt', import.meta.url), 'esm');
      console.log(JSON.stringify({ missing, text: await ours.readFile(new URL('./esm.txt', import.meta.url), 'utf8') }));
    `);
    assert.equal(r.status, 0, r.describe);
    assert.deepEqual(JSON.parse(r.stdout), { missing: [], text: 'esm' });
  });

  it('require from CommonJS', () => {
    const r = node('cjs.cjs', `
      const fsp = require('ioengine/fs');
      fsp.writeFile(__dirname + '/cjs.txt', 'cjs').then(() => fsp.readFile(__dirname + '/cjs.txt', 'utf8')).then(t => console.log(t, typeof fsp.fsOn));
    `);
    assert.equal(r.status, 0, r.describe);
    assert.equal(r.stdout.trim(), 'cjs function');
  });

  it('node --import ioengine/register: node:fs/promises and fs.promises answer with ioengine', () => {
    const r = node('registered.mjs', `
      import fsp, { open, readFile } from 'node:fs/promises';
      import fs from 'node:fs';
      import { FileHandle } from 'ioengine/fs';
      const file = new URL('./registered.mjs', import.meta.url);
      const handles = [await open(file), await fsp.open(file), await fs.promises.open(file)];
      console.log(handles.map(h => h instanceof FileHandle).join(' '), (await readFile(file, 'utf8')).includes('registered'));
      for (const h of handles) await h.close();
      // what ours pass through to node's own (they once called themselves), and node's cp, which calls them
      const made = await fsp.mkdir(new URL('./a/b/c', import.meta.url), { recursive: true });
      const big = await fsp.stat(file, { bigint: true });
      await fsp.cp(new URL('./a', import.meta.url), new URL('./copy', import.meta.url), { recursive: true });
      console.log(made.endsWith('/a'), typeof big.size, fs.existsSync(new URL('./copy/b/c', import.meta.url)));
    `, ['--import', 'ioengine/register']);
    assert.equal(r.status, 0, r.describe);
    assert.deepEqual(r.stdout.trim().split('\n'), ['true true true true', 'true bigint true']);
  });
  it('node --import ioengine/register: node\'s read and write streams take ioengine\'s FileHandle as fd', () => {
    const r = node('streams.cjs', `
      const fs = require('node:fs');
      (async () => {
        const file = __dirname + '/streams.txt';
        fs.writeFileSync(file, 'hello streams');
        const texts = [];
        for (const make of [h => fs.createReadStream(null, { fd: h, encoding: 'utf8' }), h => new fs.ReadStream(null, { fd: h, encoding: 'utf8', start: 6 })]) {
          const h = await fs.promises.open(file);
          let t = '';
          for await (const c of make(h)) t += c;
          texts.push(t, h.fd); // the stream closed its handle at its end, as node's
        }
        const w = await fs.promises.open(file, 'w');
        await new Promise((resolve, reject) => fs.createWriteStream(null, { fd: w }).on('error', reject).on('close', resolve).end('written'));
        texts.push(fs.readFileSync(file, 'utf8'));
        let refused;
        try { fs.createReadStream(null, { fd: await fs.promises.open(file), fs: {} }); } catch (e) { refused = e.code; }
        // node's own streams, by path, are still node's, and instanceof holds
        const plain = fs.createReadStream(file);
        class Mine extends fs.ReadStream {}
        console.log(JSON.stringify(texts), refused, plain instanceof fs.ReadStream, new Mine(file) instanceof fs.ReadStream);
        process.exit(0);
      })();
    `, ['--import', 'ioengine/register']);
    assert.equal(r.status, 0, r.describe);
    assert.equal(r.stdout.trim(), '["hello streams",-1,"streams",-1,"written"] ERR_METHOD_NOT_IMPLEMENTED true true');
  });
});
