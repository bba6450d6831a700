// ioengine/fs: node:fs/promises over an engine. Every function node:fs/promises has is here, with
// node's arguments, results and errors: what an engine does (open, the whole-file functions, stat,
// lstat, unlink, rmdir, rename, mkdir) runs on it; the rest is node's own, passed through. The
// functions exported by name use one shared `auto` engine, made on first use (it keeps nothing
// alive while idle); fsOn(engine) gives the same functions on an engine of your choosing.
import nodeFspLive from 'node:fs/promises';
import type { BigIntStats, Stats } from 'node:fs';
import type { Engine } from '../engine.js';
import { createEngine } from '../index.js';
import { FileHandle } from '../file-handle.js';
import { invalidArgType, stackFromHere } from '../errors.js';
import { statFields, toStatsAndFree } from '../stats.js';
import { validateInteger, validateObject, validatePath } from '../validate.js';
import fs, { constants } from 'node:fs';
import { types } from 'node:util';
import type { Done } from '../engines/backend.js';
import { errnoFrom } from '../engines/node-fs.js';
import { parseFlags, parseMode } from '../flags.js';
import type { Start } from '../operation.js';
import { WRITEFILE } from '../ops.js';
import { closing } from './closing.js';
import { readListing } from './listing.js';
import { fileOptions } from './options.js';
import { readableInOne, readInOne, readInOneBuffer, readInOneResult, stepError, writeInOne } from './one-operation.js';
import { checkAborted, readWhole, validateWriteData, writeWhole, type WriteData, type WriteProgress } from './whole-file.js';

type PathLike = string | Buffer | URL;

/**
 * node's own functions, taken when this module loads: ioengine/register later puts ours in
 * node:fs/promises' object, and ours call node's for what they pass through (they would call
 * themselves).
 */
const nodeFsp = { ...nodeFspLive };

