// readFile and writeFile of a small file in one operation on the engine (open, size, read or
// write, close: backend readFile/writeFile), where the engine can: one crossing instead of four
// round trips. What does not fit goes the usual way (src/fs/whole-file.ts); the results and
// errors are the same either way, node's.
import { constants } from 'node:fs';
import type { Engine } from '../engine.js';
import { systemError, type SystemError } from '../errors.js';
import { STEP } from '../ops.js';
import type { Bytes } from '../validate.js';

/** Opened twice is not opened once with these: such a readFile goes the usual way. */
const REOPEN_DIFFERS = constants.O_CREAT | constants.O_EXCL | constants.O_TRUNC;

/** Files below this size are read in one operation, through a buffer used again. */
const SCRATCH = 64 * 1024;
const SPARE_SCRATCH = 64; // buffers kept: one per file in flight, 4 MiB at most
const scratch: Buffer[] = [];

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

/** May a readFile with these open flags try readInOne() first. */
export const readableInOne = (flags: number): boolean => (flags & REOPEN_DIFFERS) === 0;

/** The whole file at path, read in one operation; undefined when it is not small (or the engine cannot): read it the usual way. */
export function readInOne(engine: Engine, path: string, flags: number): Promise<Buffer | undefined> {
  const buffer = scratch.pop() ?? Buffer.allocUnsafeSlow(SCRATCH);
  const release = () => { if (scratch.length < SPARE_SCRATCH) scratch.push(buffer); };
  return engine.perform((b, done) => (b.readFile ? b.readFile(path, flags, buffer, done) : done(SCRATCH + 1)), n => {
    let out: Buffer | undefined;
    if (n <= SCRATCH) {
      out = Buffer.allocUnsafeSlow(n); // its own memory, as node's
      buffer.copy(out, 0, 0, n);
    }
    release();
    return out;
  }, { syscall: 'open', failure: r => { release(); return stepError(r, path); } });
}

/** All of data written to the file at path in one operation (WRITEFILE bits in how): false when the engine cannot. */
export function writeInOne(engine: Engine, path: string, flags: number, mode: number, how: number, data: Bytes): Promise<boolean> {
  const notHere = data.byteLength + 1;
  return engine.perform((b, done) => (b.writeFile ? b.writeFile(path, flags, mode, how, data, done) : done(notHere)),
    n => n !== notHere, { syscall: 'open', failure: r => stepError(r, path) });
}
