// read and write: at offsets, across EOF, of zero and of 16 MiB, at the current position, in
// every argument form node:fs/promises accepts, with every kind of ArrayBufferView.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { createEngine } from '../../src/index.js';
import { assertBytes, conformance, engineCases, outcome, pattern, sameAsNode, sentinel } from './engines.js';

const MiB = 1 << 20;

conformance('read-write', test => {
  test('writes at offsets land there, reads at offsets return those bytes', async ({ engine, file }) => {
    const p = file('offsets', pattern(10_000, 1));
    const expected = Buffer.from(pattern(10_000, 1));
    const fh = await engine.open(p, 'r+');
    const writes: [number, Buffer][] = [[0, pattern(100, 2)], [4095, pattern(2, 3)], [4097, pattern(5000, 4)], [9_999, pattern(1, 5)]];
    for (const [pos, data] of writes) {
      const r = await fh.write(data, 0, data.length, pos);
      assert.equal(r.bytesWritten, data.length);
      assert.equal(r.buffer, data, 'write() resolves with the buffer it was given');
      data.copy(expected, pos);
    }
    assertBytes(fs.readFileSync(p), expected, 'file after writes');
    for (const [pos, len] of [[0, 10_000], [1, 1], [4094, 4], [4097, 5000], [9_990, 10], [777, 3333]]) {
      const buf = sentinel(len + 6);
      const r = await fh.read(buf, 3, len, pos);
      assert.equal(r.bytesRead, len);
      assert.equal(r.buffer, buf, 'read() resolves with the buffer it was given');
      assertBytes(buf.subarray(3, 3 + len), expected.subarray(pos, pos + len), `read of ${len} at ${pos}`);
      assertBytes(buf.subarray(0, 3), sentinel(3), 'bytes before offset');
      assertBytes(buf.subarray(3 + len), sentinel(3), 'bytes after offset + length');
    }
    await fh.close();
  });

  test('every argument form of read() and write() means what it means in node:fs/promises', async ({ engine, dir }) => {
    const content = pattern(64, 6);
    await sameAsNode(engine, dir, { f: content }, async io => {
      const fh = await io.open('f', 'r+');
      const out: unknown[] = [];
      const show = async (p: Promise<{ bytesRead?: number; bytesWritten?: number; buffer: unknown }>) => {
        const o = await outcome(p);
        if (!('value' in o)) return o;
        const { buffer, ...rest } = o.value;
        return { ...rest, buffer: Buffer.isBuffer(buffer) ? buffer.toString('hex') : buffer };
      };
      out.push(await show(fh.read(sentinel(16), 2, 8, 5)));
      out.push(await show(fh.read(sentinel(16), { offset: 4, length: 6, position: 20 })));
      out.push(await show(fh.read(sentinel(16), { position: 40 })));
      out.push(await show(fh.read({ buffer: sentinel(16), offset: 1, length: 3, position: 60 })));
      out.push(await show(fh.read(sentinel(16), null, 4, 10)));
      out.push(await show(fh.write(Buffer.from('0123456789'), 2, 5, 30)));
      // write(buffer, options) is in node 20, not in its @types
      const writeOpts = fh.write as unknown as (b: Buffer, o: object) => Promise<{ bytesWritten: number; buffer: Buffer }>;
      out.push(await show(writeOpts.call(fh, Buffer.from('abcdefghij'), { offset: 1, length: 4, position: 50 })));
      out.push(await show(writeOpts.call(fh, Buffer.from('ZYXW'), { position: 70 })));
      out.push(await show(fh.write('héllo wörld', 3)));
      out.push(await show(fh.write('48656c6c6f', 80, 'hex')));
      out.push(await show(fh.write('aGVsbG8=', 90, 'base64')));
      out.push(await show(fh.write('latin1 ÿ', 100, 'latin1')));
      // the default read buffer is a fresh 16 KiB Buffer
      const r = await fh.read();
      out.push({ bytesRead: r.bytesRead, length: r.buffer.length, head: r.buffer.subarray(0, r.bytesRead).toString('hex') });
      return out;
    });
  });

  test('writes past EOF leave a hole of zeros, as node:fs does', async ({ engine, dir }) => {
    await sameAsNode(engine, dir, { f: 'abc' }, async io => {
      const fh = await io.open('f', 'r+');
      const w = await fh.write(Buffer.from('xyz'), 0, 3, 100_000);
      const st = await fh.stat();
      const buf = sentinel(10);
      const r = await fh.read(buf, 0, 10, 99_995);
      return { w: w.bytesWritten, size: st.size, r: r.bytesRead, bytes: buf.toString('hex') };
    });
  });

  test('a read across EOF is short and leaves the rest of the buffer alone; at and past EOF it reads 0 bytes', async ({ engine, file, dir }) => {
    const content = pattern(100, 7);
    const fh = await engine.open(file('eof', content), 'r');
    const buf = sentinel(50);
    let r = await fh.read(buf, 0, 50, 80);
    assert.equal(r.bytesRead, 20);
    assertBytes(buf.subarray(0, 20), content.subarray(80));
    assertBytes(buf.subarray(20), sentinel(30), 'bytes past the short read');
    for (const pos of [100, 101, 4096, 2 ** 40]) {
      const b = sentinel(8);
      r = await fh.read(b, 0, 8, pos);
      assert.equal(r.bytesRead, 0, `read at ${pos} of a 100-byte file`);
      assertBytes(b, sentinel(8), `buffer after a read at ${pos}`);
    }
    // at the current position: the whole file, then 0 bytes
    r = await fh.read(sentinel(200), 0, 200, null);
    assert.equal(r.bytesRead, 100);
    r = await fh.read(sentinel(200), 0, 200, null);
    assert.equal(r.bytesRead, 0);
    await fh.close();
    await sameAsNode(engine, dir, { f: content }, async io => {
      const h = await io.open('f');
      const out = [];
      for (const [len, pos] of [[50, 80], [1, 99], [1, 100], [10, 1000], [200, null], [200, null]] as const) {
        const b = sentinel(len);
        const res = await h.read(b, 0, len, pos);
        out.push([res.bytesRead, b.toString('hex')]);
      }
      return out;
    });
  });

  test('zero-length reads and writes complete with 0 bytes and change nothing', { io: false }, async ({ engine, file }) => {
    const content = pattern(32, 8);
    const p = file('zero', content);
    const fh = await engine.open(p, 'r+');
    const buf = sentinel(8);
    const results = [
      (await fh.read(buf, 0, 0, 0)).bytesRead,
      (await fh.read(buf, 8, 0, 0)).bytesRead,
      (await fh.read(buf, 0, 0, 1000)).bytesRead,
      (await fh.read(Buffer.alloc(0), 0, 0, 0)).bytesRead,
      (await fh.read(buf, 0, 0, null)).bytesRead,
      (await fh.write(Buffer.alloc(0), 0, 0, 0)).bytesWritten,
      (await fh.write(buf, 0, 0, 5)).bytesWritten,
      (await fh.write(buf, 3, 0, null)).bytesWritten,
      (await fh.write('', 5)).bytesWritten,
      (await fh.write(new Uint8Array(0))).bytesWritten,
    ];
    assert.deepEqual(results, Array(results.length).fill(0));
    assertBytes(buf, sentinel(8), 'buffer after zero-length reads');
    assertBytes(fs.readFileSync(p), content, 'file after zero-length writes');
    // nothing moved the current position
    const r = await fh.read(sentinel(4), 0, 4, null);
    assert.equal(r.bytesRead, 4);
    if (engine.name !== 'null') assertBytes(r.buffer, content.subarray(0, 4), 'first read at the current position');
    await fh.close();
  });

  test('16 MiB in one write and one read, every byte verified', { timeout: 60_000 }, async ({ engine, file }) => {
    const p = file('big');
    const data = pattern(16 * MiB, 9);
    const fh = await engine.open(p, 'w+');
    const w = await fh.write(data, 0, data.length, 0);
    assert.equal(w.bytesWritten, 16 * MiB);
    assertBytes(fs.readFileSync(p), data, 'file after a 16 MiB write');
    const back = sentinel(16 * MiB);
    const r = await fh.read(back, 0, back.length, 0);
    assert.equal(r.bytesRead, 16 * MiB);
    assertBytes(back, data, '16 MiB read');
    // 16 MiB asked for, less available: a short read of what is there
    const tail = sentinel(16 * MiB);
    const s = await fh.read(tail, 0, tail.length, 16 * MiB - 12345);
    assert.equal(s.bytesRead, 12345);
    assertBytes(tail.subarray(0, 12345), data.subarray(16 * MiB - 12345));
    assert.equal(tail[12345], 0xee, 'past the short read');
    await fh.close();
  });

  test('sequential operations at the current position (null) keep their order', async ({ engine, file }) => {
    const p = file('seq', '');
    const fh = await engine.open(p, 'r+');
    const chunks = Array.from({ length: 300 }, (_, i) => pattern(1 + ((i * 37) % 500), 100 + i));
    // started together, never awaited one by one: each must still continue where the last ended
    const writes = chunks.map((c, i) => i % 3 === 0 ? fh.write(c) : i % 3 === 1 ? fh.write(c, 0, c.length, null) : fh.write(c, { position: null }));
    const sizes = (await Promise.all(writes)).map(w => w.bytesWritten);
    assert.deepEqual(sizes, chunks.map(c => c.length));
    const all = Buffer.concat(chunks);
    assertBytes(fs.readFileSync(p), all, 'file after 300 writes at the current position');
    // the same for reads, from a fresh handle (position 0)
    const rh = await engine.open(p, 'r');
    const reads = chunks.map(c => rh.read(sentinel(c.length), 0, c.length, null));
    const got = (await Promise.all(reads)).map(r => r.buffer.subarray(0, r.bytesRead));
    assertBytes(Buffer.concat(got), all, 'concatenated reads at the current position');
    for (let i = 0; i < chunks.length; i++) assertBytes(got[i], chunks[i], `read ${i} at the current position`);
    // a positioned read or write in between does not move the current position (pread/pwrite)
    const h2 = await engine.open(p, 'r+');
    const a = h2.read(sentinel(10), 0, 10, null);
    const b = h2.write(Buffer.from('POSITIONED'), 0, 10, 50);
    const c = h2.read(sentinel(10), 0, 10, null);
    assertBytes((await a).buffer, all.subarray(0, 10));
    assert.equal((await b).bytesWritten, 10);
    assertBytes((await c).buffer, all.subarray(10, 20));
    await Promise.all([fh.close(), rh.close(), h2.close()]);
  });

  test('every ArrayBufferView works, at its own byteOffset, as in node:fs', async ({ engine, dir }) => {
    await sameAsNode(engine, dir, { f: pattern(256, 10) }, async io => {
      const fh = await io.open('f', 'r+');
      const ab = new ArrayBuffer(64);
      new Uint8Array(ab).set(pattern(64, 11));
      const views = [
        new Uint16Array(ab, 8, 4), new Float64Array(ab, 16, 2), new DataView(ab, 3, 7),
        new Int32Array(ab, 4, 3), Buffer.from(ab, 33, 9), new Uint8Array(ab, 60, 4),
      ];
      const out = [];
      let pos = 0;
      for (const v of views) {
        const w = await fh.write(v, 0, v.byteLength, pos);
        out.push(w.bytesWritten);
        pos += v.byteLength + 3;
      }
      const target = new ArrayBuffer(64);
      const into = [new DataView(target, 5, 11), new Uint32Array(target, 20, 3), new Float32Array(target, 40, 4)];
      for (const v of into) out.push((await fh.read(v, 0, v.byteLength, 7)).bytesRead);
      out.push(Buffer.from(target).toString('hex'));
      return out;
    });
  });

  test('open flags as strings and as numbers mean what they mean in node:fs', async ({ engine, dir }) => {
    const { O_RDWR, O_CREAT, O_TRUNC, O_WRONLY, O_APPEND, O_EXCL, O_RDONLY } = fs.constants;
    await sameAsNode(engine, dir, { existing: 'hello world', 'sub/': '' }, async io => {
      const out: unknown[] = [];
      const tryOpen = async (name: string, flags: string | number, mode?: number | string) => {
        const o = await outcome(io.open(name, flags, mode));
        return 'value' in o ? o.value : (out.push(o), undefined);
      };
      // 'w' truncates and creates; it cannot read
      let h = await tryOpen('existing', 'w');
      out.push((await h!.write('new'))?.bytesWritten, await outcome(h!.read(Buffer.alloc(4), 0, 4, 0)));
      h = await tryOpen('created-w', 'w');
      // 'a' appends, even to a write at a position (O_APPEND on Linux)
      h = await tryOpen('existing', 'a');
      await h!.write('+tail');
      await h!.write(Buffer.from('@0'), 0, 2, 0);
      // 'r+' neither creates nor truncates
      await tryOpen('missing', 'r+');
      h = await tryOpen('existing', 'r+');
      await h!.write('N', 1);
      // 'wx' and 'ax' refuse an existing file
      await tryOpen('existing', 'wx');
      await tryOpen('existing', 'ax');
      await tryOpen('created-wx', 'wx', 0o600);
      // 'w+' and 'a+' read back
      h = await tryOpen('created-wplus', 'w+');
      await h!.write('read me', 0);
      out.push((await h!.read(Buffer.alloc(7), 0, 7, 0)).buffer.toString());
      h = await tryOpen('created-aplus', 'a+', '640');
      await h!.write('appended', 0);
      out.push((await h!.read(Buffer.alloc(8), 0, 8, 0)).buffer.toString());
      // 'r' cannot write
      h = await tryOpen('existing', 'r');
      out.push(await outcome(h!.write('x', 0)));
      // numbers: fs.constants
      h = await tryOpen('num-create', O_RDWR | O_CREAT | O_TRUNC, 0o604);
      await h!.write('num', 0);
      h = await tryOpen('num-create', O_WRONLY | O_APPEND);
      await h!.write('+appended');
      await tryOpen('num-create', O_WRONLY | O_CREAT | O_EXCL);
      h = await tryOpen('num-create', O_RDONLY);
      out.push((await h!.read(Buffer.alloc(12), 0, 12, 0)).buffer.toString());
      await tryOpen('missing', O_RDONLY);
      // directories
      await tryOpen('sub', 'r+');
      await tryOpen('sub', 'w');
      return out;
    });
  });

  test('paths as string, Buffer and file: URL open the same file', async ({ engine, file }) => {
    const p = file('path forms é', 'same file');
    for (const form of [p, Buffer.from(p), new URL(`file://${p.split('/').map(encodeURIComponent).join('/')}`)]) {
      const fh = await engine.open(form, 'r');
      const r = await fh.read(Buffer.alloc(9), 0, 9, 0);
      assert.equal(r.buffer.toString(), 'same file', `opened as ${typeof form === 'string' ? 'string' : form.constructor.name}`);
      await fh.close();
    }
  });
});

// The null engine's own contract, the one place its results are checked (it is fio's null
// engine: operations succeed at once and do nothing).
describe('null engine contract', () => {
  const kase = engineCases().find(e => e.name === 'null');
  it('reads return the requested length and leave the buffer unchanged; stat returns zeros', async t => {
    if (!kase?.available) return t.skip(kase?.reason ?? 'no null engine');
    const engine = createEngine('null');
    try {
      const fh = await engine.open('/no/such/file/needed', 'r');
      const buf = sentinel(100);
      const r = await fh.read(buf, 10, 50, 0);
      assert.equal(r.bytesRead, 50);
      assertBytes(buf, sentinel(100));
      const v = await fh.readv([sentinel(3), sentinel(7)], 0);
      assert.equal(v.bytesRead, 10);
      assert.equal((await fh.write(buf, 0, 30, 0)).bytesWritten, 30);
      const st = await fh.stat();
      assert.equal(st.size, 0);
      assert.equal(st.isFile(), true);
      await fh.close();
    } finally {
      await engine.close();
    }
  });
});