/** node:fs/promises' functions, on one engine. */
export function fsOn(engine: Engine | string = 'auto') {
  let made: Engine | undefined = typeof engine === 'string' ? undefined : engine;
  const on = (): Engine => {
    if (!made || (typeof engine === 'string' && made.closed)) made = createEngine(engine as string);
    return made;
  };

  /**
   * A path operation on the engine, with node's error (path, syscall). Its stack is taken only
   * when it fails, here, after the await: V8 then adds the caller's async frames, as node's
   * own promise errors have them; taking it up front costs more than a cached stat.
   */
  const byPath = async <T>(syscall: string, path: string, start: Start, ok: (r: number) => T, dest?: string): Promise<T> => {
    try {
      return await on().perform(start, ok, { syscall, path, dest });
    } catch (err) {
      throw stackFromHere(err);
    }
  };

  async function open(path: PathLike, flags?: string | number, mode?: string | number): Promise<FileHandle> {
    return on().open(path, flags, mode);
  }

  async function readFile(path: PathLike | FileHandle, options?: unknown): Promise<Buffer | string> {
    const { encoding, signal, flag } = fileOptions(options, { flag: 'r' });
    if (path instanceof FileHandle) return readWhole(path, encoding, signal);
    checkAborted(signal);
    try {
      const flags = parseFlags(flag);
      // A small file in one operation (open, fstat, read, close); with a signal, the usual way,
      // whose steps are abort points. What one operation does not read, it leaves open.
      let handle: FileHandle | undefined;
      if (!signal && readableInOne(flags)) {
        const where = on(), file = validatePath(path), buffer = readInOneBuffer(); // the buffer last: nothing throws after
        const got = await readInOne(where, file, flags, buffer);
        if (typeof got === 'number') {
          const bytes = readInOneResult(got, buffer);
          return encoding ? bytes.toString(encoding) : bytes;
        }
        handle = got;
      }
      handle ??= await on().open(path, flag, 0o666);
      return await closing(handle, readWhole(handle, encoding, signal, true));
    } catch (err) {
      throw stackFromHere(err);
    }
  }

  async function writeFile(path: PathLike | FileHandle, data: WriteData, options?: unknown, dflt = 'w'): Promise<void> {
    const { encoding, signal, flag, mode, flush } = fileOptions(options, { encoding: 'utf8', flag: dflt, mode: 0o666 });
    validateWriteData(data);
    if (typeof flush !== 'boolean') throw invalidArgType('options.flush', 'of type boolean', flush);
    if (path instanceof FileHandle) return await writeWhole(path, data, encoding ?? 'utf8', signal);
    checkAborted(signal);
    // Not O_TRUNC: write, then cut the file to what was written (also when the write fails
    // midway, as O_TRUNC would have left it). ext4 (auto_da_alloc) writes a file back at close()
    // when it was truncated to zero and written again: 8 to 9x slower for small files here.
    // A file that is no regular file (EINVAL) has nothing to cut, as O_TRUNC ignores it.
    const flags = parseFlags(flag);
    const cut = (flags & constants.O_TRUNC) !== 0 && (flags & (constants.O_APPEND | constants.O_EXCL)) === 0 && (flags & ACCESS_MODE) !== constants.O_RDONLY;
    try {
      const openFlags = cut ? flags & ~constants.O_TRUNC : flags;
      if (!signal && (typeof data === 'string' || ArrayBuffer.isView(data))) {
        // Bytes or text in one operation (open, write, cut, fsync, close) where the engine can.
        const p = validatePath(path);
        const bytes = typeof data === 'string' ? Buffer.from(data, encoding ?? 'utf8') : data;
        const how = (cut ? WRITEFILE.CUT : 0) | (flush ? WRITEFILE.FLUSH : 0);
        const m = parseMode(mode, 0o666);
        if (await writeInOne(on(), p, openFlags, m, how, bytes)) return;
      }
      const handle = await on().open(path, openFlags, mode);
      const progress: WriteProgress = { at: cut ? 0 : null, written: 0 };
      let written = writeWhole(handle, data, encoding ?? 'utf8', signal, progress, true);
      if (cut) written = cutAfter(handle, written, progress);
      if (flush) written = written.then(() => handle.sync());
      return await closing(handle, written);
    } catch (err) {
      throw stackFromHere(err);
    }
  }

  async function appendFile(path: PathLike | FileHandle, data: WriteData, options?: unknown): Promise<void> {
    return await writeFile(path, data, options, 'a');
  }

  async function stat(path: PathLike, options?: { bigint?: boolean }): Promise<Stats | BigIntStats> {
    return await statOf('stat', false, path, options);
  }

  async function lstat(path: PathLike, options?: { bigint?: boolean }): Promise<Stats | BigIntStats> {
    return await statOf('lstat', true, path, options);
  }

  async function statOf(syscall: string, noFollow: boolean, path: PathLike, options?: { bigint?: boolean }) {
    const p = validatePath(path);
    // BigInt fields do not fit the engines' doubles: node answers those.
    if (validateObject(options, 'options').bigint) return noFollow ? nodeFsp.lstat(path, { bigint: true }) : nodeFsp.stat(path, { bigint: true });
    const out = statFields();
    return await byPath(syscall, p, (b, done) => b.stat(p, noFollow, out, done), () => toStatsAndFree(out));
  }

  async function unlink(path: PathLike): Promise<void> {
    const p = validatePath(path);
    return await byPath('unlink', p, (b, done) => b.unlink(p, false, done), () => undefined);
  }

  async function rmdir(path: PathLike, options?: { recursive?: boolean; maxRetries?: number; retryDelay?: number }): Promise<void> {
    if (options !== undefined) return nodeFsp.rmdir(path, options); // its deprecated recursive form
    const p = validatePath(path);
    return await byPath('rmdir', p, (b, done) => b.unlink(p, true, done), () => undefined);
  }

  async function rename(oldPath: PathLike, newPath: PathLike): Promise<void> {
    const from = validatePath(oldPath, 'oldPath'), to = validatePath(newPath, 'newPath');
    return await byPath('rename', from, (b, done) => b.rename(from, to, done), () => undefined, to);
  }

  async function mkdir(path: PathLike, options?: { recursive?: boolean; mode?: string | number } | string | number): Promise<string | undefined> {
    // As node's: a number or string is the mode; anything else is the options, or none (true, false, null).
    const o = typeof options === 'number' || typeof options === 'string' ? { mode: options }
      : (options || {}) as { recursive?: boolean; mode?: string | number };
    // Which directories it made is node's answer; and anything but a boolean, node's refusal.
    if (o.recursive !== undefined && o.recursive !== false) return nodeFsp.mkdir(path, o);
    const p = validatePath(path);
    const mode = parseMode(o.mode, 0o777);
    return await byPath('mkdir', p, (b, done) => b.mkdir(p, mode, done), () => undefined);
  }

  async function access(path: PathLike, mode?: number): Promise<void> {
    const p = validatePath(path);
    const m = mode == null ? constants.F_OK : validateInteger(mode, 'mode', 0, 7);
    return await byPath('access', p, (b, done) => (b.access ? b.access(p, m, done) : viaNode(cb => fs.access(p, m, cb), done)), () => undefined);
  }

  async function chmod(path: PathLike, mode: string | number): Promise<void> {
    const p = validatePath(path);
    if (mode == null) throw invalidArgType('mode', 'of type number', mode);
    const m = parseMode(mode, 0);
    return await byPath('chmod', p, (b, done) => (b.chmod ? b.chmod(p, m, done) : viaNode(cb => fs.chmod(p, m, cb), done)), () => undefined);
  }

  async function utimes(path: PathLike, atime: TimeLike, mtime: TimeLike): Promise<void> {
    const p = validatePath(path);
    const a = toUnixTimestamp(atime, 'atime'), m = toUnixTimestamp(mtime, 'mtime');
    return await byPath('utime', p, (b, done) => (b.utimes ? b.utimes(p, a, m, done) : viaNode(cb => fs.utimes(p, a, m, cb), done)), () => undefined);
  }

  async function truncate(path: PathLike, len: number = 0): Promise<void> {
    const p = validatePath(path);
    // As node: open for reading and writing, ftruncate, close; in one operation where the engine
    // can. node opens the file before it checks len: for a bad len, its error in its order.
    const length = Number.isSafeInteger(len) ? Math.max(0, len) : -1;
    try {
      const inOne = length >= 0 && await on().perform((b, done) => (b.truncate ? b.truncate(p, length, done) : done(1)),
        r => r === 0, { syscall: 'open', failure: r => stepError(r, p) });
      if (inOne) return;
      const handle = await on().open(path, 'r+');
      return await closing(handle, handle.truncate(len));
    } catch (err) {
      throw stackFromHere(err);
    }
  }

  async function copyFile(src: PathLike, dest: PathLike, mode?: number): Promise<void> {
    const from = validatePath(src, 'src'), to = validatePath(dest, 'dest');
    const flags = mode == null ? 0 : validateInteger(mode, 'mode', 0, 7);
    return await byPath('copyfile', from, (b, done) => (b.copyFile ? b.copyFile(from, to, flags, done) : viaNode(cb => fs.copyFile(from, to, flags, cb), done)), () => undefined, to);
  }

  async function readdir(path: PathLike, options?: unknown) {
    const { encoding } = fileOptions(options, { encoding: 'utf8' });
    const o = typeof options === 'object' && options !== null ? options as { withFileTypes?: boolean; recursive?: boolean } : {};
    if (o.recursive) return nodeFsp.readdir(path, options as never); // node's walk of the tree
    const p = validatePath(path);
    for (let size = LISTING;;) {
      const listing = Buffer.allocUnsafe(size);
      const n = await byPath('scandir', p, (b, done) => (b.readdir ? b.readdir(p, listing, done) : done(Infinity)), r => r);
      if (n === Infinity) return nodeFsp.readdir(path, options as never); // not on this engine
      if (n <= size) return readListing(listing, n, encoding, o.withFileTypes === true, p);
      size = n; // larger than guessed: again, with room for it
    }
  }

  return {
    ...nodeFsp,
    readdir, access, chmod, utimes, truncate, copyFile,
    open, readFile, writeFile: async (path: PathLike | FileHandle, data: WriteData, options?: unknown) => await writeFile(path, data, options),
    appendFile, stat, lstat, unlink, rmdir, rename, mkdir,
  };
}

