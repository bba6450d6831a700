// The `auto` engine: each kind of operation goes the way that measured fastest here without
// standing the event loop still (BENCHMARKS.md, "auto, per operation"). It runs on the first of
// its candidates that sets up (io_uring, else libuv, else pool: registry.ts), and on that engine:
// - page-cache work runs on the loop thread, within about half a millisecond per turn (the
//   `inline` option, native/inline.c): a read alone is read at once with RWF_NOWAIT (a read the
//   cache lacks answers EAGAIN and goes to the ring), and so is a buffered write alone at a
//   position; buffered writes started together run inside the submit call, many to one
//   io_submit (ext4 has no non-blocking buffered write, so the ring hands every one to a kernel
//   worker);
// - large reads with others in flight go to the pool, whose threads copy them on every core;
//   alone, a large read is cheaper on the ring (inline up to 512 KiB, by a kernel worker above);
// - fsyncs of one file: at most two at once; those asked for meanwhile go together as one;
// - everything else as the engine itself does it (io_uring completes page-cache reads inside
//   the submit call and keeps the device busy without a thread).
import { constants } from 'node:fs';
import { errnoOf } from '../errors.js';
import type { Bytes } from '../validate.js';
import type { Backend, Done } from './backend.js';

const { O_DIRECT } = constants;
const ECANCELED = errnoOf('ECANCELED');
const EIO = errnoOf('EIO');

/**
 * fsyncs of one file in flight at once. More only contend: each writes back the same file's
 * pages and waits for the same journal commits (8 at once ran at 0.7x of two at a time here).
 */
export const SYNCS_PER_FILE = 2;

/**
 * A large read's own callback, kept on the caller's: abort() finds the engine's by it. Not in a
 * table of reads in flight: a Map's rehashes, then an array, each kept the reads' closures (and
 * their buffers) alive past young collections (four read streams at once: 0.8x of the pool).
 */
const ENGINE_DONE = Symbol('the engine\'s done');
type Routed = Done & { [ENGINE_DONE]?: Done };

/** One fsync running for a group of callers. */
interface SyncRun { group: Done[]; finished: Done }
/** A file's fsyncs (and fdatasyncs): those running, and those waiting to go as one. */
interface FileSyncs { running: SyncRun[]; waiting: Done[]; full: boolean }

/**
 * A read this large, with others in flight, is copied faster by threads on every core than by the
 * ring one after another on the loop's. Smaller ones are not: 128 KiB reads 8 deep ran 1.15-1.2x
 * faster on the ring than on the pool where the page cache holds the file in large folios, and
 * 0.95x where it holds 4 KiB pages; from 384 KiB the pool was 1.3-1.7x faster on both.
 */
export const LARGE_READ = 256 * 1024;

/** What auto does with one kind of operation, and why: engines() and the bench tell it. */
export interface AutoChoice {
  operations: string;
  way: string;
  why: string;
}

/** auto's choices when it runs on `engine` (with `inline` as given), with its pool for large reads. */
export function autoChoices(engine: string, inline: boolean, pool: boolean): AutoChoice[] {
  const choices: AutoChoice[] = [];
  if (inline) choices.push({
    operations: 'a read alone (no other starting) of up to 256 KiB that the page cache holds, on a local file',
    way: 'inline: read at once on the loop thread (pread with RWF_NOWAIT), within about 0.5 ms per turn of the loop',
    why: 'one syscall, with no batch to wait for; a read the cache lacks is refused at once by the kernel and goes the engine\'s way. Of reads starting together only the first: the rest go to the kernel together, which costs less per read',
  });
  if (inline) choices.push({
    operations: 'buffered writes of up to 256 KiB, on a local file (not O_SYNC, O_DSYNC or mounted sync): at a position, or alone at the file position (a write stream\'s)',
    way: 'inline: on the loop thread, within about 0.5 ms per turn of the loop: a write alone at once (pwrite, or write at the file position), writes started together inside the call that submits them, up to 32 to one io_submit',
    why: 'the page cache takes one in microseconds, less than a handoff to a thread; ext4 has no non-blocking buffered write, so io_uring would hand each to a kernel worker. One syscall for many: where a syscall costs a microsecond, that is most of a 4 KiB write. Writes that wait (throttling, the journal) pause this for a while',
  });
  if (pool) choices.push({
    operations: `buffered reads of ${LARGE_READ / 1024} KiB or more while another is in flight, or of a file read several at a time (read-ahead)`,
    way: 'pool',
    why: 'copying large reads out of the page cache is the work: threads do it on every core at once',
  });
  if (pool) choices.push({
    operations: `fsync and fdatasync of a file that has ${SYNCS_PER_FILE} in flight`,
    way: 'together: those asked for meanwhile wait, then go as one (an fsync if any of them is one)',
    why: 'fsyncs of one file write back the same pages and wait for the same journal commits: more at once only contend. The one that goes starts after every one of them was asked for, so it makes durable all that each promises',
  });
  choices.push({
    operations: 'everything else (reads, direct and synchronous writes, fsync, open, close, path operations)',
    way: engine,
    why: engine === 'io_uring'
      ? 'page-cache reads complete inside the submit call, device I/O stays in flight without a thread; what the ring cannot do well (stat by path, whole small files, directories) goes to its pool'
      : 'the first of auto\'s candidates that runs here',
  });
  return choices;
}

