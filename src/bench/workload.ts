// Where each I/O goes and whether it reads or writes: cheap integer arithmetic, no allocation, so
// the runner's hot loop spends its time in the engine. Random offsets visit every block once per
// pass over the file, as fio's random map does (norandommap=0), unless norandommap is set.
import type { Rw } from './options.js';

/** fio's default seed when randrepeat=1 and no randseed is given. */
export const DEFAULT_SEED = 0x89;

/** xorshift32 (Marsaglia): a few shifts per number, never 0. */
function xorshift32(seed: number): () => number {
  let s = (seed >>> 0) || 0x9e3779b9;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
}

/**
 * A random permutation of 0..n-1, repeating: a full-period LCG over 2^k >= n values (a = 5,
 * c odd: Hull-Dobell), scrambled by bijections of k bits (xorshift, odd multiply) so that
 * neighbours in time are far apart in the file; values >= n are skipped (less than half).
 */
export function randomPermutation(n: number, seed: number): () => number {
  if (!Number.isInteger(n) || n < 1 || n > 2 ** 31) throw new RangeError(`block count ${n} out of range 1..2^31`);
  let k = 1;
  while (2 ** k < n) k++;
  const mask = k >= 31 ? 0x7fffffff : (1 << k) - 1;
  const shift = Math.max(1, k >> 1);
  const rand = xorshift32(seed);
  let x = rand() & mask;
  const c = (rand() | 1) & mask;
  const mult = rand() | 1;
  return () => {
    for (;;) {
      x = (Math.imul(x, 5) + c) & mask;
      let y = x ^ (x >>> shift);
      y = Math.imul(y, mult) & mask;
      y ^= y >>> shift;
      if (y < n) return y;
    }
  };
}

export interface WorkloadShape {
  rw: Rw;
  rwmixread: number;
  bs: number;
  /** first byte of the region */
  offset: number;
  /** bytes of the region */
  size: number;
  norandommap: boolean;
  seed: number;
}

export interface Workload {
  /** true: the next I/O writes */
  nextIsWrite(): boolean;
  /** byte offset of the next I/O in that direction */
  nextOffset(write: boolean): number;
  readonly blocks: number;
}

export function workload(w: WorkloadShape): Workload {
  const blocks = Math.floor(w.size / w.bs);
  if (blocks < 1) throw new RangeError(`size ${w.size} holds no block of ${w.bs} bytes`);
  const random = w.rw.startsWith('rand');
  const mixed = w.rw === 'rw' || w.rw === 'randrw';
  const writes = w.rw === 'write' || w.rw === 'randwrite';
  const mix = xorshift32(w.seed ^ 0x5bd1e995);
  const readPercent = w.rwmixread;
  let nextIsWrite: () => boolean;
  if (!mixed) nextIsWrite = writes ? () => true : () => false;
  else nextIsWrite = () => mix() % 100 >= readPercent;

  const { bs, offset } = w;
  let nextOffset: (write: boolean) => number;
  if (!random) {
    // One cursor per direction, as fio keeps a last position per data direction.
    let readBlock = 0;
    let writeBlock = 0;
    nextOffset = write => {
      if (write) {
        const b = writeBlock;
        writeBlock = b + 1 === blocks ? 0 : b + 1;
        return offset + b * bs;
      }
      const b = readBlock;
      readBlock = b + 1 === blocks ? 0 : b + 1;
      return offset + b * bs;
    };
  } else if (w.norandommap) {
    const rand = xorshift32(w.seed);
    nextOffset = () => offset + ((rand() % blocks) * bs);
  } else {
    const perm = randomPermutation(blocks, w.seed);
    nextOffset = () => offset + perm() * bs;
  }
  return { nextIsWrite, nextOffset, blocks };
}