/** An operation the engine lacks, done by node:fs's callback form (libuv's threads): its errno to done. */
function viaNode(call: (cb: (err: NodeJS.ErrnoException | null) => void) => void, done: Done): void {
  call(err => done(err ? errnoFrom(err) : 0));
}

/** The listing buffer readdir starts with: about 3,000 entries of short names. */
const LISTING = 64 * 1024;

type TimeLike = string | number | Date;

/** A time as node's utimes takes it, in seconds (node's toUnixTimestamp: a negative number is now). */
function toUnixTimestamp(time: unknown, name: string): number {
  if (typeof time === 'string' && !Number.isNaN(Number(time))) return Number(time); // node's +time == time
  if (typeof time === 'number' && Number.isFinite(time)) return time < 0 ? Date.now() / 1000 : time;
  if (types.isDate(time)) return time.getTime() / 1000;
  throw invalidArgType(name, 'an instance of Date or Time in seconds', time);
}

/** O_ACCMODE: the bits of open()'s flags that say read, write or both. */
const ACCESS_MODE = 3;

/** Once write is done, the file cut to the bytes written, also when it failed (its error is the one told). */
async function cutAfter(handle: FileHandle, write: Promise<void>, progress: WriteProgress): Promise<void> {
  try {
    await write;
  } catch (err) {
    await handle.truncate(progress.written).catch(() => {});
    throw err;
  }
  await handle.truncate(progress.written).catch((err: { code?: string }) => { if (err.code !== 'EINVAL') throw err; });
}


