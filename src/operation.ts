// The core below every front (FileHandle today; the node:fs/promises functions next): one
// operation's life from admission to its settled promise. Every operation is counted once, in
// the InFlight of what it belongs to (a file handle, or the engine for work on no handle), so
// that a handle's close() and the engine's close() wait for exactly what is theirs. An aborted
// operation rejects only once the engine has let go of its buffers; errors are node:fs's.
import type { Backend, Done } from './engines/backend.js';
import { abortError, errnoOf, systemError } from './errors.js';

const ECANCELED = errnoOf('ECANCELED');

/**
 * Owners (handles, engines) with operations in flight. An operation's callbacks need not refer to
 * its handle or engine, so this keeps them reachable until their work is done: the collector
 * never finds an engine with work in flight (src/engine.ts releases forgotten engines).
 */
const busy = new Set<object>();

/** A count of operations in flight, and the promises waiting for it to reach zero. */
export class InFlight {
  readonly #owner: object;
  #count = 0;
  #idle: (() => void)[] = [];

  /** owner: what stays reachable while anything is in flight. */
  constructor(owner: object) {
    this.#owner = owner;
  }

  get count(): number {
    return this.#count;
  }

  begin(): void {
    if (this.#count++ === 0) busy.add(this.#owner);
  }

  end(): void {
    if (--this.#count > 0) return;
    busy.delete(this.#owner);
    if (this.#idle.length > 0) for (const resolve of this.#idle.splice(0)) resolve();
  }

  /** Resolves once nothing is in flight (at once when nothing is). */
  drained(): Promise<void> {
    return this.#count === 0 ? Promise.resolve() : new Promise(resolve => this.#idle.push(resolve));
  }
}

/** How an operation starts on the backend: it calls done(result) once, later or at once. */
export type Start = (backend: Backend, done: Done) => void;

/** What an operation needs besides its start: for its error, and to be taken back. */
export interface Context {
  syscall: string;
  path?: string;
  /** rename's new path, named in its error as node:fs does */
  dest?: string;
  signal?: AbortSignal;
  /** the error for a negative result, when it is not systemError(result, syscall, path, dest) */
  failure?: (result: number) => Error;
}

/**
 * Runs one operation on backend, counted in inflight: resolves with ok(result), or rejects with
 * node's error for a negative errno (AbortError when it was taken back after an abort).
 * The caller admitted it (the engine is open, the handle too).
 */
export function perform<T>(backend: Backend, inflight: InFlight, start: Start, ok: (result: number) => T, c: Context): Promise<T> {
  return new Promise((resolve, reject) => {
    const signal = c.signal;
    if (signal?.aborted) return reject(abortError(signal.reason));
    inflight.begin();
    const done: Done = result => {
      if (signal) signal.removeEventListener('abort', onAbort);
      inflight.end();
      if (result >= 0) resolve(ok(result));
      else if (result === ECANCELED && signal?.aborted) reject(abortError(signal.reason));
      else reject(c.failure ? c.failure(result) : systemError(result, c.syscall, c.path, c.dest));
    };
    const onAbort = () => backend.abort?.(done);
    if (signal) signal.addEventListener('abort', onAbort, { once: true });
    try {
      start(backend, done);
    } catch (err) {
      // Not started (say, no memory for the engine's fallback): nothing to wait for.
      if (signal) signal.removeEventListener('abort', onAbort);
      inflight.end();
      reject(err);
    }
  });
}

export interface Transferred { bytesRead?: number; bytesWritten?: number; buffer: unknown }

// The resolving functions of the promise transfer() makes, handed out by one executor made once:
// an executor per call, with its context of every argument, was a fifth of what a read allocated.
let grabbedResolve: (value: Transferred) => void;
let grabbedReject: (reason: unknown) => void;
const grab = (resolve: (value: Transferred) => void, reject: (reason: unknown) => void): void => {
  grabbedResolve = resolve;
  grabbedReject = reject;
};

/**
 * perform() for the hot path, read and write without a signal: one closure per call. Resolves as node's read and
 * write do: { bytesRead, buffer } or { bytesWritten, buffer: data } (what the caller gave).
 */
export function transfer(backend: Backend, inflight: InFlight, write: boolean, fd: number, buffer: NodeJS.ArrayBufferView,
  offset: number, length: number, position: number, data: unknown): Promise<Transferred> {
  const promise = new Promise<Transferred>(grab);
  const resolve = grabbedResolve, reject = grabbedReject;
  inflight.begin();
  const done: Done = n => {
    inflight.end();
    if (n < 0) reject(systemError(n, write ? 'write' : 'read'));
    else if (write) resolve({ bytesWritten: n, buffer: data });
    else resolve({ bytesRead: n, buffer });
  };
  try {
    if (write) backend.write(fd, buffer, offset, length, position, done);
    else backend.read(fd, buffer, offset, length, position, done);
  } catch (err) {
    inflight.end();
    reject(err);
  }
  return promise;
}
