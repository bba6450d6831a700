// The JS half of every native engine (thread, pool, and the kernel engines): operations are
// written as records into a shared Float64Array, and everything started in one turn of the event
// loop goes native in one submit() call. Completions come back as (id, result) pairs in a second
// shared array, in batches: one crossing per batch, none per operation.
import { binding, bindingError, type Binding } from '../binding.js';
import { addonMissing, engineSetupFailed, errnoOf } from '../errors.js';
import { AT, AT_CURRENT_POSITION, Op, R } from '../ops.js';
import type { Bytes } from '../validate.js';
import type { Backend, Done } from './backend.js';
import { CLOCK_EVERY, TurnBudget } from './turn.js';

const BATCH = 256;        // records per submit() crossing
const COMPLETIONS = 1024; // pairs per delivery crossing
const SMALL_IO = 32 * 1024; // a read or write done at once this small costs microseconds: counted as an eighth of a look at the clock
const ALONE_TRUSTED = 8; // reads or writes alone in a row after which not every one looks for others

const ECANCELED = errnoOf('ECANCELED');
const EBADF = errnoOf('EBADF');
const EAGAIN = errnoOf('EAGAIN');

/** A path as C takes it: UTF-8, NUL-terminated (validation refused paths with a NUL inside). */
const cString = (path: string): Buffer => Buffer.from(`${path}\0`);

type Waiting = [Op, number, number, unknown, number, number, number, Done];

export class NativeBackend implements Backend {
  readonly #native: Binding;
  readonly #handle: object;
  readonly #sub = new Float64Array(BATCH * R.SIZE);
  readonly #comp = new Float64Array(COMPLETIONS * 2);
  readonly #capacity: number;
  #count = 0;                       // records written, not yet submitted
  #buffers: unknown[] = [];         // the batch's buffers, indexed by the records
  #flushing = false;
  #done: (Done | undefined)[] = []; // by id
  #held: unknown[] = [];            // by id: buffers the kernel may still use
  #freeIds: number[] = [];
  #inflight = 0;
  #waiting: Waiting[] = [];         // beyond capacity, in arrival order
  readonly #can: boolean[];         // by Op: can this engine do it itself
  readonly #canAtCurrent: boolean[]; // by Op: and at the current file position (-1)
  readonly #makeFallback: (() => Backend) | undefined;
  #fallback: Backend | undefined;   // made on first need: runs the operations this engine cannot
  readonly #turn = new TurnBudget(); // inline completions of this turn of the loop
  readonly #inline: boolean;        // the `inline` option: page-cache work on the loop thread
  #starting = false;                // a read or write is starting in this microtask checkpoint
  #afterMany = false;               // several completions were delivered since the last submit
  #aloneRun = 0;                    // reads or writes found alone in a row

