// Before a job: its file laid out with real data (random bytes, as fio lays files out: no sparse
// reads of zero pages), and, with invalidate=1, the file's pages dropped from the page cache.
import { spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const CHUNK = 1 << 20;

/**
 * Makes `file` at least `bytes` long, writing random data from its current end, then syncs it
 * (unless `sync` is false). true: it wrote.
 */
export function layOut(file: string, bytes: number, sync = true): boolean {
  let have = 0;
  try {
    have = fs.statSync(file).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    fs.mkdirSync(path.dirname(file), { recursive: true });
  }
  if (have >= bytes) return false;
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o644);
  try {
    const chunk = Buffer.allocUnsafeSlow(Math.min(CHUNK, bytes - have));
    for (let at = have; at < bytes;) {
      const n = Math.min(CHUNK, bytes - at);
      randomFillSync(chunk, 0, n);
      at += fs.writeSync(fd, chunk, 0, n, at);
    }
    if (sync) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

/**
 * Drops the file's cached pages, as fio's invalidate=1 does with posix_fadvise(POSIX_FADV_DONTNEED).
 * Node cannot call posix_fadvise, so this asks GNU dd, which does exactly that for iflag=nocache
 * count=0; dirty pages are written first (fdatasync), since DONTNEED leaves them cached.
 * Returns undefined when done, else why it could not be done (the caller tells the user).
 */
export function invalidate(file: string): string | undefined {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      fs.fdatasyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    return `could not sync ${file}: ${(err as Error).message}`;
  }
  const r = spawnSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none'], { encoding: 'utf8' });
  if (r.error) return `could not run dd (${r.error.message}); the page cache of ${file} was not dropped`;
  if (r.status !== 0) return `dd iflag=nocache failed (${r.stderr.trim() || `exit ${r.status}`}: GNU dd is needed); the page cache of ${file} was not dropped`;
  return undefined;
}
