// fstat results cross from the engines as STAT_FIELDS doubles (order fixed by native/blocking.c)
// and leave as fs.Stats objects, so isFile() and the Date getters work as in node:fs.
import fs from 'node:fs';

export const STAT_FIELDS = 18;
export const S = { dev: 0, mode: 1, nlink: 2, uid: 3, gid: 4, rdev: 5, blksize: 6, ino: 7, size: 8, blocks: 9, atimeMs: 10, mtimeMs: 11, ctimeMs: 12, birthtimeMs: 13, dioMemAlign: 14, dioOffsetAlign: 15 } as const;

// A Float64Array made for each stat costs about 2 µs here (its own backing store, tracked by the
// GC): more than a cached stat. The arrays of completed stats are used again.
const spare: Float64Array[] = [];

/** STAT_FIELDS doubles for one stat call; give it back with toStatsAndFree() once it completed. */
export function statFields(): Float64Array {
  return spare.pop() ?? new Float64Array(STAT_FIELDS);
}

/** toStats(f), and f back to the spares (only once the engine is done with it). */
export function toStatsAndFree(f: Float64Array): fs.Stats {
  const st = toStats(f);
  if (spare.length < 1024) spare.push(f);
  return st;
}

/** f back to the spares, unread. */
export function freeStatFields(f: Float64Array): void {
  if (spare.length < 1024) spare.push(f);
}

export function toStats(f: Float64Array): fs.Stats {
  const st = Object.create(fs.Stats.prototype) as fs.Stats;
  st.dev = f[S.dev]; st.mode = f[S.mode]; st.nlink = f[S.nlink]; st.uid = f[S.uid]; st.gid = f[S.gid];
  st.rdev = f[S.rdev]; st.blksize = f[S.blksize]; st.ino = f[S.ino]; st.size = f[S.size]; st.blocks = f[S.blocks];
  st.atimeMs = f[S.atimeMs]; st.mtimeMs = f[S.mtimeMs]; st.ctimeMs = f[S.ctimeMs]; st.birthtimeMs = f[S.birthtimeMs];
  // Node 20's Stats sets the Dates in its constructor (later versions define lazy accessors).
  // Rounded to the millisecond, as node's dateFromMs does.
  st.atime = new Date(Math.round(st.atimeMs)); st.mtime = new Date(Math.round(st.mtimeMs));
  st.ctime = new Date(Math.round(st.ctimeMs)); st.birthtime = new Date(Math.round(st.birthtimeMs));
  return st;
}

/** The other way, for engines that get an fs.Stats from node:fs. */
export function fromStats(st: fs.Stats, out: Float64Array): void {
  out.fill(0);
  out[S.dev] = st.dev; out[S.mode] = st.mode; out[S.nlink] = st.nlink; out[S.uid] = st.uid; out[S.gid] = st.gid;
  out[S.rdev] = st.rdev; out[S.blksize] = st.blksize; out[S.ino] = st.ino; out[S.size] = st.size; out[S.blocks] = st.blocks;
  out[S.atimeMs] = st.atimeMs; out[S.mtimeMs] = st.mtimeMs; out[S.ctimeMs] = st.ctimeMs; out[S.birthtimeMs] = st.birthtimeMs;
}
