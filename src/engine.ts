// An engine instance: one backend (one ring, one pool, one context), used from one JS thread.
// close() stops new work, cancels what it can, waits for the rest (every operation is counted
// in its handle's InFlight, or the engine's own), closes the files still open, and only then
// releases the backend.
import fs from 'node:fs';
import { engineClosed, invalidArgValue, noBufferFree, stackFromHere } from './errors.js';
import type { AutoChoice } from './engines/auto.js';
import type { Backend, EngineOptions } from './engines/backend.js';
import { createBackend, engineOptionNames } from './engines/registry.js';
import { FileHandle } from './file-handle.js';
import { parseFlags, parseMode } from './flags.js';
import { InFlight, perform, type Context, type Start } from './operation.js';
import { validateEngineOptions, validatePath } from './validate.js';

/** An engine's resources, as the collector may find them without the engine. */
interface Leftovers {
  name: string;
  backend: Backend;
  /** Files its handles have open, by descriptor: how many handles (a number reused before its old close was told). */
  fds: Map<number, number>;
}

/**
 * Engines dropped without close() give back their threads, rings and files when the garbage
 * collector finds them, with a warning, as node closes a FileHandle it collects. An engine or
 * handle with work in flight stays reachable (src/operation.ts), so nothing is in flight here. As
 * with node's FileHandle, a descriptor the program closed by hand (handle.fd) and the system gave
 * to another file would be closed under it: do not close handles' descriptors yourself.
 */
const forgotten = new FinalizationRegistry<Leftovers>(({ name, backend, fds }) => {
  try {
    backend.cancel();
    backend.destroy();
  } finally {
    // Closed again by number once the backend's own teardown closed it, a descriptor could by
    // then be another file's (a later engine's ring, a program's socket).
    if (!backend.destroyClosesFiles) for (const fd of fds.keys()) {
      try {
        fs.closeSync(fd);
      } catch { /* not open (the null engine's are not real) */ }
    }
  }
  process.emitWarning(`an ioengine engine (${name}) was garbage-collected without close(): its resources, and ${fds.size} open file(s), were released; close() engines you are done with`,
    { code: 'IOENGINE_NOT_CLOSED' });
});

/** A handle as the collector may find it without the handle: its engine (weakly) and its file. */
interface Dropped { engine: WeakRef<Engine>; ref: WeakRef<FileHandle>; fd: number }

/**
 * Handles dropped while open are closed when the collector finds them, with node's warnings
 * (its FileHandle does the same). Their engine may be gone with them: then its own release
 * (forgotten, above) closes the file.
 */
const dropped = new FinalizationRegistry<Dropped>(({ engine, ref, fd }) => engine.deref()?.closeDropped(ref, fd));
/** How often close() cancels again what is still running (see #shutdown). */
const CANCEL_AGAIN_MS = 50;
let deprecationShown = false; // node warns of DEP0137 once a process

export class Engine {
  /** The engine's name (what `auto` runs on, for `auto`). */
  readonly name: string;
  /** For `auto`: what it does with each kind of operation, and why. */
  readonly choices: AutoChoice[] | undefined;
  readonly #backend: Backend;
  /** Operations on no handle (open). */
  readonly #inflight = new InFlight(this);
  #closing: Promise<void> | undefined;
  /** Open handles, held weakly (a dropped one is closed when collected), with their files. */
  readonly #handles = new Map<WeakRef<FileHandle>, number>();
  readonly #refs = new WeakMap<FileHandle, WeakRef<FileHandle>>();
  readonly #self = new WeakRef(this);
  readonly #freeBuffers: Buffer[] = [];
  /** What to release if this engine is collected without close(): nothing that refers back to it. */
  readonly #leftovers: Leftovers;
  readonly #lentBuffers = new Set<Buffer>();