export class AutoBackend implements Backend {
  readonly #base: Backend;
  /** The engine's own pool (its fallback, which it cancels and destroys). */
  readonly #pool: () => Backend;
  #largeReads = 0;
  /** Large reads in flight by file, and the files that have had several at once. */
  readonly #largeByFile = new Map<number, number>();
  readonly #readAhead = new Set<number>();
  /** Files opened with O_DIRECT: their reads stay on the engine. */
  readonly #direct = new Set<number>();
  /** Files with fsyncs in flight. */
  readonly #syncs = new Map<number, FileSyncs>();

  constructor(base: Backend, pool: () => Backend) {
    this.#base = base;
    this.#pool = pool;
  }

  /**
   * Where a read of length goes: the pool when it is large and another large one is in flight,
   * or when its file is read several large reads at a time (read-ahead: a stream, a parallel
   * reader), so that each of its reads is copied beside the program's work, not in its way.
   */
  #readOn(fd: number, length: number, position: number, done: Done): [Backend, Done] {
    // At the file position (-1) reads stay in order on one engine; direct reads copy nothing.
    if (length < LARGE_READ || position < 0 || this.#direct.has(fd)) return [this.#base, done];
    const onFile = this.#largeByFile.get(fd) ?? 0;
    if (onFile > 0) this.#readAhead.add(fd);
    let on = this.#base;
    if (this.#largeReads > 0 || this.#readAhead.has(fd)) {
      try {
        on = this.#pool();
      } catch {
        // No pool here now (threads or files short): the engine reads it itself.
      }
    }
    this.#largeReads++;
    this.#largeByFile.set(fd, onFile + 1);
    const counted: Done = result => {
      this.#largeReads--;
      const left = this.#largeByFile.get(fd)! - 1;
      if (left > 0) this.#largeByFile.set(fd, left);
      else this.#largeByFile.delete(fd);
      done(result);
    };
    (done as Routed)[ENGINE_DONE] = counted;
    return [on, counted];
  }

  read(fd: number, buffer: Bytes, offset: number, length: number, position: number, done: Done): void {
    // Most reads are small: straight on, with no pair to make (one allocation per read fewer).
    if (length < LARGE_READ) return this.#base.read(fd, buffer, offset, length, position, done);
    const [on, counted] = this.#readOn(fd, length, position, done);
    on.read(fd, buffer, offset, length, position, counted);
  }
  readv(fd: number, buffers: Bytes[], position: number, done: Done): void {
    const [on, counted] = this.#readOn(fd, buffers.reduce((n, b) => n + b.byteLength, 0), position, done);
    on.readv(fd, buffers, position, counted);
  }

  fsync(fd: number, done: Done): void { this.#sync(fd, true, done); }
  fdatasync(fd: number, done: Done): void { this.#sync(fd, false, done); }

  /** An fsync (full) or fdatasync of fd, now or, when the file has SYNCS_PER_FILE running, with the next group. */
  #sync(fd: number, full: boolean, done: Done): void {
    let s = this.#syncs.get(fd);
    if (!s) this.#syncs.set(fd, (s = { running: [], waiting: [], full: false }));
    if (s.running.length < SYNCS_PER_FILE) return this.#startSync(fd, s, full, [done], true);
    s.waiting.push(done);
    s.full ||= full;
  }

  /** One fsync for group: asked for by its one caller now (direct), or by those that waited. */
  #startSync(fd: number, s: FileSyncs, full: boolean, group: Done[], direct: boolean): void {
    const run: SyncRun = { group, finished: result => this.#syncEnded(fd, s, run, result) };
    s.running.push(run);
    try {
      if (full) this.#base.fsync(fd, run.finished);
      else this.#base.fdatasync(fd, run.finished);
    } catch (err) {
      // Not started, so it never finishes. A caller's own throws to that caller, as any
      // operation's start does; a group that waited hears it as an error result.
      if (direct) {
        this.#syncEnded(fd, s, run, undefined);
        throw err;
      }
      const errno = (err as { errno?: unknown } | null)?.errno;
      this.#syncEnded(fd, s, run, typeof errno === 'number' && errno < 0 ? errno : EIO);
    }
  }

  /** An fsync of the file ended: the waiting ones go as the next, its group hears result (if any). */
  #syncEnded(fd: number, s: FileSyncs, run: SyncRun, result: number | undefined): void {
    s.running.splice(s.running.indexOf(run), 1);
    if (s.waiting.length > 0) {
      const next = s.waiting, nextFull = s.full;
      s.waiting = [];
      s.full = false;
      this.#startSync(fd, s, nextFull, next, false);
    } else if (s.running.length === 0) {
      this.#syncs.delete(fd);
    }
    if (result === undefined) return;
    let thrown: { error: unknown } | undefined;
    for (const done of run.group) {
      try {
        done(result);
      } catch (error) {
        thrown ??= { error }; // the others still hear theirs
      }
    }
    if (thrown) throw thrown.error;
  }

