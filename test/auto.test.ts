// auto's choices per kind of operation (src/engines/auto.ts): what it says it does, and that it
// does it. Each choice is seen from outside: a write that runs inline never makes the loop thread
// wait; large reads in flight together start the pool's threads; alone, or on O_DIRECT files,
// they do not. Data correctness on auto is the conformance suite's (auto is one of its engines).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { allocAligned, createEngine, engines, type FileHandle } from '../src/index.js';
import { AutoBackend, LARGE_READ, SYNCS_PER_FILE } from '../src/engines/auto.js';
import type { Backend, Done } from '../src/engines/backend.js';
import { errnoOf } from '../src/errors.js';

const uring = engines().find(e => e.name === 'io_uring')!;
const skip = uring.available ? false : `io_uring unavailable: ${uring.reason}`;
const MiB = 1 << 20;

// Not os.tmpdir(): that may be tmpfs, where writes are not ext4's and O_DIRECT is refused.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
let dir: string;
let file: string;
let directReason: string | false = false;
before(() => {
  dir = fs.mkdtempSync(path.join(root, '.auto-test-'));
  file = path.join(dir, 'data');
  fs.writeFileSync(file, Buffer.alloc(16 * MiB, 1));
  try {
    fs.closeSync(fs.openSync(file, fs.constants.O_DIRECT | fs.constants.O_RDONLY));
  } catch (err) {
    directReason = `this filesystem refuses O_DIRECT (${(err as Error).message})`;
  }
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The pool's threads in this process (started on its first use, named by native/pool.c). */
const poolThreads = () => fs.readdirSync('/proc/self/task').filter(t => {
  try {
    return fs.readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim() === 'ioengine-pool';
  } catch {
    return false; // a thread that ended meanwhile
  }
}).length;

/** Waits until earlier tests' pools are gone (a thread's task lingers a moment after its join). */
async function noPool(): Promise<void> {
  for (let i = 0; i < 200 && poolThreads() > 0; i++) await new Promise(resolve => setTimeout(resolve, 10));
  assert.equal(poolThreads(), 0, 'the pools of closed engines are gone');
}

/**
 * How many microtasks ran before promise settled, counted up to 1,000: work done inside the
 * submit call settles within a few; work the kernel or a thread does settles only after the
 * loop turns, which waits for the whole chain.
 */
async function microtasksBefore(start: () => Promise<unknown>): Promise<number> {
  return (await settling(start))[0];
}

/** A new turn of the loop: inline work has its whole budget (a turn that spent it waits for the next). */
const freshTurn = () => new Promise(resolve => setImmediate(resolve));

/** microtasksBefore, and what the promise settled with. */
async function settling<T>(start: () => Promise<T>): Promise<[number, T]> {
  await freshTurn();
  let ticks = 0;
  const tick = () => { if (ticks < 1000) { ticks++; queueMicrotask(tick); } };
  queueMicrotask(tick);
  const value = await start();
  const seen = ticks;
  ticks = 1000;
  return [seen, value];
}

describe('auto', () => {
  it('says what it does with each kind of operation, in engines() and on the engine', () => {
    const engine = createEngine('auto');
    try {
      const on = engines().find(e => e.auto);
      assert.ok(on, 'one engine of engines() says auto runs on it');
      assert.equal(on.name, engine.name);
      assert.deepEqual(engine.choices, on.auto);
      for (const c of engine.choices!) for (const key of ['operations', 'way', 'why'] as const) assert.ok(c[key].length > 0, key);
    } finally {
      void engine.close();
    }
  });

  it('a named engine makes no choices', async () => {
    const engine = createEngine('pool');
    assert.equal(engine.choices, undefined);
    await engine.close();
  });

  it('refuses an inline that is not a boolean, before any I/O', () => {
    assert.throws(() => createEngine('pool', { inline: 1 as unknown as boolean }), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  });

  it('runs buffered writes inline: 2,000 writes, one at a time, and the loop thread hardly ever waits', { skip }, async () => {
    const buf = Buffer.alloc(4096, 7);
    // A write that waits (the journal, writeback) pauses inline writes for a while, longer each
    // time it happens again: such a run is tried again, up to three times, each on an engine of
    // its own. On the ring the loop thread sleeps for most writes (ext4 hands each to a kernel
    // worker), so every try fails without inline writes.
    // The loop thread's own waits (/proc/thread-self: this thread's), not the process's: V8's
    // helper threads wait too, the more under ASan. What earlier tests left for writeback is
    // written first (sync), so that a try measures its own writes.
    const loopWaits = () => Number(/^voluntary_ctxt_switches:\s*(\d+)$/m.exec(fs.readFileSync('/proc/thread-self/status', 'utf8'))![1]);
    const waits: number[] = [];
    for (let attempt = 0; attempt < 3 && !(waits.at(-1)! < 400); attempt++) {
      execFileSync('sync');
      const engine = createEngine('auto');
      assert.ok(engine.choices!.some(c => c.way.startsWith('inline')));
      const h = await engine.open(path.join(dir, 'inline'), 'w+');
      const before = loopWaits();
      for (let i = 0; i < 2000; i++) await h.write(buf, 0, 4096, (i % 256) * 4096);
      waits.push(loopWaits() - before);
      await h.close();
      await engine.close();
    }
    assert.ok(waits.at(-1)! < 400, `waits of the loop thread for 2,000 writes, by try: ${waits.join(', ')}`);
    assert.equal(fs.statSync(path.join(dir, 'inline')).size, 256 * 4096);
  });

  it('reads a cached block alone at once, inside the call: no batch microtask before it settles', { skip }, async () => {
    // Submitted the usual way, a read waits one more microtask, for the batch's flush: the control.
    for (const [options, atOnce] of [[{}, true], [{ inline: false }, false]] as const) {
      const engine = createEngine('auto', options);
      const h = await engine.open(file, 'r');
      await h.read(Buffer.alloc(4096), 0, 4096, 0); // cached, and the file looked at
      const [seen, { bytesRead }] = await settling(() => h.read(Buffer.alloc(4096), 0, 4096, 4096));
      assert.equal(bytesRead, 4096);
      assert.equal(seen < 2, atOnce, `${seen} microtasks ran before the read settled (inline ${options.inline !== false})`);
      await h.close();
      await engine.close();
    }
  });

  it('writes a buffered block alone at once, inside the call: no batch microtask before it settles', { skip }, async () => {
    for (const [options, atOnce] of [[{}, true], [{ inline: false }, false]] as const) {
      const engine = createEngine('auto', options);
      const p = path.join(dir, `alone-${atOnce}`);
      const h = await engine.open(p, 'w+');
      await h.write(Buffer.alloc(4096, 1), 0, 4096, 0); // the file looked at
      const [seen, { bytesWritten }] = await settling(() => h.write(Buffer.alloc(4096, 2), 0, 4096, 4096));
      assert.equal(bytesWritten, 4096);
      assert.equal(seen < 2, atOnce, `${seen} microtasks ran before the write settled (inline ${options.inline !== false})`);
      await h.close();
      await engine.close();
      const back = fs.readFileSync(p);
      assert.ok(back.length === 8192 && back.subarray(0, 4096).every(b => b === 1) && back.subarray(4096).every(b => b === 2));
    }
  });

  it('writes a block alone at the file position at once too (a write stream\'s), and the position moves as node:fs moves it', { skip }, async () => {
    for (const [options, atOnce] of [[{}, true], [{ inline: false }, false]] as const) {
      const engine = createEngine('auto', options);
      const p = path.join(dir, `position-${atOnce}`);
      const h = await engine.open(p, 'w+');
      await h.write(Buffer.alloc(4096, 1)); // the file looked at; the position at 4096
      // (The handle runs writes at the file position one after another: a few microtasks apart.)
      const [seen, { bytesWritten }] = await settling(() => h.write(Buffer.alloc(4096, 2)));
      assert.equal(bytesWritten, 4096);
      assert.equal(seen < 10, atOnce, `${seen} microtasks ran before the write settled (inline ${options.inline !== false})`);
      const stream = h.createWriteStream();
      for (let i = 3; i < 6; i++) stream.write(Buffer.alloc(4096, i));
      await new Promise<void>((resolve, reject) => stream.end((err?: Error | null) => (err ? reject(err) : resolve())));
      await h.close();
      await engine.close();
      const back = fs.readFileSync(p);
      assert.equal(back.length, 5 * 4096);
      for (let i = 0; i < 5; i++) assert.ok(back.subarray(i * 4096, (i + 1) * 4096).every(b => b === i + 1), `block ${i}`);
    }
  });

  it('writes inline only what takes microseconds: not over 256 KiB, not O_DSYNC, not past an fsync in flight', { skip }, async () => {
    // On the pool whatever is not inline runs on a thread, so it settles only after the loop
    // turns (io_uring may itself complete a large cached write inside the submit call).
    for (const [name, options] of [['auto', {}], ['pool', { inline: true }]] as const) {
      const engine = createEngine(name, options);
      const p = path.join(dir, `which-${name}`);
      const h = await engine.open(p, 'w+');
      const small = Buffer.alloc(4096, 3), large = Buffer.alloc(1 << 20, 4);
      await h.write(small, 0, small.length, 0);
      assert.ok(await microtasksBefore(() => h.write(small, 0, small.length, 0)) < 10, `${name}: a 4 KiB write settles inside the submit call`);
      if (name === 'pool') {
        assert.equal(await microtasksBefore(() => h.write(large, 0, large.length, 0)), 1000, 'a 1 MiB write goes to a thread');
        const ticks = await microtasksBefore(() => Promise.all([h.sync(), h.write(small, 0, small.length, 8192)]));
        assert.equal(ticks, 1000, 'the write waits for the fsync started before it');
        const synced = await engine.open(p, fs.constants.O_RDWR | fs.constants.O_DSYNC);
        assert.equal(await microtasksBefore(() => synced.write(small, 0, small.length, 0)), 1000, 'an O_DSYNC write waits for the device on a thread');
        await synced.close();
      }
      await h.close();
      await engine.close();
    }
    const back = fs.readFileSync(path.join(dir, 'which-pool'));
    assert.equal(back.length, 1 << 20);
    assert.ok(back.subarray(0, 4096).every(b => b === 3) && back.subarray(4096, 8192).every(b => b === 4) && back.subarray(8192, 12288).every(b => b === 3));
  });

  it('writes a batch\'s inline writes together, before what the batch starts after them on their file', { skip }, async () => {
    // On the thread engine, a 1 MiB write starts its thread as soon as the batch reaches it: the
    // 4 KiB writes before it on its file, taken to go inline together, must be written first,
    // also when it goes through another handle of the file. (In a round where a slow write paused
    // inline writes, they go to threads too, with no order among them: such rounds are not counted.)
    const engine = createEngine('thread', { inline: true });
    const p = path.join(dir, 'order');
    const h = await engine.open(p, 'w+');
    const other = await engine.open(p, 'r+');
    const large = Buffer.alloc(1 << 20, 6);
    let inline = 0;
    for (let round = 0; round < 20; round++) {
      let after: Promise<unknown> | undefined;
      // 40 blocks: more than one io_submit's worth; then the large write over the first 256,
      // and more for threads (each thread's start is tens of microseconds the batch goes on).
      const [seen] = await settling(() => {
        const small = Array.from({ length: 40 }, (_, i) => h.write(Buffer.alloc(4096, 10 + i), 0, 4096, i * 4096));
        after = Promise.all([other.write(large, 0, large.length, 0), ...Array.from({ length: 16 }, () => h.stat())]);
        return Promise.all(small);
      });
      await after;
      if (seen < 1000) {
        inline++;
        const back = fs.readFileSync(p);
        assert.equal(back.length, 1 << 20);
        assert.ok(back.every(b => b === 6), `round ${round}: the 1 MiB write, started after the 4 KiB ones, is what the file holds`);
      }
      await h.write(Buffer.alloc(1 << 20), 0, 1 << 20, 0);
    }
    await other.close();
    await h.close();
    await engine.close();
    assert.ok(inline >= 10, `rounds whose 4 KiB writes ran inline: ${inline} of 20`);
  });

  it('sends large reads in flight together to the pool, and keeps one alone on the ring', { skip }, async () => {
    await noPool();
    const engine = createEngine('auto');
    const h = await engine.open(file, 'r');
    for (let i = 0; i < 8; i++) {
      const buf = Buffer.alloc(LARGE_READ);
      assert.equal((await h.read(buf, 0, buf.length, i * buf.length)).bytesRead, buf.length);
      assert.equal(buf[buf.length - 1], 1);
    }
    assert.equal(poolThreads(), 0, 'one large read at a time started no thread');
    const bufs = Array.from({ length: 8 }, () => Buffer.alloc(LARGE_READ));
    const results = await Promise.all(bufs.map((b, i) => h.read(b, 0, b.length, i * b.length)));
    assert.ok(poolThreads() > 0, 'large reads in flight together started the pool');
    assert.deepEqual(results.map(r => r.bytesRead), bufs.map(b => b.length));
    assert.ok(bufs.every(b => b.every(x => x === 1)));
    await h.close();
    await engine.close();
  });

  it('sends every large read of a file read ahead (several at once) to the pool, until it is closed', { skip }, async () => {
    const engine = createEngine('auto');
    const poolBytesRead = () => fs.readdirSync('/proc/self/task').reduce((sum, t) => {
      try {
        if (fs.readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim() !== 'ioengine-pool') return sum;
        return sum + Number(/rchar: (\d+)/.exec(fs.readFileSync(`/proc/self/task/${t}/io`, 'utf8'))![1]);
      } catch {
        return sum; // a thread that just ended
      }
    }, 0);
    const readAlone = async (h: FileHandle) => {
      const before = poolBytesRead();
      const buf = Buffer.alloc(LARGE_READ);
      assert.equal((await h.read(buf, 0, buf.length, 0)).bytesRead, buf.length);
      return poolBytesRead() - before;
    };
    const ahead = await engine.open(file, 'r'), other = await engine.open(file, 'r');
    await Promise.all([0, 1, 2, 3].map(i => ahead.read(Buffer.alloc(LARGE_READ), 0, LARGE_READ, i * LARGE_READ)));
    assert.ok(await readAlone(ahead) >= LARGE_READ, 'a file read ahead: even a read alone goes to the pool');
    assert.equal(await readAlone(other), 0, 'another file\'s read alone stays on the ring');
    await Promise.all([ahead.close(), other.close()]);
    await engine.close();
  });

  it('takes back a large read on the pool when its signal aborts', { skip }, async () => {
    const engine = createEngine('auto');
    const h = await engine.open(file, 'r');
    const ac = new AbortController();
    const reads = Array.from({ length: 16 }, (_, i) => h.read(Buffer.alloc(MiB), { position: i * MiB, signal: i === 15 ? ac.signal : undefined }));
    ac.abort();
    const settled = await Promise.allSettled(reads);
    const last = settled[15];
    // Taken back before it ran, or finished first: either way nothing is left in flight.
    if (last.status === 'rejected') assert.equal((last.reason as Error).name, 'AbortError');
    assert.ok(settled.slice(0, 15).every(s => s.status === 'fulfilled'));
    await h.close();
    await engine.close();
  });

  it('keeps large O_DIRECT reads on the ring: no thread copies them', { skip }, async t => {
    if (directReason) return t.skip(directReason);
    await noPool();
    const engine = createEngine('auto');
    const h = await engine.open(file, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
    const bufs = Array.from({ length: 8 }, () => allocAligned(LARGE_READ, 4096));
    const results = await Promise.all(bufs.map((b, i) => h.read(b, 0, b.length, i * b.length)));
    assert.deepEqual(results.map(r => r.bytesRead), bufs.map(b => b.length));
    assert.equal(poolThreads(), 0, 'no pool thread started');
    await h.close();
    await engine.close();
  });

  it('runs at most two fsyncs of a file at once; those asked for meanwhile go as one, started after all of them', () => {
    // A stand-in for the engine auto runs on: it records each fsync and completes it when told.
    const started: { fd: number; full: boolean; done: Done; asked: number }[] = [];
    let asked = 0, cancels = 0;
    const base = {
      fsync: (fd: number, done: Done) => void started.push({ fd, full: true, done, asked }),
      fdatasync: (fd: number, done: Done) => void started.push({ fd, full: false, done, asked }),
      cancel: () => void cancels++,
    } as unknown as Backend;
    const auto = new AutoBackend(base, () => base);
    const results = new Map<string, number>();
    const ask = (name: string, fd: number, full: boolean): Done => {
      asked++;
      const done: Done = r => { assert.ok(!results.has(name), `${name} completes once`); results.set(name, r); };
      if (full) auto.fsync(fd, done);
      else auto.fdatasync(fd, done);
      return done;
    };
    assert.equal(SYNCS_PER_FILE, 2);
    ask('a', 3, true);
    ask('b', 3, false);
    ask('other file', 4, true);
    assert.deepEqual(started.map(s => [s.fd, s.full]), [[3, true], [3, false], [4, true]], 'two of file 3 at once, and file 4\'s own');
    ask('c', 3, false);
    ask('d', 3, true);
    ask('e', 3, false);
    assert.equal(started.length, 3, 'the third of file 3 waits');
    started[0].done(0);
    assert.equal(results.get('a'), 0);
    assert.equal(started.length, 4, 'the waiting three go as one when one ends');
    assert.deepEqual([started[3].fd, started[3].full, started[3].asked], [3, true, 6], 'an fsync (d asked for one), started after all three were asked for');
    assert.ok(!results.has('c') && !results.has('d') && !results.has('e'), 'not done before their own fsync is');
    ask('f', 3, false);
    started[1].done(0);
    assert.equal(results.get('b'), 0);
    assert.deepEqual([started[4].full, started[4].asked], [false, 7], 'f alone: an fdatasync');
    started[3].done(-5);
    assert.deepEqual(['c', 'd', 'e'].map(n => results.get(n)), [-5, -5, -5], 'the group shares its fsync\'s result, an error too');
    // Taken back before it started (an abort, or the engine closing): it never goes to the engine.
    ask('g', 3, true);
    assert.equal(started.length, 6, 'g runs beside f');
    const h = ask('h', 3, true);
    ask('i', 3, true);
    auto.abort(h);
    assert.equal(results.get('h'), errnoOf('ECANCELED'));
    auto.cancel();
    assert.equal(results.get('i'), errnoOf('ECANCELED'));
    assert.equal(cancels, 1, 'the engine cancels what it runs');
    for (const i of [4, 5, 2]) started[i].done(0);
    assert.equal(started.length, 6, 'nothing taken back ever started');
    assert.deepEqual(['f', 'g', 'other file'].map(n => results.get(n)), [0, 0, 0]);
  });

  it('takes back an fsync on abort when it is alone in it, and never leaves one stuck behind a call that threw', () => {
    const started: { full: boolean; done: Done }[] = [];
    const aborted: Done[] = [];
    let throwing: Error | undefined;
    const start = (full: boolean) => (fd: number, done: Done) => {
      if (throwing) throw throwing;
      started.push({ full, done });
    };
    const base = { fsync: start(true), fdatasync: start(false), abort: (d: Done) => void aborted.push(d), cancel: () => {} } as unknown as Backend;
    const auto = new AutoBackend(base, () => base);
    const results = new Map<string, number>();
    const ask = (name: string): Done => {
      const done: Done = r => void results.set(name, r);
      auto.fsync(3, done);
      return done;
    };
    // Running alone: the abort reaches the engine, whose fsync then ends cancelled.
    const a = ask('a');
    auto.abort(a);
    assert.deepEqual(aborted, [started[0].done], 'the engine is asked for the fsync it runs');
    started[0].done(errnoOf('ECANCELED'));
    assert.equal(results.get('a'), errnoOf('ECANCELED'));
    // Sharing its fsync with another caller: it runs on for both.
    ask('b'); ask('c');
    const d = ask('d');
    ask('e');
    started[1].done(0);
    assert.equal(started.length, 4, 'd and e go as one');
    auto.abort(d);
    assert.equal(aborted.length, 1, 'an fsync two callers wait for is not cancelled for one');
    started[3].done(0);
    started[2].done(0);
    assert.deepEqual(['b', 'c', 'd', 'e'].map(n => results.get(n)), [0, 0, 0, 0]);
    // Nothing left of the file: the next starts at once.
    ask('f');
    assert.equal(started.length, 5);
    started[4].done(0);
    // A start that throws: the caller hears it, and the file is not left counting it.
    throwing = new Error('no memory');
    assert.throws(() => ask('g'), /no memory/);
    assert.throws(() => ask('h'), /no memory/);
    throwing = undefined;
    ask('i'); ask('j'); ask('k');
    assert.equal(started.length, 7, 'two run again, the third waits');
    throwing = Object.assign(new Error('EIO'), { errno: errnoOf('EIO') });
    started[5].done(0);
    assert.equal(results.get('k'), errnoOf('EIO'), 'a group whose start threw hears the error');
    throwing = undefined;
    started[6].done(0);
    assert.deepEqual(['i', 'j'].map(n => results.get(n)), [0, 0]);
    ask('l');
    assert.equal(started.length, 8, 'nothing left waiting or counted');
  });

  it('makes many fsyncs of one file at once, and each completes', { skip }, async () => {
    const engine = createEngine('auto');
    const h = await engine.open(path.join(dir, 'syncs'), 'w+');
    const buf = Buffer.alloc(4096, 5);
    await Promise.all(Array.from({ length: 16 }, async (_, i) => {
      await h.write(buf, 0, buf.length, i * 4096);
      await (i % 2 ? h.datasync() : h.sync());
    }));
    await h.close();
    await engine.close();
    assert.equal(fs.statSync(path.join(dir, 'syncs')).size, 16 * 4096);
  });
});
