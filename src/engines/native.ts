// The JS half of every native engine (thread, pool, and the kernel engines): operations are
// written as records into a shared Float64Array, and everything started in one turn of the event
// loop goes native in one submit() call. Completions come back as (id, result) pairs in a second
// shared array, in batches: one crossing per batch, none per operation.
import { binding, bindingError, type Binding } from '../binding.js';
import { addonMissing, engineSetupFailed, errnoOf } from '../errors.js';
import type { Bytes } from '../validate.js';
import type { Backend, Done } from './backend.js';

// Operation codes and record layout; keep in sync with native/engine.h.
const enum Op { NOP = 0, READ = 1, WRITE = 2, READV = 3, WRITEV = 4, FSYNC = 5, FDATASYNC = 6, FSTAT = 7, FTRUNCATE = 8, OPEN = 9, CLOSE = 10 }
const RECORD = 8;
const BATCH = 256;        // records per submit() crossing
const COMPLETIONS = 1024; // pairs per delivery crossing
const MAX_INLINE_ROUNDS = 256;
const AT_CURRENT_POSITION = 64; // a flag for supports(): the operation at position -1
/** The call that sets an engine up, named in its errors (the thread engines start threads). */
const SETUP_SYSCALL: Record<string, string> = { io_uring: 'io_uring_setup', 'linux-aio': 'io_setup' };
/** The pool engine's defaults; also what serves the operations another engine cannot do. */
export const POOL_DEFAULTS = { threads: 4, queueDepth: 64 };

const ECANCELED = errnoOf('ECANCELED');
const EBADF = errnoOf('EBADF');

type Waiting = [Op, number, number, unknown, number, number, number, Done];

export class NativeBackend implements Backend {
  readonly #native: Binding;
  readonly #handle: object;
  readonly #sub = new Float64Array(BATCH * RECORD);
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
  #fallback: NativeBackend | undefined; // the pool engine, for operations it cannot
  #inlineRounds = 0;                // flushes in this turn of the event loop

