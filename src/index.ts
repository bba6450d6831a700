// The public entry points: engines(), createEngine(), open().
import { Engine } from './engine.js';
import type { EngineOptions } from './engines/backend.js';
import { engineInfo, type EngineInfo } from './engines/registry.js';
import type { FileHandle } from './file-handle.js';

export { Engine } from './engine.js';
export { FileHandle } from './file-handle.js';
export { allocAligned } from './direct.js';
export type { ReadOptions, ReadResult, WriteOptions, WriteResult } from './file-handle.js';
export type { ManyRequest } from './many.js';
export type { EngineOptions } from './engines/backend.js';
export type { EngineInfo } from './engines/registry.js';
export type { SystemError } from './errors.js';

/** Every engine, in a stable order, with whether it can run here and, if not, why. */
export function engines(): EngineInfo[] {
  return engineInfo();
}

/**
 * An engine by name (see engines()) or 'auto' (the best available here; IOENGINE_ENGINES=a,b
 * restricts its choice). One engine serves one JS thread: create one per worker_thread.
 *
 * Security: work queued on an engine runs with the credentials the engine was created with
 * (for io_uring, the ring's creator: the lesson of CVE-2024-22017). To change identity,
 * close() the engine and create a new one.
 */
export function createEngine(name: string = 'auto', options?: EngineOptions): Engine {
  return new Engine(name, options);
}

let shared: Engine | undefined;

/** open() on a shared `auto` engine, created on first use. */
export function open(path: string | Buffer | URL, flags: string | number = 'r', mode: string | number = 0o666): Promise<FileHandle> {
  try {
    if (!shared || shared.closed) shared = createEngine('auto');
  } catch (err) {
    return Promise.reject(err); // no engine here: a rejection, as every other failure of open()
  }
  return shared.open(path, flags, mode);
}
