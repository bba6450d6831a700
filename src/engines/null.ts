// The `null` engine: every operation completes at once without any I/O (fio's null engine), so
// a benchmark of it measures ioengine's own overhead. Reads leave the buffer as it was. Not
// forever in one turn of the loop, though: a program awaiting one operation after another would
// never let a timer run. Once the turn's budget is spent, operations complete in the next turn.
import { constants } from 'node:fs';
import { S } from '../stats.js';
import { byteLengthOf, type Bytes } from '../validate.js';
import type { Backend, Done } from './backend.js';
import type { EngineDescriptor } from './descriptor.js';
import { TurnBudget } from './turn.js';

export class NullBackend implements Backend {
  #nextFd = 1 << 20; // never a real descriptor
  readonly #turn = new TurnBudget();
  #later: [Done, number][] = [];

  #complete(done: Done, result: number): void {
    this.#turn.begin();
    this.#turn.count(1);
    if (!this.#turn.spent()) return done(result);
    if (this.#later.push([done, result]) === 1) setImmediate(this.#completeLater);
  }

  #completeLater = (): void => {
    const later = this.#later;
    this.#later = [];
    for (const [done, result] of later) done(result);
  };

  open(_path: string, _flags: number, _mode: number, done: Done): void { this.#complete(done, this.#nextFd++); }
  close(_fd: number, done: Done): void { this.#complete(done, 0); }
  read(_fd: number, _b: Bytes, _o: number, length: number, _p: number, done: Done): void { this.#complete(done, length); }
  write(_fd: number, _b: Bytes, _o: number, length: number, _p: number, done: Done): void { this.#complete(done, length); }
  readv(_fd: number, buffers: Bytes[], _p: number, done: Done): void { this.#complete(done, byteLengthOf(buffers)); }
  writev(_fd: number, buffers: Bytes[], _p: number, done: Done): void { this.#complete(done, byteLengthOf(buffers)); }
  fsync(_fd: number, done: Done): void { this.#complete(done, 0); }
  fdatasync(_fd: number, done: Done): void { this.#complete(done, 0); }
  fstat(_fd: number, out: Float64Array, done: Done): void {
    out.fill(0);
    out[S.mode] = constants.S_IFREG | 0o644;
    out[S.nlink] = 1;
    this.#complete(done, 0);
  }
  ftruncate(_fd: number, _length: number, done: Done): void { this.#complete(done, 0); }
  stat(_path: string, _noFollow: boolean, out: Float64Array, done: Done): void { this.fstat(-1, out, done); }
  unlink(_path: string, _dir: boolean, done: Done): void { this.#complete(done, 0); }
  rename(_from: string, _to: string, done: Done): void { this.#complete(done, 0); }
  mkdir(_path: string, _mode: number, done: Done): void { this.#complete(done, 0); }
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