  /**
   * Throws, with the reason, when the engine cannot be set up here. `setupCall` is named in that
   * error: the call that sets the engine up (the thread engines start threads).
   */
  constructor(kind: string, options: object, capacity: number, fallback?: () => Backend, setupCall = 'pthread_create') {
    const native = binding();
    if (!native) throw addonMissing(`the ${kind} engine`, bindingError()!);
    this.#native = native;
    const handle = native.create(kind, options, this.#onComplete, this.#sub, this.#comp);
    if (typeof handle === 'number') throw engineSetupFailed(kind, handle, setupCall);
    this.#handle = handle;
    this.#capacity = capacity;
    this.#makeFallback = fallback;
    this.#inline = (options as { inline?: unknown }).inline === true;
    this.#can = Array.from({ length: Op.COUNT }, (_, op) => native.supports(handle, op));
    this.#canAtCurrent = Array.from({ length: Op.COUNT }, (_, op) => native.supports(handle, op | AT_CURRENT_POSITION));
  }

  /** The engine for an operation this one cannot do (at this position), or undefined: this one. */
  #elsewhere(op: Op, position = 0): Backend | undefined {
    if (position < 0 ? this.#canAtCurrent[op] : this.#can[op]) return undefined;
    return this.pool(); // none: the native engine answers for itself
  }

  /** The engine's pool for what it cannot do, made on first need (undefined: it has none). */
  pool(): Backend | undefined {
    if (!this.#makeFallback) return undefined;
    return (this.#fallback ??= this.#makeFallback());
  }

  #start(op: Op, fd: number, position: number, buffers: unknown, nbuf: number, a: number, b: number, done: Done): void {
    if (this.#inflight >= this.#capacity || this.#waiting.length > 0) {
      this.#waiting.push([op, fd, position, buffers, nbuf, a, b, done]);
      return;
    }
    this.#enqueue(op, fd, position, buffers, nbuf, a, b, done);
  }

  #enqueue(op: Op, fd: number, position: number, buffers: unknown, nbuf: number, a: number, b: number, done: Done): void {
    const id = this.#freeIds.length > 0 ? this.#freeIds.pop()! : this.#done.length;
    this.#done[id] = done;
    this.#held[id] = buffers;
    this.#inflight++;
    const s = this.#sub, o = this.#count++ * R.SIZE;
    s[o + R.OP] = op; s[o + R.ID] = id; s[o + R.FD] = fd; s[o + R.POS] = position;
    s[o + R.BUF] = this.#buffers.length; s[o + R.NBUF] = nbuf; s[o + R.A] = a; s[o + R.B] = b;
    if (Array.isArray(buffers)) for (const buf of buffers) this.#buffers.push(buf);
    else if (nbuf === 1) this.#buffers.push(buffers);
    // A full batch goes now. Only after the record is written: delivering the inline
    // completions of this flush may start waiting operations, which write into the next batch.
    if (this.#count === BATCH) this.#flush();
    if (!this.#flushing && this.#count > 0) {
      this.#flushing = true;
      // Operations that complete inline start the next ones in the same turn of the loop; once
      // the turn's budget is spent, let the loop run (timers, sockets) before the next batch.
      if (!this.#turn.spent()) queueMicrotask(this.#flush);
      else setImmediate(this.#flush);
    }
  }

  #flush = (): void => this.#submit(true);

  /** Hands the batch to the engine; inline false: none of it may run at once (it is to be cancelled). */
  #submit(inline: boolean): void {
    this.#flushing = false;
    this.#afterMany = false;
    const n = this.#count;
    if (n === 0) return;
    this.#count = 0;
    const buffers = this.#buffers;
    this.#buffers = [];
    const done = this.#native.submit(this.#handle, n, buffers, inline);
    if (done < 0) return this.#refuseBatch(n); // the engine was closed under this batch: fail it, lose nothing
    // Work done at once may take far longer than a completion: writes inline, and large reads
    // the ring copied inside the call (a read stream's 256 KiB reads, one at a time, held the loop
    // for 60 ms when counted as one operation each): look at the clock after those.
    this.#turn.count(this.#inline ? CLOCK_EVERY : n + this.#largeDone(done) * CLOCK_EVERY);
    if (done > 0) this.#turn.begin();
    this.#deliver(done);
  }

  /** Of the count completions waiting for delivery, those that moved more than SMALL_IO bytes. */
  #largeDone(count: number): number {
    let large = 0;
    for (let i = 0; i < count; i++) if (this.#comp[2 * i + 1] > SMALL_IO) large++;
    return large;
  }

  /** Completes the n records of the batch with EBADF, as if the engine had answered. */
  #refuseBatch(n: number): void {
    for (let i = 0; i < n; i++) {
      this.#comp[2 * i] = this.#sub[i * R.SIZE + R.ID];
      this.#comp[2 * i + 1] = EBADF;
    }
    this.#deliver(n);
  }

  #onComplete = (count: number): void => this.#deliver(count);

  #deliver(count: number): void {
    // Those they resume start reads together, one checkpoint or a few later (awaits add hops
    // between): none of those is alone. Read at once, the first cost a syscall per round of the
    // ring's (32 deep: 0.88x of io_uring in the bench).
    if (count > 1) this.#afterMany = true;
    const comp = this.#comp;
    for (let i = 0; i < count; i++) {
      const id = comp[2 * i], result = comp[2 * i + 1];
      const done = this.#done[id]!;
      this.#done[id] = undefined;
      this.#held[id] = undefined;
      this.#freeIds.push(id);
      this.#inflight--;
      done(result);
    }
    while (this.#waiting.length > 0 && this.#inflight < this.#capacity) {
      this.#enqueue(...this.#waiting.shift()!);
    }
  }

  open(path: string, flags: number, mode: number, done: Done): void {
    const other = this.#elsewhere(Op.OPEN);
    if (other) return other.open(path, flags, mode, done);
    this.#start(Op.OPEN, -1, 0, cString(path), 1, flags, mode, done);
  }
  close(fd: number, done: Done): void {
    const other = this.#elsewhere(Op.CLOSE);
    if (other) return other.close(fd, done);
    this.#start(Op.CLOSE, fd, 0, undefined, 0, 0, 0, done);
  }
  read(fd: number, buffer: Bytes, offset: number, length: number, position: number, done: Done): void {
    const other = this.#elsewhere(Op.READ, position);
    if (other) return other.read(fd, buffer, offset, length, position, done);
    // At the file position (-1) reads stay in order on one engine.
    if (this.#inline && position >= 0 && this.#alone()) {
      const n = this.#native.readNow(this.#handle, fd, buffer, offset, length, position);
      if (n >= 0) return this.#doneInline(n, done);
    }
    this.#start(Op.READ, fd, position, buffer, 1, offset, length, done);
  }

  /**
   * Is this read or write alone, so that doing it at once beats a batch: nothing else is starting
   * (those started in one microtask checkpoint, or resumed by completions delivered together, as
   * 32 deep, go to the kernel together), nothing waits its turn, and this turn of the loop has
   * budget left.
   */
  #alone(): boolean {
    // (How large a read may be read at once is native/inline.c's INLINE_MAX_BYTES, checked there.)
    if (this.#starting || this.#afterMany || this.#count > 0 || this.#waiting.length > 0 || this.#fallbackStarting()) {
      this.#aloneRun = 0;
      return false;
    }
    // Looking for others starting costs a microtask per read (cached 4 KiB reads one at a time:
    // 0.87x as many). After ALONE_TRUSTED reads alone in a row, only every ALONE_TRUSTED-th looks,
    // so that of reads starting together at most that many are read at once before one sees the
    // others; then every read looks again.
    if (this.#aloneRun < ALONE_TRUSTED || this.#aloneRun % ALONE_TRUSTED === 0) {
      this.#starting = true;
      queueMicrotask(this.#started);
    }
    this.#aloneRun++;
    return !this.#turn.spent();
  }

  /** Has the pool a batch not yet handed over (an ftruncate the ring lacks, say): that starts first. */
  #fallbackStarting(): boolean {
    const f = this.#fallback;
    return f instanceof NativeBackend && f.#count > 0;
  }