  /** Throws, with the reason, when the engine cannot be set up here. */
  constructor(kind: string, options: object, capacity: number) {
    const native = binding();
    if (!native) throw addonMissing(`the ${kind} engine`, bindingError()!);
    this.#native = native;
    const handle = native.create(kind, options, this.#onComplete, this.#sub, this.#comp);
    if (typeof handle === 'number') throw engineSetupFailed(kind, handle, SETUP_SYSCALL[kind] ?? 'pthread_create');
    this.#handle = handle;
    this.#capacity = capacity;
    this.#can = Array.from({ length: Op.CLOSE + 1 }, (_, op) => native.supports(handle, op));
    this.#canAtCurrent = Array.from({ length: Op.CLOSE + 1 }, (_, op) => native.supports(handle, op | AT_CURRENT_POSITION));
  }

  #start(op: Op, fd: number, position: number, buffers: unknown, nbuf: number, a: number, b: number, done: Done): void {
    if (!(position < 0 ? this.#canAtCurrent[op] : this.#can[op])) {
      this.#fallback ??= new NativeBackend('pool', POOL_DEFAULTS, POOL_DEFAULTS.threads + POOL_DEFAULTS.queueDepth);
      return this.#fallback.#start(op, fd, position, buffers, nbuf, a, b, done);
    }
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
    const s = this.#sub, o = this.#count++ * RECORD;
    s[o] = op; s[o + 1] = id; s[o + 2] = fd; s[o + 3] = position;
    s[o + 4] = this.#buffers.length; s[o + 5] = nbuf; s[o + 6] = a; s[o + 7] = b;
    if (op === Op.READV || op === Op.WRITEV) for (const buf of buffers as unknown[]) this.#buffers.push(buf);
    else if (nbuf === 1) this.#buffers.push(buffers);
    // A full batch goes now. Only after the record is written: delivering the inline
    // completions of this flush may start waiting operations, which write into the next batch.
    if (this.#count === BATCH) this.#flush();
    if (!this.#flushing && this.#count > 0) {
      this.#flushing = true;
      // Operations that complete inline start the next ones in the same turn of the loop; after
      // MAX_INLINE_ROUNDS batches, let the loop run (timers, sockets) before the next one.
      if (this.#inlineRounds < MAX_INLINE_ROUNDS) queueMicrotask(this.#flush);
      else setImmediate(this.#flush);
    }
  }

  #newTurn = (): void => {
    this.#inlineRounds = 0;
  };

  #flush = (): void => {
    this.#flushing = false;
    const n = this.#count;
    if (n === 0) return;
    this.#count = 0;
    const buffers = this.#buffers;
    this.#buffers = [];
    let inline: number;
    try {
      inline = this.#native.submit(this.#handle, n, buffers);
    } catch {
      return this.#refuseBatch(n); // the engine was closed under this batch: fail it, lose nothing
    }
    if (inline > 0 && ++this.#inlineRounds === 1) setImmediate(this.#newTurn);
    this.#deliver(inline);
  };

  /** Completes the n records of the batch with EBADF, as if the engine had answered. */
  #refuseBatch(n: number): void {
    for (let i = 0; i < n; i++) {
      this.#comp[2 * i] = this.#sub[i * RECORD + 1];
      this.#comp[2 * i + 1] = EBADF;
    }
    this.#deliver(n);
  }

  #onComplete = (count: number): void => this.#deliver(count);

  #deliver(count: number): void {
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
    this.#start(Op.OPEN, -1, 0, Buffer.from(`${path}\0`), 1, flags, mode, done);
  }
  close(fd: number, done: Done): void { this.#start(Op.CLOSE, fd, 0, undefined, 0, 0, 0, done); }
  read(fd: number, buffer: Bytes, offset: number, length: number, position: number, done: Done): void {
    this.#start(Op.READ, fd, position, buffer, 1, offset, length, done);
  }
  write(fd: number, buffer: Bytes, offset: number, length: number, position: number, done: Done): void {
    this.#start(Op.WRITE, fd, position, buffer, 1, offset, length, done);
  }
  readv(fd: number, buffers: Bytes[], position: number, done: Done): void {
    this.#start(Op.READV, fd, position, buffers, buffers.length, 0, 0, done);
  }
  writev(fd: number, buffers: Bytes[], position: number, done: Done): void {
    this.#start(Op.WRITEV, fd, position, buffers, buffers.length, 0, 0, done);
  }
  fsync(fd: number, done: Done): void { this.#start(Op.FSYNC, fd, 0, undefined, 0, 0, 0, done); }
  fdatasync(fd: number, done: Done): void { this.#start(Op.FDATASYNC, fd, 0, undefined, 0, 0, 0, done); }
  fstat(fd: number, out: Float64Array, done: Done): void { this.#start(Op.FSTAT, fd, 0, out, 1, 0, 0, done); }
  ftruncate(fd: number, length: number, done: Done): void { this.#start(Op.FTRUNCATE, fd, length, undefined, 0, 0, 0, done); }

  abort(done: Done): void {
    const waiting = this.#waiting.findIndex(w => w[7] === done);
    if (waiting >= 0) {
      this.#waiting.splice(waiting, 1);
      return done(ECANCELED);
    }
    const id = this.#done.indexOf(done);
    if (id < 0) return this.#fallback?.abort(done);
    this.#flush(); // it may still be in the batch being written
    this.#native.cancel(this.#handle, id);
  }

  registeredMemory(): ArrayBuffer | undefined {
    return this.#native.buffers(this.#handle);
  }

  cancel(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const w of waiting) w[7](ECANCELED);
    this.#flush();
    this.#native.cancel(this.#handle);
    this.#fallback?.cancel();
  }

  destroy(): void {
    this.#native.destroy(this.#handle);
    this.#fallback?.destroy();
  }
}
