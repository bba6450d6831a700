// Faults from a real filesystem, on every engine: the fault-injecting FUSE filesystem
// (./faultfs.ts) answers chosen requests with EIO, ENOSPC at an offset, short transfers, slow
// replies, or a refused open. Every engine must answer as node:fs/promises does on the same files,
// keep going after the fault, and lose nothing it acknowledged: each block written carries a
// checksum of its bytes and its offset (as fio's verify does), checked on the disk afterwards.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { after } from 'node:test';
import type { Engine } from '../../src/index.js';
import { fsOn } from '../../src/fs/index.js';
import { assertBytes, conformance, outcome, pattern, type EngineCase, type Handle } from './engines.js';
import { mount, type FaultFs } from './faultfs.js';

const BLOCK = 4096;
const FULL_AT = 10 * BLOCK + 1000;  // a write reaching past it is cut short there, then ENOSPC
const BROKEN_AT = 4 * BLOCK;        // writes from here on fail with EIO
const BAD_AT = 2 * BLOCK;           // reads from here on fail with EIO
const SHORT = 1000;                 // reads of `short` move at most this much
const SLOW_MS = 150;

const RULES = [
  `eio:read:EIO@${BAD_AT}`,
  `short:read:short=${SHORT}`,
  `slow:read:delay=${SLOW_MS}`,
  `full:write:ENOSPC@${FULL_AT}`,
  `broken:write:EIO@${BROKEN_AT}`,
  'unsynced:fsync:EIO',
  'locked:open:EACCES',
  `slowopen:open:delay=${SLOW_MS}`,
];

let mounted: Promise<FaultFs | { skip: string }> | undefined;
after(async () => {
  const m = await mounted;
  if (m && 'unmount' in m) await m.unmount();
});

/** A fresh folder on the fault filesystem, and where a path there is behind it; or why there is none. */
async function place(kase: EngineCase): Promise<{ at: string; behind: (p: string) => string } | { skip: string }> {
  const m = await (mounted ??= mount(RULES));
  if ('skip' in m) return m;
  const at = fs.mkdtempSync(path.join(m.at, `${kase.name}-`));
  return { at, behind: p => path.join(m.backing, path.relative(m.at, p)) };
}

/** A block that says where it belongs: pattern bytes, then a SHA-256 of them and of its offset. */
function block(offset: number): Buffer {
  const b = pattern(BLOCK, offset / BLOCK + 1);
  checksum(b, offset).copy(b, BLOCK - 32);
  return b;
}
function checksum(b: Buffer, offset: number): Buffer {
  return createHash('sha256').update(b.subarray(0, BLOCK - 32)).update(String(offset)).digest();
}

/** Every acknowledged write ([offset, bytes]) is on the disk as written: whole blocks checked by checksum. */
function verify(file: string, acknowledged: [number, number][]): void {
  const disk = fs.readFileSync(file);
  for (const [offset, n] of acknowledged) {
    const got = disk.subarray(offset, offset + n);
    assertBytes(got, block(offset).subarray(0, n), `the ${n} bytes acknowledged at ${offset}`);
    if (n === BLOCK) assert.ok(checksum(got, offset).equals(got.subarray(BLOCK - 32)), `the checksum of the block at ${offset}`);
  }
}

/** What a read gives, reduced to what node and ioengine must agree on. */
const read = (p: Promise<{ bytesRead: number; buffer: Buffer }>) =>
  outcome(p.then(r => ({ bytesRead: r.bytesRead, bytes: r.buffer.subarray(0, r.bytesRead).toString('hex') })));

/** Runs scenario on a handle of node:fs/promises and on one of the engine (files in node/ and engine/), and compares. */
async function likeNode<T>(engine: Engine, at: string, setup: (dir: string) => void, flags: string,
  file: string, scenario: (fh: Handle) => Promise<T>, expect: (node: T) => T = node => node): Promise<{ result: T; dir: string }> {
  const here = fs.mkdtempSync(path.join(at, 'case-'));
  const run = async (tag: string, open: (p: string) => Promise<Handle>) => {
    const dir = path.join(here, tag);
    fs.mkdirSync(dir);
    setup(dir);
    const fh = await open(path.join(dir, file));
    try {
      return await scenario(fh);
    } finally {
      await fh.close();
    }
  };
  const node = await run('node', p => fsp.open(p, flags));
  const ours = await run('engine', p => engine.open(p, flags) as unknown as Promise<Handle>);
  assert.deepStrictEqual(ours, expect(node), 'ioengine and node:fs/promises answered differently');
  return { result: ours, dir: path.join(here, 'engine') };
}