  constructor(name: string, options: EngineOptions = {}) {
    validateEngineOptions(options, engineOptionNames());
    const { name: resolved, backend, choices } = createBackend(name, options);
    this.name = resolved;
    this.choices = choices;
    this.#backend = backend;
    this.#leftovers = { name: resolved, backend, fds: new Map() };
    forgotten.register(this, this.#leftovers, this);
    const memory = backend.registeredMemory?.();
    const count = options.registeredBuffers?.count ?? 0;
    for (let i = 0; memory && i < count; i++)
      this.#freeBuffers.push(Buffer.from(memory, i * (memory.byteLength / count), options.registeredBuffers!.size));
  }

  /**
   * A buffer from the engine's registered pool (io_uring with `registeredBuffers`): reads and
   * writes through it skip the kernel's per-operation page pinning. Give it back with
   * returnBuffer(). Its memory stays valid as long as you hold it, even after close().
   */
  borrowBuffer(): Buffer {
    const buffer = this.#freeBuffers.pop();
    if (!buffer) throw noBufferFree(this.name, this.#lentBuffers.size);
    this.#lentBuffers.add(buffer);
    return buffer;
  }

  returnBuffer(buffer: Buffer): void {
    if (!this.#lentBuffers.delete(buffer)) throw invalidArgValue('buffer', buffer, 'is not a buffer lent by this engine');
    this.#freeBuffers.push(buffer);
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** Open a file, with flags and mode as node:fs/promises open() takes them. */
  async open(path: string | Buffer | URL, flags: string | number = 'r', mode: string | number = 0o666): Promise<FileHandle> {
    // async: bad arguments reject, never throw, as node:fs/promises
    try {
      return await FileHandle.open(this, this.#inflight, validatePath(path), parseFlags(flags), parseMode(mode, 0o666));
    } catch (err) {
      throw stackFromHere(err);
    }
  }

  /**
   * Stop new work, cancel what can be cancelled (those operations reject with ECANCELED), wait for
   * everything else in flight, close the files still open, and release every native resource.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    forgotten.unregister(this);
    // A call that can wait forever on one of the engine's threads (a FIFO's open waiting for a
    // writer) is interrupted by cancel(); one that had not begun its call yet, by the next.
    this.#backend.cancel();
    const again = setInterval(() => this.#backend.cancel(), CANCEL_AGAIN_MS).unref();
    try {
      await this.#drained();
    } finally {
      clearInterval(again);
    }
    // Handles collected whose release has not run yet: their files are closed here, at once.
    await Promise.all([...this.#handles].map(([ref, fd]) => ref.deref()?.closeForEngine() ?? this.#closeUnowned(ref, fd)));
    await this.#drained();
    this.#backend.destroy();
  }

  /** Every operation of the engine and of its handles has settled. */
  #drained(): Promise<unknown> {
    return Promise.all([this.#inflight.drained(), ...[...this.#handles.keys()].map(ref => ref.deref()?.drained())]);
  }

  /** @internal A handle dropped while open was collected: close its file, as node's FileHandle does, with its warnings. */
  closeDropped(ref: WeakRef<FileHandle>, fd: number): void {
    if (!this.#handles.has(ref)) return; // closed meanwhile, with the engine
    process.emitWarning(`Closing file descriptor ${fd} on garbage collection`);
    if (!deprecationShown) {
      deprecationShown = true;
      process.emitWarning('Closing a FileHandle object on garbage collection is deprecated. Please close FileHandle objects explicitly using FileHandle.prototype.close(). In the future, an error will be thrown if a file descriptor is closed during garbage collection.',
        'DeprecationWarning', 'DEP0137');
    }
    void this.#closeUnowned(ref, fd);
  }

  /** Closes the file of a handle that is gone, counted in the engine's own operations (its close() waits). */
  #closeUnowned(ref: WeakRef<FileHandle>, fd: number): Promise<void> {
    this.#untrack(ref, fd);
    return perform(this.#backend, this.#inflight, (b, done) => b.close(fd, done), () => undefined, { syscall: 'close' }).catch(() => {});
  }

  /** @internal The backend for new work; throws once close() has begun. */
  backend(): Backend {
    if (this.#closing) throw engineClosed(this.name);
    return this.#backend;
  }

  /** @internal One operation on no handle (by path), counted in the engine's own InFlight. */
  perform<T>(start: Start, ok: (result: number) => T, c: Context): Promise<T> {
    let backend: Backend;
    try {
      backend = this.backend();
    } catch (err) {
      return Promise.reject(err);
    }
    return perform(backend, this.#inflight, start, ok, c);
  }

  /** @internal The backend for the engine's own closing of its files. */
  backendForClose(): Backend {
    return this.#backend;
  }

  /** @internal A handle is open on fd (until its close has completed): close() waits for its operations. */
  track(handle: FileHandle, fd: number, open: boolean): void {
    if (open) {
      const ref = new WeakRef(handle);
      this.#handles.set(ref, fd);
      this.#refs.set(handle, ref);
      dropped.register(handle, { engine: this.#self, ref, fd }, ref);
      const fds = this.#leftovers.fds;
      fds.set(fd, (fds.get(fd) ?? 0) + 1);
    } else {
      const ref = this.#refs.get(handle);
      this.#refs.delete(handle);
      if (ref) this.#untrack(ref, fd);
    }
  }

  #untrack(ref: WeakRef<FileHandle>, fd: number): void {
    if (!this.#handles.delete(ref)) return;
    dropped.unregister(ref);
    const fds = this.#leftovers.fds, count = fds.get(fd) ?? 0;
    if (count > 1) fds.set(fd, count - 1);
    else fds.delete(fd);
  }
}
