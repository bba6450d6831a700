// The `libuv` engine: node:fs callbacks, run on libuv's thread pool. What Node does today.
import fs from 'node:fs';
import { fromStats } from '../stats.js';
import type { Bytes } from '../validate.js';
import type { Backend, Done } from './backend.js';
import { errnoFrom, positionArg as at } from './node-fs.js';
import type { EngineDescriptor } from './descriptor.js';

const result = (done: Done) => (err: NodeJS.ErrnoException | null, n?: number) => done(err ? errnoFrom(err) : n ?? 0);

export class LibuvBackend implements Backend {
  open(path: string, flags: number, mode: number, done: Done): void { fs.open(path, flags, mode, result(done)); }
  close(fd: number, done: Done): void { fs.close(fd, result(done)); }
  read(fd: number, buffer: Bytes, offset: number, length: number, position: number, done: Done): void {
    fs.read(fd, buffer, offset, length, at(position), result(done));
  }
  write(fd: number, buffer: Bytes, offset: number, length: number, position: number, done: Done): void {
    fs.write(fd, buffer, offset, length, at(position), result(done));
  }
  readv(fd: number, buffers: Bytes[], position: number, done: Done): void { fs.readv(fd, buffers, at(position), result(done)); }
  writev(fd: number, buffers: Bytes[], position: number, done: Done): void { fs.writev(fd, buffers, at(position), result(done)); }
  fsync(fd: number, done: Done): void { fs.fsync(fd, result(done)); }
  fdatasync(fd: number, done: Done): void { fs.fdatasync(fd, result(done)); }
  fstat(fd: number, out: Float64Array, done: Done): void {
    fs.fstat(fd, (err, st) => {
      if (!err) fromStats(st, out);
      result(done)(err);
    });
  }
  ftruncate(fd: number, length: number, done: Done): void { fs.ftruncate(fd, length, result(done)); }
  stat(path: string, noFollow: boolean, out: Float64Array, done: Done): void {
    (noFollow ? fs.lstat : fs.stat)(path, (err, st) => {
      if (!err) fromStats(st, out);
      result(done)(err);
    });
  }
  unlink(path: string, dir: boolean, done: Done): void { (dir ? fs.rmdir : fs.unlink)(path, result(done)); }
  rename(from: string, to: string, done: Done): void { fs.rename(from, to, result(done)); }
  mkdir(path: string, mode: number, done: Done): void { fs.mkdir(path, mode, err => result(done)(err)); }
  cancel(): void {} // libuv cannot take back a request its pool has started
  destroy(): void {}
}

export const libuv: EngineDescriptor = {
  name: 'libuv',
  color: '#4e79a7',
  autoRank: 2,
  probe: () => undefined,
  create: () => new LibuvBackend(),
};
