// A thread of the `workers` engine: waits on its control block, runs one node:fs sync call on
// the shared data block, posts the result. Data moves through the shared block because a worker
// cannot touch the caller's (non-shared) buffers.
import fs from 'node:fs';
import { receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { STAT_FIELDS, fromStats } from '../stats.js';
import { EINVAL, errnoFrom } from './node-fs.js';
import { Op } from '../ops.js';
import { dataView, DONE, F, READY, REQUEST, STATE, type DataBlock } from './workers-protocol.js';

const { control, data: initial, port } = workerData as { control: SharedArrayBuffer; data: DataBlock; port: MessagePort };
const i32 = new Int32Array(control);
const f64 = new Float64Array(control);
let data = dataView(initial);

/** The first n bytes of the data block, as text (paths). */
const text = (n: number) => Buffer.from(data.buffer, data.byteOffset, n).toString();

function run(): number {
  const op = f64[F.op], fd = f64[F.fd], length = f64[F.length];
  const position = f64[F.position] < 0 ? null : f64[F.position];
  switch (op) {
    case Op.OPEN: return fs.openSync(text(length), f64[F.a], f64[F.b]);
    case Op.CLOSE: fs.closeSync(fd); return 0;
    case Op.READ: return fs.readSync(fd, data, 0, length, position);
    case Op.WRITE: return fs.writeSync(fd, data, 0, length, position);
    case Op.FSYNC: fs.fsyncSync(fd); return 0;
    case Op.FDATASYNC: fs.fdatasyncSync(fd); return 0;
    case Op.FSTAT: fromStats(fs.fstatSync(fd), new Float64Array(data.buffer, data.byteOffset, STAT_FIELDS)); return 0;
    case Op.FTRUNCATE: fs.ftruncateSync(fd, f64[F.position]); return 0;
    case Op.STAT: {
      const path = text(f64[F.b]);
      fromStats(f64[F.a] ? fs.lstatSync(path) : fs.statSync(path), new Float64Array(data.buffer, data.byteOffset, STAT_FIELDS));
      return 0;
    }
    case Op.UNLINK: (f64[F.a] ? fs.rmdirSync : fs.unlinkSync)(text(length)); return 0;
    case Op.RENAME: { const [from, to] = text(length).split('\0'); fs.renameSync(from, to); return 0; }
    case Op.MKDIR: fs.mkdirSync(text(length), f64[F.b]); return 0;
    default: return EINVAL;
  }
}

Atomics.store(i32, READY, 1);
Atomics.notify(i32, READY);

for (;;) {
  // Sleep until the main thread posts a request. After DONE, the state stays DONE until the main
  // thread has taken the result: wait on whatever value is there, never spin.
  for (let state = Atomics.load(i32, STATE); state !== REQUEST; state = Atomics.load(i32, STATE)) Atomics.wait(i32, STATE, state);
  // The newest data block, should the main thread have grown it more than once meanwhile
  for (let m = f64[F.newData] ? receiveMessageOnPort(port) : undefined; m; m = receiveMessageOnPort(port))
    data = dataView(m.message as DataBlock);
  let result: number;
  try {
    result = run();
  } catch (err) {
    result = errnoFrom(err);
  }
  f64[F.result] = result;
  Atomics.store(i32, STATE, DONE);
  Atomics.notify(i32, STATE);
}
