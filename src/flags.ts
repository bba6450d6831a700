// open() flags and modes, accepted as node:fs accepts them.
import { constants } from 'node:fs';
import { invalidArgType, invalidArgValue, outOfRange } from './errors.js';

const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND, O_EXCL, O_SYNC } = constants;

const STRING_FLAGS: Record<string, number> = {
  r: O_RDONLY,
  rs: O_RDONLY | O_SYNC,
  sr: O_RDONLY | O_SYNC,
  'r+': O_RDWR,
  'rs+': O_RDWR | O_SYNC,
  'sr+': O_RDWR | O_SYNC,
  w: O_TRUNC | O_CREAT | O_WRONLY,
  wx: O_TRUNC | O_CREAT | O_WRONLY | O_EXCL,
  xw: O_TRUNC | O_CREAT | O_WRONLY | O_EXCL,
  'w+': O_TRUNC | O_CREAT | O_RDWR,
  'wx+': O_TRUNC | O_CREAT | O_RDWR | O_EXCL,
  'xw+': O_TRUNC | O_CREAT | O_RDWR | O_EXCL,
  a: O_APPEND | O_CREAT | O_WRONLY,
  ax: O_APPEND | O_CREAT | O_WRONLY | O_EXCL,
  xa: O_APPEND | O_CREAT | O_WRONLY | O_EXCL,
  as: O_APPEND | O_CREAT | O_WRONLY | O_SYNC,
  sa: O_APPEND | O_CREAT | O_WRONLY | O_SYNC,
  'a+': O_APPEND | O_CREAT | O_RDWR,
  'ax+': O_APPEND | O_CREAT | O_RDWR | O_EXCL,
  'xa+': O_APPEND | O_CREAT | O_RDWR | O_EXCL,
  'as+': O_APPEND | O_CREAT | O_RDWR | O_SYNC,
  'sa+': O_APPEND | O_CREAT | O_RDWR | O_SYNC,
};

export function parseFlags(flags: unknown): number {
  if (flags === undefined || flags === null) return O_RDONLY;
  if (typeof flags === 'number') {
    if (!Number.isInteger(flags)) throw outOfRange('flags', 'an integer', flags);
    if (flags < -(2 ** 31) || flags > 2 ** 31 - 1) throw outOfRange('flags', '>= -2147483648 && <= 2147483647', flags);
    return flags | 0; // -0 is 0: node's own calls take only int32s, and abort the process on -0
  }
  if (typeof flags === 'string' && Object.hasOwn(STRING_FLAGS, flags)) return STRING_FLAGS[flags];
  throw invalidArgValue('flags', flags);
}

export function parseMode(mode: unknown, dflt: number): number {
  if (mode === undefined || mode === null) return dflt;
  if (typeof mode === 'string') {
    if (!/^[0-7]+$/.test(mode)) throw invalidArgValue('mode', mode, 'must be a 32-bit unsigned integer or an octal string');
    mode = parseInt(mode, 8);
  }
  if (typeof mode !== 'number') throw invalidArgType('mode', 'of type number', mode);
  if (!Number.isInteger(mode)) throw outOfRange('mode', 'an integer', mode);
  if (mode < 0 || mode > 0xffffffff) throw outOfRange('mode', '>= 0 && <= 4294967295', mode);
  // The bits open(2), mkdir(2) and chmod(2) use (S_IALLUGO). Above 2 ** 31 - 1 node's own calls
  // (the sync engine's) abort the process.
  return mode & 0o7777;
}
