// The `workers` engine: a pool of worker_threads doing node:fs sync calls, coordinated through
// SharedArrayBuffer and Atomics (Atomics.waitAsync on the main side): how a Node program builds
// a pool without native code. Bytes are copied through a shared block per worker.
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { errnoOf } from '../errors.js';
import { STAT_FIELDS } from '../stats.js';
import { byteLengthOf, type Bytes } from '../validate.js';
import type { Backend, Done } from './backend.js';
import { Op } from '../ops.js';
import { CONTROL_BYTES, DATA_ALIGN, dataView, DONE, F, IDLE, READY, REQUEST, STATE, type DataBlock } from './workers-protocol.js';
import { binding } from '../binding.js';
import type { EngineDescriptor } from './descriptor.js';

const ECANCELED = errnoOf('ECANCELED');
const EAGAIN = errnoOf('EAGAIN');
const INITIAL_DATA = 1 << 20;
const WAKE_GUARD_MS = 200;
const READY_WAIT_MS = 5000; // for a worker loading its modules before it is stopped

const EFAULT = errnoOf('EFAULT');
const EINVAL = errnoOf('EINVAL');

/** The caller's memory went away (its ArrayBuffer was transferred) while the operation waited. */
class Detached extends Error {}

/** b's bytes from offset, length long; throws Detached when they are no longer there. */
function bytesAt(b: Bytes, offset: number, length: number): Uint8Array {
  if (b.byteLength < offset + length) throw new Detached();
  try {
    return new Uint8Array(b.buffer, b.byteOffset + offset, length);
  } catch {
    throw new Detached(); // a view of no bytes over a detached buffer gets this far
  }
}

/**
 * A data block of size bytes whose memory starts on a DATA_ALIGN boundary, so that O_DIRECT
 * reads and writes of an aligned caller's buffer work through it too (the addon tells where the
 * memory lies; without it, the block is used from its start).
 */
function dataBlock(size: number): DataBlock {
  const buffer = new SharedArrayBuffer(size + DATA_ALIGN);
  const misaligned = binding()?.misalignment(new Uint8Array(buffer), 0, DATA_ALIGN) ?? 0;
  return { buffer, offset: (DATA_ALIGN - misaligned) % DATA_ALIGN, size };
}

/** One operation: how to fill the data block before, and what to do with it after. */
interface Job {
  op: Op; fd: number; position: number; length: number; a: number; b: number;
  before?: (data: Uint8Array) => void;
  after?: (data: Uint8Array, result: number) => void;
  done: Done;
}

class Thread {
  readonly control = new SharedArrayBuffer(CONTROL_BYTES);
  readonly i32 = new Int32Array(this.control);
  readonly f64 = new Float64Array(this.control);
  data = dataBlock(INITIAL_DATA);
  readonly port: MessagePort;
  readonly worker: Worker;
  job: Job | undefined;
  started = false; // it came online: one that dies before is not worth starting again

  constructor(onExit: (t: Thread) => void) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(new URL('./workers-thread.js', import.meta.url), {
      workerData: { control: this.control, data: this.data, port: port2 },
      transferList: [port2],
      execArgv: [], // not the parent's flags (e.g. --input-type, which a worker file refuses)
    });
    this.worker.unref();
    this.worker.once('online', () => (this.started = true));
    this.worker.on('error', () => {}); // the exit handler reports it to the operation
    this.worker.on('exit', () => onExit(this));
  }
}

export class WorkersBackend implements Backend {
  readonly #threads: Thread[] = [];
  readonly #idle: Thread[] = [];
  #queue: Job[] = [];
  // Node closes, when a worker exits, the descriptors that worker opened and did not close itself,
  // so open and close always run on one worker: the primary, the first in #threads.
  #pinned: Job[] = [];
  #destroyed = false;
  /** Terminating the primary closes the files it opened (node does, when a worker exits). */
  readonly destroyClosesFiles = true;

  constructor(options: { threads?: number }) {
    for (let i = 0; i < (options.threads ?? 4); i++) this.#spawn();
  }

  #spawn(primary = false): void {
    const thread = new Thread(t => this.#onExit(t));
    if (primary) this.#threads.unshift(thread);
    else this.#threads.push(thread);
    this.#idle.push(thread);
  }