  #started = (): void => {
    this.#starting = false;
  };

  /**
   * A read or write done at once counts against the turn's budget: the clock is read after every
   * eighth small one (up to 32 KiB: a few microseconds each, and a look at the clock cost 0.89x as
   * many cached 4 KiB reads one at a time), after each larger one.
   */
  #doneInline(result: number, done: Done): void {
    this.#turn.count(result <= SMALL_IO ? CLOCK_EVERY / 8 : CLOCK_EVERY);
    this.#turn.begin();
    done(result);
  }
  write(fd: number, buffer: Bytes, offset: number, length: number, position: number, done: Done): void {
    // Before going elsewhere: a write at the file position (-1, a write stream's) is write(2) at
    // once too, where the ring would send it to the pool. The handle starts those one at a time.
    if (this.#inline && this.#alone()) {
      const n = this.#native.writeNow(this.#handle, fd, buffer, offset, length, position);
      // EAGAIN: not for here, or not now. Any other error is the write's (nothing was written):
      // tried again on the engine it would only fail again (ENOSPC, EFBIG).
      if (n !== EAGAIN) return this.#doneInline(n, done);
    }
    const other = this.#elsewhere(Op.WRITE, position);
    if (other) return other.write(fd, buffer, offset, length, position, done);
    this.#start(Op.WRITE, fd, position, buffer, 1, offset, length, done);
  }
  readv(fd: number, buffers: Bytes[], position: number, done: Done): void {
    const other = this.#elsewhere(Op.READV, position);
    if (other) return other.readv(fd, buffers, position, done);
    this.#start(Op.READV, fd, position, buffers, buffers.length, 0, 0, done);
  }
  writev(fd: number, buffers: Bytes[], position: number, done: Done): void {
    const other = this.#elsewhere(Op.WRITEV, position);
    if (other) return other.writev(fd, buffers, position, done);
    this.#start(Op.WRITEV, fd, position, buffers, buffers.length, 0, 0, done);
  }
  fsync(fd: number, done: Done): void {
    const other = this.#elsewhere(Op.FSYNC);
    if (other) return other.fsync(fd, done);
    this.#start(Op.FSYNC, fd, 0, undefined, 0, 0, 0, done);
  }
  fdatasync(fd: number, done: Done): void {
    const other = this.#elsewhere(Op.FDATASYNC);
    if (other) return other.fdatasync(fd, done);
    this.#start(Op.FDATASYNC, fd, 0, undefined, 0, 0, 0, done);
  }
  fstat(fd: number, out: Float64Array, done: Done): void {
    const other = this.#elsewhere(Op.FSTAT);
    if (other) return other.fstat(fd, out, done);
    this.#start(Op.FSTAT, fd, 0, out, 1, 0, 0, done);
  }
  ftruncate(fd: number, length: number, done: Done): void {
    const other = this.#elsewhere(Op.FTRUNCATE);
    if (other) return other.ftruncate(fd, length, done);
    this.#start(Op.FTRUNCATE, fd, length, undefined, 0, 0, 0, done);
  }

  stat(path: string, noFollow: boolean, out: Float64Array, done: Done): void {
    const other = this.#elsewhere(Op.STAT);
    if (other) return other.stat(path, noFollow, out, done);
    this.#start(Op.STAT, -1, 0, [cString(path), out], 2, noFollow ? AT.SYMLINK_NOFOLLOW : 0, 0, done);
  }
  unlink(path: string, dir: boolean, done: Done): void {
    const other = this.#elsewhere(Op.UNLINK);
    if (other) return other.unlink(path, dir, done);
    this.#start(Op.UNLINK, -1, 0, cString(path), 1, dir ? AT.REMOVEDIR : 0, 0, done);
  }
  rename(from: string, to: string, done: Done): void {
    const other = this.#elsewhere(Op.RENAME);
    if (other) return other.rename(from, to, done);
    this.#start(Op.RENAME, -1, 0, [cString(from), cString(to)], 2, 0, 0, done);
  }
  mkdir(path: string, mode: number, done: Done): void {
    const other = this.#elsewhere(Op.MKDIR);
    if (other) return other.mkdir(path, mode, done);
    this.#start(Op.MKDIR, -1, 0, cString(path), 1, 0, mode, done);
  }

  /**
   * A file readFile handed back is a file of the engine that ran it; when another runs this
   * engine's closes (io_uring's ring, its pool's readFile), that one takes it.
   */
  handedBack(fd: number): void {
    const runner = this.#elsewhere(Op.READFILE) ?? this;
    const closer = this.#elsewhere(Op.CLOSE) ?? this;
    if (runner !== closer && runner instanceof NativeBackend && closer instanceof NativeBackend) {
      this.#native.adopt(closer.#handle, fd, runner.#handle);
    }
  }

  readFile(path: string, flags: number, buffer: Bytes, done: Done): void {
    const other = this.#elsewhere(Op.READFILE);
    if (other) return other.readFile!(path, flags, buffer, done);
    this.#start(Op.READFILE, -1, 0, [cString(path), buffer], 2, flags, 0, done);
  }
  writeFile(path: string, flags: number, mode: number, how: number, data: Bytes, done: Done): void {
    const other = this.#elsewhere(Op.WRITEFILE);
    if (other) return other.writeFile!(path, flags, mode, how, data, done);
    this.#start(Op.WRITEFILE, -1, how, [cString(path), data], 2, flags, mode, done);
  }

  access(path: string, mode: number, done: Done): void {
    const other = this.#elsewhere(Op.ACCESS);
    if (other) return other.access!(path, mode, done);
    this.#start(Op.ACCESS, -1, 0, cString(path), 1, mode, 0, done);
  }
  chmod(path: string, mode: number, done: Done): void {
    const other = this.#elsewhere(Op.CHMOD);
    if (other) return other.chmod!(path, mode, done);
    this.#start(Op.CHMOD, -1, 0, cString(path), 1, 0, mode, done);
  }
  utimes(path: string, atime: number, mtime: number, done: Done): void {
    const other = this.#elsewhere(Op.UTIMES);
    if (other) return other.utimes!(path, atime, mtime, done);
    this.#start(Op.UTIMES, -1, 0, cString(path), 1, atime, mtime, done);
  }
  truncate(path: string, length: number, done: Done): void {
    const other = this.#elsewhere(Op.TRUNCATE);
    if (other) return other.truncate!(path, length, done);
    this.#start(Op.TRUNCATE, -1, length, cString(path), 1, 0, 0, done);
  }
  copyFile(from: string, to: string, flags: number, done: Done): void {
    const other = this.#elsewhere(Op.COPYFILE);
    if (other) return other.copyFile!(from, to, flags, done);
    this.#start(Op.COPYFILE, -1, 0, [cString(from), cString(to)], 2, flags, 0, done);
  }

  readdir(path: string, buffer: Bytes, done: Done): void {
    const other = this.#elsewhere(Op.READDIR);
    if (other) return other.readdir!(path, buffer, done);
    this.#start(Op.READDIR, -1, 0, [cString(path), buffer], 2, 0, 0, done);
  }

  abort(done: Done): void {
    const waiting = this.#waiting.findIndex(w => w[7] === done);
    if (waiting >= 0) {
      this.#waiting.splice(waiting, 1);
      return done(ECANCELED);
    }
    const id = this.#done.indexOf(done);
    if (id < 0) return this.#fallback?.abort?.(done);
    this.#submit(false); // it may still be in the batch being written
    this.#native.cancel(this.#handle, id);
  }

  registeredMemory(): ArrayBuffer | undefined {
    return this.#native.buffers(this.#handle);
  }

  /** Closes are never taken back: cancelled, their files would stay open (close() cancels again while it waits). */
  cancel(): void {
    const waiting = this.#waiting;
    this.#waiting = waiting.filter(w => w[0] === Op.CLOSE);
    for (const w of waiting) if (w[0] !== Op.CLOSE) w[7](ECANCELED);
    this.#submit(false);
    this.#native.cancel(this.#handle);
    this.#fallback?.cancel();
  }

  destroy(): void {
    this.#native.destroy(this.#handle);
    this.#fallback?.destroy();
  }
}