  /**
   * An abort of an fsync: a waiting one is taken back (never started), one running alone is
   * cancelled in the engine, one sharing its fsync with others runs on. False: done is no fsync.
   */
  #abortSync(done: Done): boolean {
    for (const s of this.#syncs.values()) {
      const i = s.waiting.indexOf(done);
      if (i >= 0) {
        s.waiting.splice(i, 1);
        if (s.waiting.length === 0) s.full = false;
        done(ECANCELED);
        return true;
      }
      const run = s.running.find(r => r.group.includes(done));
      if (run) {
        if (run.group.length === 1) this.#base.abort?.(run.finished);
        return true;
      }
    }
    return false;
  }

  // The engine passes these on to its pool.
  abort(done: Done): void {
    if (this.#abortSync(done)) return;
    this.#base.abort?.((done as Routed)[ENGINE_DONE] ?? done);
  }
  cancel(): void {
    // fsyncs waiting for others of their file never started: they end here.
    for (const s of this.#syncs.values()) {
      s.full = false;
      for (const done of s.waiting.splice(0)) done(ECANCELED);
    }
    this.#base.cancel();
  }
  handedBack(fd: number): void { this.#base.handedBack?.(fd); }
  destroy(): void { this.#base.destroy(); }

  open(path: string, flags: number, mode: number, done: Done): void {
    if (!(flags & O_DIRECT)) return this.#base.open(path, flags, mode, done);
    this.#base.open(path, flags, mode, fd => {
      if (fd >= 0) this.#direct.add(fd);
      done(fd);
    });
  }
  close(fd: number, done: Done): void {
    this.#direct.delete(fd);
    this.#readAhead.delete(fd);
    this.#base.close(fd, done);
  }

  // Everything else: the engine auto runs on.
  write(fd: number, buffer: Bytes, offset: number, length: number, position: number, done: Done): void {
    this.#base.write(fd, buffer, offset, length, position, done);
  }
  writev(fd: number, buffers: Bytes[], position: number, done: Done): void { this.#base.writev(fd, buffers, position, done); }
  fstat(fd: number, out: Float64Array, done: Done): void { this.#base.fstat(fd, out, done); }
  ftruncate(fd: number, length: number, done: Done): void { this.#base.ftruncate(fd, length, done); }
  stat(path: string, noFollow: boolean, out: Float64Array, done: Done): void { this.#base.stat(path, noFollow, out, done); }
  unlink(path: string, dir: boolean, done: Done): void { this.#base.unlink(path, dir, done); }
  rename(from: string, to: string, done: Done): void { this.#base.rename(from, to, done); }
  mkdir(path: string, mode: number, done: Done): void { this.#base.mkdir(path, mode, done); }
  registeredMemory(): ArrayBuffer | undefined { return this.#base.registeredMemory?.(); }
}

/**
 * The optional operations the engine has, as its own (readFile, copyFile, ...): auto has exactly
 * those, so that callers that ask `backend.readFile ?` get the engine's answer.
 */
const OPTIONAL = ['readFile', 'writeFile', 'access', 'chmod', 'utimes', 'truncate', 'copyFile', 'readdir'] as const;

/** auto on `base`, with base's own pool for large reads (pool undefined: base has none, or is one). */
export function autoBackend(base: Backend, pool: (() => Backend) | undefined): Backend {
  if (!pool) return base;
  const auto = new AutoBackend(base, pool);
  for (const name of OPTIONAL) {
    const own = base[name] as ((...args: unknown[]) => void) | undefined;
    if (own) (auto as unknown as Record<string, unknown>)[name] = own.bind(base);
  }
  return auto;
}
