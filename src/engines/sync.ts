// The `sync` engine: the blocking call (pread/pwrite/...) on the calling thread, through
// node:fs's synchronous functions. Fastest on page-cache hits; blocks everything else meanwhile.
import fs from 'node:fs';
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
