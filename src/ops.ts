// The operations every engine implements, and how native engines receive them: one record of
// R.SIZE doubles per operation. native/engine.h holds the same numbers for C; the addon reports
// its own (layout()), and binding.ts refuses to load one whose numbers differ from these.
import { constants } from 'node:fs';
import { S, STAT_FIELDS } from './stats.js';

export const Op = {
  NOP: 0, READ: 1, WRITE: 2, READV: 3, WRITEV: 4, FSYNC: 5, FDATASYNC: 6, FSTAT: 7, FTRUNCATE: 8,
  OPEN: 9, CLOSE: 10,
  // by path: STAT (A: AT_SYMLINK_NOFOLLOW for lstat), UNLINK (A: AT_REMOVEDIR for rmdir), RENAME, MKDIR (B: mode)
  STAT: 11, UNLINK: 12, RENAME: 13, MKDIR: 14,
  // whole files, path then data (A: open flags): READFILE, WRITEFILE (B: mode, POS: WRITEFILE bits)
  READFILE: 15, WRITEFILE: 16,
  // by path, on threads: ACCESS (A: mode), CHMOD (B: mode), UTIMES (A, B: seconds), TRUNCATE
  // (POS: length; failures by STEP), COPYFILE (then the new path; A: COPYFILE_* flags)
  ACCESS: 17, CHMOD: 18, UTIMES: 19, TRUNCATE: 20, COPYFILE: 21,
  // by path, on threads: the directory's entries into a buffer (src/fs/readdir.ts reads it)
  READDIR: 22,
  COUNT: 23,
} as const;
export type Op = (typeof Op)[keyof typeof Op];

/** A flag for supports(): the operation at the current file position (-1), e.g. Op.WRITE | AT_CURRENT_POSITION. */
export const AT_CURRENT_POSITION = 64;

/** Flags of the path operations, as <fcntl.h> has them. */
export const AT = { SYMLINK_NOFOLLOW: 0x100, REMOVEDIR: 0x200 } as const;

/**
 * A whole-file operation runs several calls: a failure is -(errno + step * STEP_UNIT), the step
 * naming the call that failed (its syscall in node's error).
 */
export const STEP = { OPEN: 0, READ: 1, WRITE: 2, FTRUNCATE: 3, FSYNC: 4, CLOSE: 5, FSTAT: 6, UNIT: 4096 } as const;

/** WRITEFILE's POS bits: cut the file after what was written (not O_TRUNC up front); fsync before close. */
export const WRITEFILE = { CUT: 1, FLUSH: 2 } as const;

/** The fields of a submission record (read/write: A offset in the buffer, B length; open: A flags, B mode). */
export const R = { OP: 0, ID: 1, FD: 2, POS: 3, BUF: 4, NBUF: 5, A: 6, B: 7, SIZE: 8 } as const;

const snake = (camel: string) => camel.replace(/[A-Z]/g, c => `_${c}`).toUpperCase();

/** Every number JS shares with the addon, under the name native/engine.h gives it. */
export function jsLayout(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, value] of Object.entries(Op)) out[`OP_${name}`] = value;
  out.AT_CURRENT_POSITION = AT_CURRENT_POSITION;
  for (const [name, value] of Object.entries(AT)) out[`AT_${name}`] = value;
  for (const [name, value] of Object.entries(STEP)) out[`STEP_${name}`] = value;
  for (const [name, value] of Object.entries(WRITEFILE)) out[`WRITEFILE_${name}`] = value;
  for (const name of ['COPYFILE_EXCL', 'COPYFILE_FICLONE', 'COPYFILE_FICLONE_FORCE'] as const) out[name] = constants[name];
  for (const [name, value] of Object.entries(R)) out[name === 'SIZE' ? 'RECORD_SIZE' : `R_${name}`] = value;
  for (const [name, value] of Object.entries(S)) out[`ST_${snake(name)}`] = value;
  out.STAT_FIELDS = STAT_FIELDS;
  return out;
}

/** Where the addon's numbers differ from ours, one line each ([] when they agree). */
export function layoutMismatches(native: Record<string, number>): string[] {
  const ours = jsLayout();
  const names = new Set([...Object.keys(ours), ...Object.keys(native)]);
  return [...names].filter(n => ours[n] !== native[n]).map(n => `${n}: ${native[n] ?? 'missing'} in the addon, ${ours[n] ?? 'missing'} in JS`);
}
