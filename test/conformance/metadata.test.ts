// stat, truncate, sync and datasync.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { assertBytes, conformance, outcome, pattern, sameAsNode } from './engines.js';

const NUMERIC = ['dev', 'mode', 'nlink', 'uid', 'gid', 'rdev', 'blksize', 'ino', 'size', 'blocks',
  'atimeMs', 'mtimeMs', 'ctimeMs', 'birthtimeMs'] as const;
const DATES = ['atime', 'mtime', 'ctime', 'birthtime'] as const;
const KINDS = ['isFile', 'isDirectory', 'isSymbolicLink', 'isFIFO', 'isSocket', 'isCharacterDevice', 'isBlockDevice'] as const;

/** Our stat() and node's FileHandle.stat() of the same file, taken back to back. */
async function bothStats(ours: { stat(): Promise<fs.Stats> }, path: string, flags = 'r') {
  const mine = await ours.stat();
  const nh = await fsp.open(path, flags);
  try {
    return { mine, node: await nh.stat() };
  } finally {
    await nh.close();
  }
}

conformance('metadata', test => {
  test('stat after writes: every field equal to node:fs stat of the same file', async ({ engine, file }) => {
    const p = file('stat', '');
    const fh = await engine.open(p, 'r+', 0o640);
    await fh.write(pattern(5000, 50), 0, 5000, 0);
    await fh.write(pattern(10, 51), 0, 10, 70_000);
    const { mine, node } = await bothStats(fh, p);
    assert.ok(mine instanceof fs.Stats, 'stat() gives an fs.Stats');
    assert.equal(mine.size, 70_010, 'size after writes');
    assert.ok(mine.blocks > 0, 'blocks after writes');
    for (const k of NUMERIC) assert.equal(mine[k], node[k], `stat().${k}`);
    for (const k of KINDS) assert.equal(mine[k](), node[k](), `stat().${k}()`);
    await fh.close();
  });

  test('stat() has the Date fields node:fs Stats has (atime, mtime, ctime, birthtime)', async ({ engine, file }) => {
    const p = file('dates', 'x');
    const fh = await engine.open(p, 'r');
    const { mine, node } = await bothStats(fh, p);
    for (const k of DATES) {
      assert.ok(mine[k] instanceof Date, `stat().${k} is a Date (it is ${typeof mine[k]})`);
      assert.equal(mine[k].getTime(), node[k].getTime(), `stat().${k}`);
    }
    await fh.close();
  });

  test('stat of a directory and of a file opened write-only', async ({ engine, dir, file }) => {
    const dh = await engine.open(dir, 'r');
    const { mine, node } = await bothStats(dh, dir);
    assert.equal(mine.isDirectory(), true);
    assert.equal(mine.isFile(), false);
    assert.equal(mine.ino, node.ino);
    const p = file('wo', 'abc');
    const wh = await engine.open(p, 'a');
    await wh.write('defg');
    const st = await wh.stat();
    assert.equal(st.size, 7);
    assert.equal(st.isFile(), true);
    await Promise.all([dh.close(), wh.close()]);
  });

  test('stat sees every write that completed before it, as soon as it completes', async ({ engine, file }) => {
    const p = file('grow', '');
    const fh = await engine.open(p, 'r+');
    let end = 0;
    for (let i = 1; i <= 20; i++) {
      const len = i * 97;
      await fh.write(pattern(len, 60 + i), 0, len, end + i);
      end += i + len;
      assert.equal((await fh.stat()).size, end, `size after write ${i}`);
    }
    await fh.close();
  });

  test('truncate shrinks, extends with zeros, and defaults to 0, as in node:fs', async ({ engine, dir }) => {
    await sameAsNode(engine, dir, { f: pattern(10_000, 52) }, async io => {
      const fh = await io.open('f', 'r+');
      const out: unknown[] = [];
      const size = async () => (await fh.stat()).size;
      await fh.truncate(4000);
      out.push(await size());
      await fh.truncate(20_000);
      out.push(await size());
      const tail = Buffer.alloc(16, 0xee);
      out.push((await fh.read(tail, 0, 16, 3995)).bytesRead, tail.toString('hex'));
      await fh.truncate(4000);
      await fh.truncate();
      out.push(await size());
      await fh.write('after', 0);
      await fh.truncate(-5); // node clamps a negative length to 0
      out.push(await size());
      await fh.write('again', 3);
      await fh.truncate(1);
      out.push(await size());
      return out;
    });
  });

  test('truncate on a read-only handle fails as in node:fs', async ({ engine, dir }) => {
    await sameAsNode(engine, dir, { f: 'keep me' }, async io => {
      const fh = await io.open('f', 'r');
      return outcome(fh.truncate(2));
    });
  });

  test('sync and datasync resolve to undefined, on writable, read-only and directory handles', async ({ engine, dir, file }) => {
    const p = file('sync', '');
    const fh = await engine.open(p, 'w');
    await fh.write(pattern(100_000, 53), 0, 100_000, 0);
    assert.equal(await fh.sync(), undefined);
    await fh.write(pattern(10, 54), 0, 10, 5);
    assert.equal(await fh.datasync(), undefined);
    const expected = Buffer.from(pattern(100_000, 53));
    pattern(10, 54).copy(expected, 5);
    assertBytes(fs.readFileSync(p), expected, 'file after sync and datasync');
    const ro = await engine.open(p, 'r');
    assert.equal(await ro.sync(), undefined);
    assert.equal(await ro.datasync(), undefined);
    const dh = await engine.open(dir, 'r');
    assert.equal(await dh.sync(), undefined);
    assert.equal(await dh.datasync(), undefined);
    // many at once on one handle, mixed with writes
    const ops: Promise<unknown>[] = [];
    for (let i = 0; i < 50; i++) {
      ops.push(fh.write(pattern(100, 70 + i), 0, 100, i * 100), i % 2 ? fh.sync() : fh.datasync());
    }
    await Promise.all(ops);
    for (let i = 0; i < 50; i++) pattern(100, 70 + i).copy(expected, i * 100);
    assertBytes(fs.readFileSync(p), expected, 'file after writes mixed with syncs');
    await Promise.all([fh.close(), ro.close(), dh.close()]);
  });
});