/** The thread engines' set-up errors, in words a person can act on. */
export const THREAD_REASONS: Record<string, string> = {
  EAGAIN: 'no more threads can be started: raise `ulimit -u` (RLIMIT_NPROC) or the sysctl kernel.threads-max, or use fewer engines',
  EMFILE: 'the open-file limit is reached: raise `ulimit -n` (RLIMIT_NOFILE) or close files',
};

/** Why no native engine can run here (the addon did not load), or undefined. */
export const nativeReason = (): string | undefined => (binding() ? undefined : bindingError());

const probes = new Map<string, string | undefined>();
/** Set-up failures that pass (descriptors, threads, memory in short supply): never kept. */
const PASSING = new Set(['EMFILE', 'ENFILE', 'EAGAIN', 'ENOMEM']);

/** Can this kernel engine be set up here: tried once, the answer kept. */
export function probeNative(engine: { name: string; reasons?: Readonly<Record<string, string>> }): string | undefined {
  if (!probes.has(engine.name)) {
    let reason = nativeReason();
    if (reason === undefined) {
      try {
        new NativeBackend(engine.name, { entries: 2 }, 1).destroy();
      } catch (err) {
        const code = (err as { code?: string }).code ?? '';
        reason = engine.reasons?.[code] ?? (err as Error).message;
        if (PASSING.has(code)) return reason; // asked again next time: it may be over by then
      }
    }
    probes.set(engine.name, reason);
  }
  return probes.get(engine.name);
}