/** How many of this process's descriptors are open on file. */
function descriptorsOn(file: string): number {
  return fs.readdirSync('/proc/self/fd').filter(fd => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`) === file;
    } catch {
      return false; // the listing's own descriptor, closed by now
    }
  }).length;
}

conformance('faults from the filesystem (FUSE)', (test, kase) => {
  test('a read that meets EIO fails as node\'s does (EIO, syscall read), the bytes before it read back, and the engine goes on', async ({ t, engine }) => {
    const where = await place(kase);
    if ('skip' in where) return t.skip(where.skip);
    const data = pattern(4 * BLOCK, 11);
    const setup = (dir: string) => fs.writeFileSync(path.join(dir, 'eio'), data);
    const { result } = await likeNode(engine, where.at, setup, 'r', 'eio', async fh => [
      await read(fh.read(Buffer.alloc(BLOCK), 0, BLOCK, 0)),
      await read(fh.read(Buffer.alloc(2 * BLOCK), 0, 2 * BLOCK, BLOCK)), // short: up to the fault
      await read(fh.read(Buffer.alloc(BLOCK), 0, BLOCK, BAD_AT)),
      await outcome(fh.readFile()),
      await read(fh.read(Buffer.alloc(BLOCK), 0, BLOCK, 0)), // the handle still works
    ]);
    assert.ok('error' in result[2] && result[2].error.code === 'EIO', 'the read at the fault failed with EIO');
    assert.deepStrictEqual(result[4], { value: { bytesRead: BLOCK, bytes: data.subarray(0, BLOCK).toString('hex') } }, 'a read after the fault');
  });

  test('short reads: each read, readFile and readv return what the filesystem gave, as node\'s; a read stream gets every byte', async ({ t, engine }) => {
    const where = await place(kase);
    if ('skip' in where) return t.skip(where.skip);
    const data = pattern(10 * SHORT + 123, 12);
    const setup = (dir: string) => fs.writeFileSync(path.join(dir, 'short'), data);
    const { result, dir } = await likeNode(engine, where.at, setup, 'r', 'short', async fh => [
      await read(fh.read(Buffer.alloc(BLOCK), 0, BLOCK, 0)),
      await read(fh.read(Buffer.alloc(BLOCK), 0, BLOCK, null)),
      await read(fh.read(Buffer.alloc(BLOCK), 0, BLOCK, null)), // the position moved by what was read
      await outcome(fh.readv([Buffer.alloc(BLOCK), Buffer.alloc(BLOCK)], 0).then(r => r.bytesRead)),
      await outcome(fh.readFile().then(b => b.toString('hex'))), // the rest, from the position
    ]);
    assert.deepStrictEqual(result[0], { value: { bytesRead: SHORT, bytes: data.subarray(0, SHORT).toString('hex') } }, 'a read got what the filesystem gave');
    const file = path.join(dir, 'short');
    // node's readFile takes a short read of a file up to 512 KiB for its end (the file shrank).
    assert.deepStrictEqual(await outcome(fsOn(engine).readFile(file)), await outcome(fsp.readFile(file)), 'readFile(path)');
    const handle = await engine.open(file, 'r');
    const chunks: Buffer[] = [];
    for await (const chunk of handle.createReadStream({ highWaterMark: BLOCK })) chunks.push(chunk as Buffer);
    assertBytes(Buffer.concat(chunks), data, 'a read stream over short reads');
  });

  test('positioned writes that meet ENOSPC: node\'s outcomes, and every acknowledged block is on the disk', async ({ t, engine }) => {
    const where = await place(kase);
    if ('skip' in where) return t.skip(where.skip);
    const offsets = Array.from({ length: 13 }, (_, i) => i * BLOCK);
    // The kernel's FUSE reports a short write it was given asynchronously (the ring, io_submit) as
    // EIO (fs/fuse/file.c, fuse_get_res_by_io); node's write(2) gets the short count.
    const kernelAsync = ['io_uring', 'linux-aio'].includes(engine.name);
    const eio = { error: { name: 'Error', code: 'EIO', errno: -5, message: 'EIO: i/o error, write', syscall: 'write' } };
    const { result, dir } = await likeNode(engine, where.at, () => {}, 'w', 'full', fh =>
      Promise.all(offsets.map(o => outcome(fh.write(block(o), 0, BLOCK, o).then(r => r.bytesWritten)))),
    node => kernelAsync ? node.map(r => 'value' in r && r.value < BLOCK ? eio : r) : node);
    assert.deepEqual(result.slice(0, 10).map(r => 'value' in r && r.value), Array(10).fill(BLOCK));
    if (!kernelAsync) assert.deepEqual(result[10], { value: FULL_AT % BLOCK }, 'the write that reached the fault was cut short');
    for (const r of result.slice(11)) assert.ok('error' in r && r.error.code === 'ENOSPC' && r.error.syscall === 'write', `ENOSPC: ${JSON.stringify(r)}`);
    const acknowledged = result.flatMap((r, i) => 'value' in r ? [[offsets[i], r.value] as [number, number]] : []);
    verify(where.behind(path.join(dir, 'full')), acknowledged);
  });

  test('writes at the current position that meet ENOSPC: node\'s outcomes, nothing acknowledged overwritten; writeFile fails as node\'s', async ({ t, engine }) => {
    const where = await place(kase);
    if ('skip' in where) return t.skip(where.skip);
    const { result, dir } = await likeNode(engine, where.at, () => {}, 'w', 'full', async fh => {
      const outcomes = [];
      for (let i = 0; i < 13; i++) outcomes.push(await outcome(fh.write(block(i * BLOCK), 0, BLOCK, null).then(r => r.bytesWritten)));
      return outcomes;
    });
    // Each write went where the one before it ended: the blocks are whole up to the fault.
    const acknowledged: [number, number][] = [];
    let at = 0;
    for (const r of result) if ('value' in r) acknowledged.push([at, r.value]), (at += r.value);
    assert.equal(at, FULL_AT, 'the writes filled the file up to the fault');
    verify(where.behind(path.join(dir, 'full')), acknowledged);

    const big = Buffer.concat(Array.from({ length: 16 }, (_, i) => block(i * BLOCK)));
    await likeNode(engine, where.at, () => {}, 'w', 'full', fh => outcome(fh.writeFile(big)));
    const node = await outcome(fsp.writeFile(path.join(dir, '..', 'node', 'full'), big));
    const ours = await outcome(fsOn(engine).writeFile(path.join(dir, 'full'), big));
    assert.deepStrictEqual(ours, node, 'writeFile(path) onto a full disk');
    assert.ok('error' in ours && ours.error.code === 'ENOSPC');
    assertBytes(fs.readFileSync(where.behind(path.join(dir, 'full'))), big.subarray(0, FULL_AT), 'what writeFile got onto the disk');
  });

  test('a batch of writes that meets EIO: an error per failed request, every acknowledged block on the disk', async ({ t, engine }) => {
    const where = await place(kase);
    if ('skip' in where) return t.skip(where.skip);
    const file = path.join(where.at, 'broken');
    const fh = await engine.open(file, 'w');
    const offsets = Array.from({ length: 8 }, (_, i) => i * BLOCK);
    const results = await fh.writeMany(offsets.map(o => ({ buffer: block(o), position: o })));
    await fh.close();
    assert.deepEqual(results.slice(0, 4), [BLOCK, BLOCK, BLOCK, BLOCK]);
    for (const r of results.slice(4)) {
      assert.ok(r instanceof Error, `a write past the fault failed: ${String(r)}`);
      assert.equal((r as NodeJS.ErrnoException).code, 'EIO');
      assert.equal((r as NodeJS.ErrnoException).syscall, 'write');
    }
    verify(where.behind(file), offsets.slice(0, 4).map(o => [o, BLOCK]));
  });

  test('fsync and fdatasync that fail: EIO with node\'s syscall; what was written before is on the disk', async ({ t, engine }) => {
    const where = await place(kase);
    if ('skip' in where) return t.skip(where.skip);
    const { result, dir } = await likeNode(engine, where.at, () => {}, 'w', 'unsynced', async fh => [
      await outcome(fh.write(block(0), 0, BLOCK, 0).then(r => r.bytesWritten)),
      await outcome(fh.sync()),
      await outcome(fh.datasync()),
    ]);
    assert.ok('error' in result[1] && result[1].error.code === 'EIO' && result[1].error.syscall === 'fsync');
    assert.ok('error' in result[2] && result[2].error.code === 'EIO' && result[2].error.syscall === 'fdatasync');
    verify(where.behind(path.join(dir, 'unsynced')), [[0, BLOCK]]);
  });

  test('an open the filesystem refuses: EACCES with syscall open and the path, as node\'s', async ({ t, engine }) => {
    const where = await place(kase);
    if ('skip' in where) return t.skip(where.skip);
    const file = path.join(where.at, 'locked');
    fs.writeFileSync(where.behind(file), 'x');
    const ours = await outcome(engine.open(file, 'r'));
    assert.deepStrictEqual(ours, await outcome(fsp.open(file, 'r')));
    assert.ok('error' in ours && ours.error.code === 'EACCES' && ours.error.path === file);
    assert.deepStrictEqual(await outcome(fsOn(engine).readFile(file)), await outcome(fsp.readFile(file)));
  });

  test('engine.close() with a close queued behind slow reads (every worker busy): the file ends closed and the close resolves', async ({ t, engine }) => {
    const where = await place(kase);
    if ('skip' in where) return t.skip(where.skip);
    const slow = path.join(where.at, 'slow');
    const plain = path.join(where.at, 'plain');
    fs.writeFileSync(where.behind(slow), pattern(4 * BLOCK, 5));
    fs.writeFileSync(where.behind(plain), 'x');
    const slowOpen = path.join(where.at, 'slowopen');
    fs.writeFileSync(where.behind(slowOpen), 'x');
    const reader = await engine.open(slow, 'r');
    const closed = await engine.open(plain, 'r');
    // More slow calls than any engine has threads or kernel workers (io_uring: 4 per CPU).
    const reads = Array.from({ length: 24 }, (_, i) => outcome(reader.read(Buffer.alloc(BLOCK), 0, BLOCK, (i % 4) * BLOCK)));
    const opens = Array.from({ length: 24 }, () => outcome(engine.open(slowOpen, 'r').then(h => h.close())));
    await new Promise(resolve => setImmediate(resolve));
    const closing = outcome(closed.close());
    await new Promise(resolve => setImmediate(resolve)); // the close is on its way, behind the reads
    await engine.close();
    for (const r of await Promise.all([...reads, ...opens])) if ('error' in r) assert.equal(r.error.code, 'ECANCELED', JSON.stringify(r));
    assert.deepEqual(await closing, { value: undefined }, 'the close resolved, as node\'s');
    assert.equal(descriptorsOn(plain), 0, 'the file was left open');
  });

  test('slow replies: close() with reads in flight resolves after each settled, with its bytes or ECANCELED; an abort in flight loses nothing', async ({ t, engine, newEngine }) => {
    const where = await place(kase);
    if ('skip' in where) return t.skip(where.skip);
    const data = pattern(4 * BLOCK, 13);
    const file = path.join(where.at, 'slow');
    fs.writeFileSync(where.behind(file), data);
    const fh = await engine.open(file, 'r');
    const settled: (PromiseSettledResult<{ bytesRead: number; buffer: Buffer }> | undefined)[] = [];
    [0, 1, 2, 3].forEach(i => {
      const p = fh.read(Buffer.alloc(BLOCK), 0, BLOCK, i * BLOCK);
      p.then(value => (settled[i] = { status: 'fulfilled', value }), reason => (settled[i] = { status: 'rejected', reason }));
    });
    await engine.close();
    await null; // the reads' own reactions run first: they were queued before close() resolved
    [0, 1, 2, 3].forEach(i => {
      const s = settled[i];
      assert.ok(s, `read ${i} had not settled when close() resolved`);
      if (s.status === 'rejected') assert.equal((s.reason as NodeJS.ErrnoException).code, 'ECANCELED', `read ${i}: ${String(s.reason)}`);
      else assertBytes(s.value.buffer.subarray(0, s.value.bytesRead), data.subarray(i * BLOCK, (i + 1) * BLOCK), `slow read ${i}`);
    });

    const other = newEngine();
    const h = await other.open(file, 'r');
    const ac = new AbortController();
    const into = Buffer.alloc(BLOCK);
    const pending = outcome(h.read(into, { offset: 0, length: BLOCK, position: BLOCK, signal: ac.signal } as never));
    setTimeout(() => ac.abort(), SLOW_MS / 3);
    const o = await pending;
    if ('error' in o) assert.equal(o.error.name, 'AbortError', `aborted in flight: ${JSON.stringify(o)}`);
    else assertBytes(into, data.subarray(BLOCK, 2 * BLOCK), 'a read that completed before its abort');
    const again = await h.read(Buffer.alloc(BLOCK), 0, BLOCK, 2 * BLOCK);
    assertBytes(again.buffer, data.subarray(2 * BLOCK, 3 * BLOCK), 'a read after the abort');
  });
});
