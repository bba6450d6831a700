// An engine instance: one backend (one ring, one pool, one context), used from one JS thread.
// close() stops new work, cancels what it can, waits for the rest (every operation is counted
// in its handle's InFlight, or the engine's own), closes the files still open, and only then
// releases the backend.
import { engineClosed, invalidArgValue, noBufferFree, stackFromHere } from './errors.js';
import type { AutoChoice } from './engines/auto.js';
import type { Backend, EngineOptions } from './engines/backend.js';
import { createBackend, engineOptionNames } from './engines/registry.js';
import { FileHandle } from './file-handle.js';
import { parseFlags, parseMode } from './flags.js';
import { InFlight, perform, type Context, type Start } from './operation.js';
import { validateEngineOptions, validatePath } from './validate.js';

export class Engine {
  /** The engine's name (what `auto` runs on, for `auto`). */
  readonly name: string;
  /** For `auto`: what it does with each kind of operation, and why. */
  readonly choices: AutoChoice[] | undefined;
  readonly #backend: Backend;
  /** Operations on no handle (open). */
  readonly #inflight = new InFlight();
  #closing: Promise<void> | undefined;
  readonly #handles = new Set<FileHandle>();
  readonly #freeBuffers: Buffer[] = [];
  readonly #lentBuffers = new Set<Buffer>();

  constructor(name: string, options: EngineOptions = {}) {
    validateEngineOptions(options, engineOptionNames());
    const { name: resolved, backend, choices } = createBackend(name, options);
    this.name = resolved;
    this.choices = choices;
    this.#backend = backend;
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
    this.#backend.cancel();
    await this.#drained();
    await Promise.all([...this.#handles].map(h => h.closeForEngine()));
    await this.#drained();
    this.#backend.destroy();
  }

  /** Every operation of the engine and of its handles has settled. */
  #drained(): Promise<unknown> {
    return Promise.all([this.#inflight.drained(), ...[...this.#handles].map(h => h.drained())]);
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

  /** @internal A handle is open (until its close has completed): close() waits for its operations. */
  track(handle: FileHandle, open: boolean): void {
    if (open) this.#handles.add(handle);
    else this.#handles.delete(handle);
  }
}
