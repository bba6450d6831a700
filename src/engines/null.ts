// The `null` engine: every operation completes at once without any I/O (fio's null engine), so
// a benchmark of it measures ioengine's own overhead. Reads leave the buffer as it was.
import { constants } from 'node:fs';
import { S } from '../stats.js';
import { byteLengthOf, type Bytes } from '../validate.js';
import type { Backend, Done } from './backend.js';
import type { EngineDescriptor } from './descriptor.js';

export class NullBackend implements Backend {
  #nextFd = 1 << 20; // never a real descriptor
  open(_path: string, _flags: number, _mode: number, done: Done): void { done(this.#nextFd++); }
  close(_fd: number, done: Done): void { done(0); }
  read(_fd: number, _b: Bytes, _o: number, length: number, _p: number, done: Done): void { done(length); }
  write(_fd: number, _b: Bytes, _o: number, length: number, _p: number, done: Done): void { done(length); }
  readv(_fd: number, buffers: Bytes[], _p: number, done: Done): void { done(byteLengthOf(buffers)); }
  writev(_fd: number, buffers: Bytes[], _p: number, done: Done): void { done(byteLengthOf(buffers)); }
  fsync(_fd: number, done: Done): void { done(0); }
  fdatasync(_fd: number, done: Done): void { done(0); }
  fstat(_fd: number, out: Float64Array, done: Done): void {
    out.fill(0);
    out[S.mode] = constants.S_IFREG | 0o644;
    out[S.nlink] = 1;
    done(0);
  }
  ftruncate(_fd: number, _length: number, done: Done): void { done(0); }
  stat(_path: string, _noFollow: boolean, out: Float64Array, done: Done): void { this.fstat(-1, out, done); }
  unlink(_path: string, _dir: boolean, done: Done): void { done(0); }
  rename(_from: string, _to: string, done: Done): void { done(0); }
  mkdir(_path: string, _mode: number, done: Done): void { done(0); }
  cancel(): void {}
  destroy(): void {}
}

export const nullEngine: EngineDescriptor = {
  name: 'null',
  fioReference: 'null',
  baseline: true,
  color: '#8c8c8c',
  probe: () => undefined,
  create: () => new NullBackend(),
};