  #onExit(thread: Thread): void {
    const wasPrimary = this.#threads[0] === thread;
    this.#threads.splice(this.#threads.indexOf(thread), 1);
    if (this.#destroyed) return;
    const idle = this.#idle.indexOf(thread);
    if (idle >= 0) this.#idle.splice(idle, 1);
    // A worker that dies takes its operation with it: fail that one, keep the pool whole.
    const job = thread.job;
    thread.job = undefined;
    // A worker that could not start (its file missing, no memory) would fail again at once:
    // respawning it would spin. The pool goes on with fewer; with none, work fails (#next).
    if (thread.started) this.#spawn(wasPrimary);
    if (job) job.done(ECANCELED);
    this.#next();
  }

  #submit(job: Job, pinned = false): void {
    (pinned ? this.#pinned : this.#queue).push(job);
    this.#next();
  }

  #next(): void {
    if (this.#threads.length === 0) {
      for (const job of this.#takeQueued()) job.done(EAGAIN); // no worker could start
      return;
    }
    const primary = this.#threads[0];
    if (this.#pinned.length > 0 && this.#idle.includes(primary)) {
      this.#idle.splice(this.#idle.indexOf(primary), 1);
      this.#dispatch(primary, this.#pinned.shift()!);
    }
    while (this.#queue.length > 0 && this.#idle.length > 0) this.#dispatch(this.#idle.pop()!, this.#queue.shift()!);
  }

  #dispatch(thread: Thread, job: Job): void {
    const { f64, i32 } = thread;
    // newData stays set until a request reaches the worker (a dispatch that fails below does not)
    if (job.length > thread.data.size) {
      thread.data = dataBlock(2 ** Math.ceil(Math.log2(job.length)));
      thread.port.postMessage(thread.data);
      f64[F.newData] = 1;
    }
    try {
      job.before?.(dataView(thread.data, job.length));
    } catch (err) {
      // As if the kernel had found the address bad; anything else is a bug of ours, and still
      // settles the operation rather than lose it and the thread.
      const errno = err instanceof Detached ? EFAULT : EINVAL;
      this.#idle.push(thread);
      queueMicrotask(() => job.done(errno));
      return;
    }
    f64[F.op] = job.op; f64[F.fd] = job.fd; f64[F.position] = job.position; f64[F.length] = job.length;
    f64[F.a] = job.a; f64[F.b] = job.b;
    thread.job = job;
    thread.worker.ref(); // an operation in flight keeps the loop alive; an idle pool does not
    Atomics.store(i32, STATE, REQUEST);
    Atomics.notify(i32, STATE);
    this.#await(thread);
  }

  // Wait for the worker's DONE. The timeout is a guard: should a notification ever go missing,
  // the operation is still found done within WAKE_GUARD_MS instead of hanging forever.
  #await(thread: Thread): void {
    const wait = Atomics.waitAsync(thread.i32, STATE, REQUEST, WAKE_GUARD_MS);
    if (wait.async) wait.value.then(() => this.#finish(thread));
    else this.#finish(thread);
  }

