// What ioengine knows about one engine, in one place: the registry, option checking, the bench,
// the report and the tests all read it. Adding an engine is its backend (and native file), its
// descriptor, and one line in registry.ts's ENGINES.
import type { Backend, EngineOptions } from './backend.js';

export interface EngineDescriptor {
  /** What createEngine() and the bench's --ioengine take. */
  readonly name: string;
  /** fio's --ioengine names the bench accepts for it (fio's psync runs the sync engine). */
  readonly fioNames?: readonly string[];
  /** fio's own engine doing the same thing: the reference row beside it (bench --fio). */
  readonly fioReference?: string;
  /** Every call runs on the calling thread: the event loop stands still until it returns. */
  readonly blocksLoop?: boolean;
  /** Does no I/O (fio's null engine): the bench's baseline, never chosen by auto. */
  readonly baseline?: boolean;
  /** A kernel queue (io_uring): auto sends its large buffered reads to its pool, to copy on every core. */
  readonly kernelQueue?: boolean;
  /** auto's order of preference, 1 first; without one, auto never picks it. */
  readonly autoRank?: number;
  /** Its colour in every chart of the report. */
  readonly color: string;
  /** The options it reads, with their defaults: create() gets them filled in. */
  readonly defaults?: Readonly<EngineOptions>;
  /** undefined when it can run here, else why not, in words a person can act on. */
  probe(): string | undefined;
  /**
   * A backend with options (the user's over the defaults); `fallback` makes the engine that
   * runs, one by one, the operations this one cannot (the pool engine, with the same options).
   */
  create(options: EngineOptions, fallback: () => Backend): Backend;
  /** What a failed set-up's error code means here, in words a person can act on. */
  readonly reasons?: Readonly<Record<string, string>>;
}

