// readFile and writeFile of a small file in one operation on the engine (open, size, read or
// write, close: backend readFile/writeFile), where the engine can: one crossing instead of four
// round trips. What does not fit goes the usual way (src/fs/whole-file.ts) on the file the
// operation opened; the results and errors are the same either way, node's.
import { constants } from 'node:fs';
import type { Engine } from '../engine.js';
import { fileLeftOpen } from '../engines/backend.js';
import { FileHandle } from '../file-handle.js';
import { systemError, type SystemError } from '../errors.js';
import { STEP } from '../ops.js';
import type { Bytes } from '../validate.js';

/** Files below this size are read in one operation, through a buffer used again. */
const SCRATCH = 64 * 1024;
const SPARE_SCRATCH = 64; // buffers kept: one per file in flight, 4 MiB at most
const scratch: Buffer[] = [];
/** The engine's answer when it cannot; above it, the file left open (fileLeftOpen). */
const CANNOT = SCRATCH + 1;

/** By step: the call's name (STEP's names are the syscalls'). */
const STEP_SYSCALLS = Object.entries(STEP).filter(([name]) => name !== 'UNIT').sort((a, b) => a[1] - b[1]).map(([name]) => name.toLowerCase());

/**
 * The error of a whole-file operation: -(errno + step * STEP.UNIT) names the call that failed,
 * as node's own readFile and writeFile do; only open's names the path.
 */
export function stepError(result: number, path: string): SystemError {
  const step = Math.floor(-result / STEP.UNIT);
  return systemError(result + step * STEP.UNIT, STEP_SYSCALLS[step], step === STEP.OPEN ? path : undefined);
}

/** May a readFile with these open flags try readInOne() first (O_DIRECT: no, its reads need aligned memory). */
export const readableInOne = (flags: number): boolean => (flags & constants.O_DIRECT) === 0;

/** A buffer for readInOne, used again once readInOneResult has taken its bytes. */
export const readInOneBuffer = (): Buffer => scratch.pop() ?? Buffer.allocUnsafeSlow(SCRATCH);

const release = (buffer: Buffer): void => { if (scratch.length < SPARE_SCRATCH) scratch.push(buffer); };

/**
 * Opens the file at path and reads it into buffer (readInOneBuffer) in one operation. Resolves
 * with the length of a small file, now in buffer (readInOneResult takes it: a number settles a
 * promise at once, where a Buffer is first asked for a `then`, 2% of a small file's readFile);
 * else with its handle, open, to read the usual way (a FIFO, a large file), made in the
 * completion itself, as open() makes its handles, so that an engine closing meanwhile finds it;
 * or undefined when the engine cannot.
 */
export function readInOne(engine: Engine, path: string, flags: number, buffer: Buffer): Promise<number | FileHandle | undefined> {
  return engine.perform((b, done) => (b.readFile ? b.readFile(path, flags, buffer, done) : done(CANNOT)), n => {
    if (n < SCRATCH) return n;
    release(buffer);
    return n === CANNOT ? undefined : FileHandle.adopt(engine, fileLeftOpen(n, buffer));
  }, { syscall: 'open', failure: r => { release(buffer); return stepError(r, path); } });
}

/** The small file readInOne read into buffer, in memory of its own (as node's). */
export function readInOneResult(n: number, buffer: Buffer): Buffer {
  const out = Buffer.allocUnsafeSlow(n);
  buffer.copy(out, 0, 0, n);
  release(buffer);
  return out;
}

/** All of data written to the file at path in one operation (WRITEFILE bits in how): false when the engine cannot. */
export function writeInOne(engine: Engine, path: string, flags: number, mode: number, how: number, data: Bytes): Promise<boolean> {
  const notHere = data.byteLength + 1;
  return engine.perform((b, done) => (b.writeFile ? b.writeFile(path, flags, mode, how, data, done) : done(notHere)),
    n => n !== notHere, { syscall: 'open', failure: r => stepError(r, path) });
}