  #finish(thread: Thread): void {
    const job = thread.job;
    if (!job) return; // the worker died; onExit handled it
    if (Atomics.load(thread.i32, STATE) !== DONE) return this.#await(thread); // not done yet
    thread.job = undefined;
    thread.f64[F.newData] = 0;
    let result = thread.f64[F.result];
    try {
      if (result >= 0) job.after?.(dataView(thread.data, job.length), result);
    } catch (err) {
      result = err instanceof Detached ? EFAULT : EINVAL; // the bytes were read, and there is nowhere to put them
    }
    Atomics.store(thread.i32, STATE, IDLE);
    thread.worker.unref();
    this.#idle.push(thread);
    job.done(result);
    this.#next();
  }

  open(path: string, flags: number, mode: number, done: Done): void {
    const bytes = Buffer.from(path);
    this.#submit({ op: Op.OPEN, fd: -1, position: 0, length: bytes.length, a: flags, b: mode, before: d => d.set(bytes), done }, true);
  }
  close(fd: number, done: Done): void { this.#submit({ op: Op.CLOSE, fd, position: 0, length: 0, a: 0, b: 0, done }, true); }
  // The caller's buffers are reached at copy time, not before: one may be detached meanwhile.
  read(fd: number, buffer: Bytes, offset: number, length: number, position: number, done: Done): void {
    this.#submit({ op: Op.READ, fd, position, length, a: 0, b: 0, done,
      after: (d, n) => bytesAt(buffer, offset, length).set(d.subarray(0, n)) });
  }
  write(fd: number, buffer: Bytes, offset: number, length: number, position: number, done: Done): void {
    this.#submit({ op: Op.WRITE, fd, position, length, a: 0, b: 0, done, before: d => d.set(bytesAt(buffer, offset, length)) });
  }
  readv(fd: number, buffers: Bytes[], position: number, done: Done): void {
    const lengths = buffers.map(b => b.byteLength);
    this.#submit({ op: Op.READ, fd, position, length: byteLengthOf(buffers), a: 0, b: 0, done,
      after: (d, n) => {
        const targets = buffers.map((b, i) => bytesAt(b, 0, lengths[i])); // all there, or none written
        for (let i = 0, at = 0; i < targets.length && at < n; at += lengths[i++])
          targets[i].set(d.subarray(at, Math.min(n, at + lengths[i])));
      } });
  }
  writev(fd: number, buffers: Bytes[], position: number, done: Done): void {
    const lengths = buffers.map(b => b.byteLength);
    this.#submit({ op: Op.WRITE, fd, position, length: byteLengthOf(buffers), a: 0, b: 0, done,
      before: d => {
        const sources = buffers.map((b, i) => bytesAt(b, 0, lengths[i]));
        let at = 0;
        for (const source of sources) { d.set(source, at); at += source.length; }
      } });
  }
  fsync(fd: number, done: Done): void { this.#submit({ op: Op.FSYNC, fd, position: 0, length: 0, a: 0, b: 0, done }); }
  fdatasync(fd: number, done: Done): void { this.#submit({ op: Op.FDATASYNC, fd, position: 0, length: 0, a: 0, b: 0, done }); }
  fstat(fd: number, out: Float64Array, done: Done): void {
    this.#submit({ op: Op.FSTAT, fd, position: 0, length: STAT_FIELDS * 8, a: 0, b: 0, done,
      after: d => out.set(new Float64Array(d.buffer, d.byteOffset, STAT_FIELDS)) });
  }
  ftruncate(fd: number, length: number, done: Done): void {
    this.#submit({ op: Op.FTRUNCATE, fd, position: length, length: 0, a: 0, b: 0, done });
  }
  // By path: the path (two for rename, NUL between) goes in the data block; stat's result comes
  // back in it.
  stat(path: string, noFollow: boolean, out: Float64Array, done: Done): void {
    const bytes = Buffer.from(path);
    this.#submit({ op: Op.STAT, fd: -1, position: 0, length: Math.max(bytes.length, STAT_FIELDS * 8), a: noFollow ? 1 : 0, b: bytes.length, done,
      before: d => d.set(bytes), after: d => out.set(new Float64Array(d.buffer, d.byteOffset, STAT_FIELDS)) });
  }
  unlink(path: string, dir: boolean, done: Done): void {
    const bytes = Buffer.from(path);
    this.#submit({ op: Op.UNLINK, fd: -1, position: 0, length: bytes.length, a: dir ? 1 : 0, b: 0, done, before: d => d.set(bytes) });
  }
  rename(from: string, to: string, done: Done): void {
    const bytes = Buffer.from(`${from}\0${to}`);
    this.#submit({ op: Op.RENAME, fd: -1, position: 0, length: bytes.length, a: 0, b: 0, done, before: d => d.set(bytes) });
  }
  mkdir(path: string, mode: number, done: Done): void {
    const bytes = Buffer.from(path);
    this.#submit({ op: Op.MKDIR, fd: -1, position: 0, length: bytes.length, a: 0, b: mode, done, before: d => d.set(bytes) });
  }

  /** Closes are never taken back: cancelled, their files would stay open. */
  cancel(): void {
    const closes = this.#pinned.filter(job => job.op === Op.CLOSE); // closes go to the primary worker, in order
    const queued = this.#takeQueued();
    this.#pinned = closes; // before any callback, which may start more work
    for (const job of queued) if (job.op !== Op.CLOSE) job.done(ECANCELED);
  }

  #takeQueued(): Job[] {
    const queued = [...this.#pinned, ...this.#queue];
    this.#pinned = [];
    this.#queue = [];
    return queued;
  }

  destroy(): void {
    this.#destroyed = true;
    for (const t of this.#threads) {
      t.port.close(); // an open MessagePort would keep the process alive
      // One still loading its modules is stopped once it has them (or after READY_WAIT_MS).
      const ready = Atomics.waitAsync(t.i32, READY, 0, READY_WAIT_MS);
      if (ready.async) void ready.value.then(() => t.worker.terminate());
      else void t.worker.terminate();
    }
  }
}

export const workers: EngineDescriptor = {
  name: 'workers',
  color: '#b07aa1',
  autoRank: 4,
  defaults: { threads: 4 },
  probe: () => undefined,
  create: o => new WorkersBackend({ threads: o.threads }),
};
