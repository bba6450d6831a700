// The `sync` engine: the blocking call (pread/pwrite/...) on the calling thread, through
// node:fs's synchronous functions. Fastest on page-cache hits; blocks everything else meanwhile.
import fs from 'node:fs';
import { packListing } from '../fs/listing.js';
import { STEP, WRITEFILE } from '../ops.js';
import { fromStats } from '../stats.js';
import type { Bytes } from '../validate.js';
import type { Backend, Done } from './backend.js';
import { errnoFrom, positionArg as at } from './node-fs.js';
import type { EngineDescriptor } from './descriptor.js';

function run(done: Done, call: () => number | void): void {
  let result: number;
  try {
    result = call() ?? 0;
  } catch (err) {
    result = errnoFrom(err);
  }
  done(result);
}

/**
 * Calls on the file open() gives, then its close: body's result, or -(errno + step * STEP.UNIT)
 * of the call that failed (body's error is the one told, not close's after it).
 */
function onFile(open: () => number, body: (fd: number, at: { step: number }) => number): number {
  const at = { step: STEP.OPEN as number };
  try {
    const fd = open();
    let result: number;
    try {
      result = body(fd, at);
    } catch (err) {
      closeQuietly(fd);
      throw err;
    }
    at.step = STEP.CLOSE;
    fs.closeSync(fd);
    return result;
  } catch (err) {
    return errnoFrom(err) - at.step * STEP.UNIT;
  }
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch { /* the error told is the one before */ }
}

export class SyncBackend implements Backend {
  open(path: string, flags: number, mode: number, done: Done): void { run(done, () => fs.openSync(path, flags, mode)); }
  close(fd: number, done: Done): void { run(done, () => fs.closeSync(fd)); }
  read(fd: number, buffer: Bytes, offset: number, length: number, position: number, done: Done): void {
    run(done, () => fs.readSync(fd, buffer, offset, length, at(position)));
  }
  write(fd: number, buffer: Bytes, offset: number, length: number, position: number, done: Done): void {
    run(done, () => fs.writeSync(fd, buffer, offset, length, at(position)));
  }
  readv(fd: number, buffers: Bytes[], position: number, done: Done): void { run(done, () => fs.readvSync(fd, buffers, at(position) ?? undefined)); }
  writev(fd: number, buffers: Bytes[], position: number, done: Done): void { run(done, () => fs.writevSync(fd, buffers, at(position) ?? undefined)); }
  fsync(fd: number, done: Done): void { run(done, () => fs.fsyncSync(fd)); }
  fdatasync(fd: number, done: Done): void { run(done, () => fs.fdatasyncSync(fd)); }
  fstat(fd: number, out: Float64Array, done: Done): void { run(done, () => fromStats(fs.fstatSync(fd), out)); }
  ftruncate(fd: number, length: number, done: Done): void { run(done, () => fs.ftruncateSync(fd, length)); }
  stat(path: string, noFollow: boolean, out: Float64Array, done: Done): void {
    run(done, () => fromStats(noFollow ? fs.lstatSync(path) : fs.statSync(path), out));
  }
  unlink(path: string, dir: boolean, done: Done): void { run(done, () => (dir ? fs.rmdirSync(path) : fs.unlinkSync(path))); }
  rename(from: string, to: string, done: Done): void { run(done, () => fs.renameSync(from, to)); }
  mkdir(path: string, mode: number, done: Done): void { run(done, () => void fs.mkdirSync(path, mode)); }
  readFile(path: string, flags: number, buffer: Bytes, done: Done): void {
    // As native/blocking.c's read_file: a file that does not fit is left open for the caller.
    let fd: number;
    try {
      fd = fs.openSync(path, flags);
    } catch (err) {
      return done(errnoFrom(err) - STEP.OPEN * STEP.UNIT);
    }
    let size: number;
    try {
      const st = fs.fstatSync(fd);
      size = st.isFile() ? st.size : 0;
    } catch (err) {
      closeQuietly(fd);
      return done(errnoFrom(err) - STEP.FSTAT * STEP.UNIT);
    }
    if (size === 0 || size >= buffer.byteLength) return done(buffer.byteLength + 2 + fd);
    done(onFile(() => fd, (opened, at) => {
      at.step = STEP.READ;
      return fs.readSync(opened, buffer, 0, size, null); // one read: a short count is the end, as node's
    }));
  }
  writeFile(path: string, flags: number, mode: number, how: number, data: Bytes, done: Done): void {
    done(onFile(() => fs.openSync(path, flags, mode), (fd, at) => {
      const cut = (how & WRITEFILE.CUT) !== 0;
      let written = 0, positioned = cut;
      at.step = STEP.WRITE;
      try {
        while (written < data.byteLength) {
          try {
            written += fs.writeSync(fd, data, written, data.byteLength - written, positioned ? written : null);
          } catch (err) {
            if (!positioned || (err as NodeJS.ErrnoException).code !== 'ESPIPE') throw err;
            positioned = false; // no positions here (a pipe): go on where the file is
          }
        }
      } catch (err) {
        if (cut) try { fs.ftruncateSync(fd, written); } catch { /* the write's error is the one told */ }
        throw err;
      }
      at.step = STEP.FTRUNCATE;
      if (cut) try { fs.ftruncateSync(fd, written); } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err; }
      at.step = STEP.FSYNC;
      if (how & WRITEFILE.FLUSH) fs.fsyncSync(fd);
      return written;
    }));
  }
  access(path: string, mode: number, done: Done): void { run(done, () => fs.accessSync(path, mode)); }
  chmod(path: string, mode: number, done: Done): void { run(done, () => fs.chmodSync(path, mode)); }
  utimes(path: string, atime: number, mtime: number, done: Done): void {
    const time = (t: number) => (Number.isNaN(t) ? new Date(NaN) : t); // NaN seconds: node takes only an invalid Date
    run(done, () => fs.utimesSync(path, time(atime), time(mtime)));
  }
  truncate(path: string, length: number, done: Done): void {
    done(onFile(() => fs.openSync(path, 'r+'), (fd, at) => {
      at.step = STEP.FTRUNCATE;
      fs.ftruncateSync(fd, length);
      return 0;
    }));
  }
  copyFile(from: string, to: string, flags: number, done: Done): void { run(done, () => fs.copyFileSync(from, to, flags)); }
  readdir(path: string, buffer: Bytes, done: Done): void {
    run(done, () => packListing(fs.readdirSync(path, { encoding: 'buffer', withFileTypes: true }), buffer));
  }
  cancel(): void {}
  destroy(): void {}
}

export const sync: EngineDescriptor = {
  name: 'sync',
  fioNames: ['psync', 'pvsync'],
  fioReference: 'psync',
  blocksLoop: true,
  color: '#59a14f',
  autoRank: 5,
  probe: () => undefined,
  create: () => new SyncBackend(),
};
