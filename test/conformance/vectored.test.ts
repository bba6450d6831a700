// readv and writev: one operation over many buffers, across their boundaries and across EOF.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { assertBytes, conformance, outcome, pattern, sameAsNode, sentinel } from './engines.js';

// Sizes chosen to put boundaries off every alignment: 1 byte, odd sizes, a page and a bit, an
// empty buffer in the middle.
const SIZES = [1, 7, 4096, 0, 4097, 3, 65_537, 13];
const total = (bufs: Uint8Array[]) => bufs.reduce((n, b) => n + b.byteLength, 0);

conformance('vectored', test => {
  test('writev writes its buffers back to back across their boundaries', async ({ engine, file }) => {
    const p = file('writev', pattern(100_000, 20));
    const expected = Buffer.from(fs.readFileSync(p));
    const bufs = SIZES.map((n, i) => pattern(n, 21 + i));
    const fh = await engine.open(p, 'r+');
    const w = await fh.writev(bufs, 1234);
    assert.equal(w.bytesWritten, total(bufs));
    assert.equal(w.buffers, bufs, 'writev() resolves with the array it was given');
    Buffer.concat(bufs).copy(expected, 1234);
    assertBytes(fs.readFileSync(p), expected, 'file after writev');
    await fh.close();
  });

  test('readv and writev of a single buffer', async ({ engine, file }) => {
    const p = file('single', pattern(300, 28));
    const fh = await engine.open(p, 'r+');
    const data = pattern(100, 29);
    const w = await fh.writev([data], 50);
    assert.equal(w.bytesWritten, 100);
    const back = sentinel(120);
    const r = await fh.readv([back], 40);
    assert.equal(r.bytesRead, 120);
    const expected = Buffer.from(pattern(300, 28));
    data.copy(expected, 50);
    assertBytes(back, expected.subarray(40, 160), 'single-buffer readv');
    assertBytes(fs.readFileSync(p), expected, 'file after single-buffer writev');
    await fh.close();
  });

  test('readv fills its buffers in order across their boundaries', async ({ engine, file }) => {
    const content = pattern(100_000, 22);
    const fh = await engine.open(file('readv', content), 'r');
    const bufs = SIZES.map(n => sentinel(n));
    const r = await fh.readv(bufs, 999);
    assert.equal(r.bytesRead, total(bufs));
    assert.equal(r.buffers, bufs, 'readv() resolves with the array it was given');
    let at = 999;
    for (const [i, b] of bufs.entries()) {
      assertBytes(b, content.subarray(at, at + b.length), `buffer ${i} (${b.length} bytes)`);
      at += b.length;
    }
    await fh.close();
  });

  test('readv across EOF fills what it can; the buffers past EOF are untouched', async ({ engine, file }) => {
    const content = pattern(5000, 23);
    const fh = await engine.open(file('short', content), 'r');
    const bufs = [sentinel(3000), sentinel(1500), sentinel(1000), sentinel(10)];
    const r = await fh.readv(bufs, 200);
    assert.equal(r.bytesRead, 4800);
    assertBytes(bufs[0], content.subarray(200, 3200));
    assertBytes(bufs[1], content.subarray(3200, 4700));
    assertBytes(bufs[2].subarray(0, 300), content.subarray(4700));
    assertBytes(bufs[2].subarray(300), sentinel(700), 'past EOF in the buffer that straddles it');
    assertBytes(bufs[3], sentinel(10), 'a buffer wholly past EOF');
    const atEof = [sentinel(4), sentinel(4)];
    assert.equal((await fh.readv(atEof, 5000)).bytesRead, 0);
    assert.equal((await fh.readv(atEof, 9999)).bytesRead, 0);
    assertBytes(Buffer.concat(atEof), sentinel(8));
    await fh.close();
  });

  test('readv and writev give what node:fs/promises gives, at positions and at the current position', async ({ engine, dir }) => {
    await sameAsNode(engine, dir, { f: pattern(3000, 24) }, async io => {
      const fh = await io.open('f', 'r+');
      const out: unknown[] = [];
      const hex = (bufs: NodeJS.ArrayBufferView[]) => bufs.map(b => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex'));
      // at the current position: one after another, each where the last ended
      for (let i = 0; i < 4; i++) {
        const bufs = [sentinel(100 + i), sentinel(1), sentinel(250)];
        const r = await fh.readv(bufs);
        out.push([r.bytesRead, hex(bufs)]);
      }
      out.push((await fh.writev([Buffer.from('current'), Buffer.from('-position')])).bytesWritten);
      out.push((await fh.writev([Buffer.from('at'), Buffer.alloc(0), Buffer.from('-2990')], 2990)).bytesWritten);
      out.push((await fh.writev([pattern(10, 25), pattern(10, 26)], 5000)).bytesWritten);
      const views = [new Uint16Array(4), new DataView(new ArrayBuffer(16), 3, 9), new Float64Array(1)];
      out.push((await fh.readv(views, 2985)).bytesRead, hex(views));
      return out;
    });
  });

  test('readv and writev of no buffers, or of empty buffers, give what node:fs/promises gives', async ({ engine, dir }) => {
    await sameAsNode(engine, dir, { f: 'abc' }, async io => {
      const fh = await io.open('f', 'r+');
      return {
        // node: EINVAL from libuv for readv([]), 0 for writev([])
        readvNone: await outcome(fh.readv([], 0).then(r => r.bytesRead)),
        writevNone: await outcome(fh.writev([], 0).then(r => r.bytesWritten)),
        readvEmpty: await outcome(fh.readv([Buffer.alloc(0)], 0).then(r => r.bytesRead)),
        writevEmpty: await outcome(fh.writev([Buffer.alloc(0)], 0).then(r => r.bytesWritten)),
        readvEmpties: await outcome(fh.readv([new Uint8Array(0), Buffer.alloc(0)], 1).then(r => r.bytesRead)),
        writevEmpties: await outcome(fh.writev([new Uint8Array(0), Buffer.alloc(0)], 1).then(r => r.bytesWritten)),
      };
    });
  });

  test('1024 buffers (IOV_MAX) in one readv and one writev', async ({ engine, file }) => {
    const p = file('many', '');
    const bufs = Array.from({ length: 1024 }, (_, i) => pattern(1 + (i % 17), 30 + i));
    const fh = await engine.open(p, 'r+');
    assert.equal((await fh.writev(bufs, 0)).bytesWritten, total(bufs));
    assertBytes(fs.readFileSync(p), Buffer.concat(bufs), 'file after 1024-buffer writev');
    const back = bufs.map(b => sentinel(b.length));
    assert.equal((await fh.readv(back, 0)).bytesRead, total(bufs));
    assertBytes(Buffer.concat(back), Buffer.concat(bufs), '1024-buffer readv');
    await fh.close();
  });

  test('more buffers than IOV_MAX: all written as node does, or refused with a RangeError before any I/O', async ({ engine, file }) => {
    const p = file('too-many', 'unchanged');
    const bufs = Array.from({ length: 1500 }, (_, i) => pattern(3, 40 + i));
    const fh = await engine.open(p, 'r+');
    const o = await outcome(fh.writev(bufs, 0));
    if ('value' in o) {
      assert.equal(o.value.bytesWritten, 4500);
      assertBytes(fs.readFileSync(p), Buffer.concat(bufs), 'file after a 1500-buffer writev');
    } else {
      assert.equal(o.error.name, 'RangeError');
      assert.equal(o.error.code, 'ERR_OUT_OF_RANGE');
      assert.equal(fs.readFileSync(p, 'utf8'), 'unchanged', 'a refused writev must not write');
    }
    await fh.close();
  });

  test('16 MiB through readv and writev, every byte verified', { timeout: 60_000 }, async ({ engine, file }) => {
    const p = file('big-v', '');
    const data = pattern(16 << 20, 27);
    const cut = [0, 1, 5_000_001, 12_345_678, 16 << 20];
    const pieces = cut.slice(1).map((end, i) => data.subarray(cut[i], end));
    const fh = await engine.open(p, 'r+');
    assert.equal((await fh.writev(pieces, 0)).bytesWritten, 16 << 20);
    assertBytes(fs.readFileSync(p), data, 'file after a 16 MiB writev');
    const back = pieces.map(b => sentinel(b.length));
    assert.equal((await fh.readv(back, 0)).bytesRead, 16 << 20);
    assertBytes(Buffer.concat(back), data, '16 MiB readv');
    await fh.close();
  });
});
