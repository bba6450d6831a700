// The one loader for the native addon. When it cannot load, every error met is kept in one
// message that says what to do; the engines that need no native code keep working.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { layoutMismatches } from './ops.js';

export interface Binding {
  create(kind: string, options: object | undefined, onComplete: (count: number) => void, submissions: Float64Array, completions: Float64Array): object | number;
  /**
   * Completions left in the completion array, or -EBADF: the engine is closed, nothing started.
   * inline false: nothing of the batch runs at once (it is flushed to be cancelled).
   */
  submit(handle: object, count: number, buffers: unknown[], inline?: boolean): number;
  /** A read the page cache holds, all of it, now (the `inline` option): bytes read, or -errno (then submit it). */
  readNow(handle: object, fd: number, buffer: unknown, offset: number, length: number, position: number): number;
  /** A buffered write alone, now, where the `inline` option writes inline: bytes written, -EAGAIN (not here or not now: submit it), or the write's -errno. */
  writeNow(handle: object, fd: number, buffer: unknown, offset: number, length: number, position: number): number;
  supports(handle: object, op: number): boolean;
  misalignment(view: NodeJS.ArrayBufferView, offset: number, alignment: number): number;
  /** Transparent huge pages for the view's memory, before a read fills it: 0 or -errno. */
  adviseHugePages(view: NodeJS.ArrayBufferView): number;
  /** Where fd's current position is (lseek SEEK_CUR), or -errno (a pipe, a socket, a terminal: ESPIPE). */
  filePosition(fd: number): number;
  /** A file another engine's operation opened, now this engine's to close (and to close if the environment goes first). */
  adopt(handle: object, fd: number, from: object): void;
  cancel(handle: object, id?: number): void;
  buffers(handle: object): ArrayBuffer | undefined;
  destroy(handle: object): void;
  layout(): Record<string, number>;
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CANDIDATES = ['build/Release/ioengine.node', 'build/Debug/ioengine.node'];

let loaded: Binding | undefined;
let failure: string | undefined;

function load(): void {
  const require = createRequire(import.meta.url);
  const errors: string[] = [];
  for (const candidate of CANDIDATES) {
    const file = path.join(root, candidate);
    try {
      const addon = require(file) as Binding;
      const wrong = layoutMismatches(addon.layout());
      if (wrong.length === 0) {
        loaded = addon;
        return;
      }
      errors.push(`  ${file}: built from other sources than this JS (${wrong.join('; ')})`);
    } catch (err) {
      errors.push(`  ${file}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  failure = `the native addon could not be loaded:\n${errors.join('\n')}\n` +
    `Build it with \`npm rebuild ioengine\` (needs python3, make and a C and C++ compiler); ` +
    `the libuv, workers and null engines work without it.`;
}

/** The addon, or undefined with bindingError() saying why. */
export function binding(): Binding | undefined {
  if (!loaded && !failure) load();
  return loaded;
}

/** native/large_memory.cc: result memory used again once the collector frees it. */
export interface LargeMemory {
  /** A Buffer of size bytes in memory of its own, not initialized; undefined when none can be mapped. */
  largeBuffer(size: number): Buffer | undefined;
  /** Bytes kept for use again. */
  cachedBytes(): number;
  /** Unmaps what has been unused for idleMs or more; returns the bytes still kept. */
  trim(idleMs: number): number;
}

let largeMemoryLoaded: LargeMemory | null | undefined;

/** The large-memory addon, or undefined where it was not built (then node's allocator serves). */
export function largeMemory(): LargeMemory | undefined {
  if (largeMemoryLoaded === undefined) {
    largeMemoryLoaded = null;
    const require = createRequire(import.meta.url);
    for (const candidate of ['build/Release/large_memory.node', 'build/Debug/large_memory.node']) {
      try {
        largeMemoryLoaded = require(path.join(root, candidate)) as LargeMemory;
        break;
      } catch {
        // not built here: the next, or none
      }
    }
  }
  return largeMemoryLoaded ?? undefined;
}

export function bindingError(): string | undefined {
  if (!loaded && !failure) load();
  return failure;
}
