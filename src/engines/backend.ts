// The engine contract on the JS side: every engine implements these operations. An operation
// is started, and later `done` is called once with a result >= 0 or a negative errno. How it
// runs is the engine's whole business. Arguments arrive validated (src/validate.ts).
import type { Bytes } from '../validate.js';

export type Done = (result: number) => void;

/** The file a readFile in one operation left open, from its result; -1 when it read the file. */
export const fileLeftOpen = (result: number, buffer: Bytes): number => (result > buffer.byteLength + 1 ? result - buffer.byteLength - 2 : -1);

export interface Backend {
  open(path: string, flags: number, mode: number, done: Done): void;
  close(fd: number, done: Done): void;
  /** position -1: the current file position. */
  read(fd: number, buffer: Bytes, offset: number, length: number, position: number, done: Done): void;
  write(fd: number, buffer: Bytes, offset: number, length: number, position: number, done: Done): void;
  readv(fd: number, buffers: Bytes[], position: number, done: Done): void;
  writev(fd: number, buffers: Bytes[], position: number, done: Done): void;
  fsync(fd: number, done: Done): void;
  fdatasync(fd: number, done: Done): void;
  /** Fills `out` (STAT_FIELDS doubles, see src/stats.ts). */
  fstat(fd: number, out: Float64Array, done: Done): void;
  ftruncate(fd: number, length: number, done: Done): void;
  /** stat, or lstat (`noFollow`), by path: fills `out` as fstat does. */
  stat(path: string, noFollow: boolean, out: Float64Array, done: Done): void;
  /** unlink, or rmdir (`dir`). */
  unlink(path: string, dir: boolean, done: Done): void;
  rename(from: string, to: string, done: Done): void;
  mkdir(path: string, mode: number, done: Done): void;
  /**
   * Optional, readFile in one operation (open with flags, size, read, close): the result is the
   * bytes read into buffer, all of the file; or, when the file does not fit or its size is
   * unknown, buffer's length + 2 + fd (fileLeftOpen): nothing read, the file left open on fd, a
   * file of this backend's as if open() had opened it (src/fs/one-operation.ts). A failure is
   * -(errno + step * STEP_UNIT) (src/ops.ts).
   */
  readFile?(path: string, flags: number, buffer: Bytes, done: Done): void;
  /**
   * Optional, writeFile in one operation (open, write all of data, WRITEFILE bits in `how`,
   * close): the result is the bytes written; failures as readFile's.
   */
  writeFile?(path: string, flags: number, mode: number, how: number, data: Bytes, done: Done): void;
  /** Optional, by path: access(2) with mode (F_OK, R_OK, ...). */
  access?(path: string, mode: number, done: Done): void;
  /** Optional, by path: chmod(2). */
  chmod?(path: string, mode: number, done: Done): void;
  /** Optional, by path: the access and modification times, in seconds (NaN: left as they are). */
  utimes?(path: string, atime: number, mtime: number, done: Done): void;
  /** Optional, by path: open for reading and writing, ftruncate, close; failures as readFile's. */
  truncate?(path: string, length: number, done: Done): void;
  /** Optional: node's copyFile (COPYFILE_* flags). */
  copyFile?(from: string, to: string, flags: number, done: Done): void;
  /**
   * Optional: a directory's entries into buffer, sorted as node's (strcmp), each a type byte
   * (fs.constants.UV_DIRENT_*), the name and a NUL. The result is the bytes the listing takes:
   * more than buffer holds asks for a larger buffer.
   */
  readdir?(path: string, buffer: Bytes, done: Done): void;
  /** Cancel what can be cancelled: those operations complete with -ECANCELED. */
  cancel(): void;
  /** Called once nothing is in flight: release every resource. */
  destroy(): void;
  /**
   * Optional: destroy() closes the files this backend opened, so nobody else may close them by
   * number (workers: node closes a worker's descriptors when it exits, later, whatever the
   * number is by then).
   */
  readonly destroyClosesFiles?: boolean;
  /**
   * Optional: try to take back the operation whose callback is `done`. It then completes with
   * -ECANCELED once the engine has let go of its buffers, or as usual if it finished first.
   */
  abort?(done: Done): void;
  /** Optional: the memory of the engine's registered buffers (io_uring registeredBuffers). */
  registeredMemory?(): ArrayBuffer | undefined;
  /** Optional: readFile handed back fd (in its completion, before anything else): the backend that closes it takes it. */
  handedBack?(fd: number): void;
}

/** Options every engine accepts; engines read their own from the same object. */
export interface EngineOptions {
  /** pool, workers: threads in the pool (default 4). thread: most threads alive at once (default 64). */
  threads?: number;
  /** pool: operations queued beyond the running ones (default 64). */
  queueDepth?: number;
  /** io_uring: submission queue entries (default 256; the completion queue has twice as many). */
  entries?: number;
  /** io_uring: a kernel thread polls the submission queue (burns a core; never the default). */
  sqpoll?: boolean | { idle?: number };
  /** io_uring: register opened files with the ring (default true: 1024 slots; a number of slots; false). */
  registerFiles?: boolean | number;
  /**
   * io_uring, pool, thread: page-cache work on the loop thread, at most half a millisecond per turn of
   * the loop (native/inline.c): a read alone that the cache holds is read at once, buffered
   * writes at a position run inside the call that submits them. auto's default; off for the
   * engines themselves, so that each shows its own way.
   */
  inline?: boolean;
  /** io_uring: a pool of registered buffers, lent by engine.borrowBuffer(). */
  registeredBuffers?: { count: number; size: number };
  [option: string]: unknown;
}
