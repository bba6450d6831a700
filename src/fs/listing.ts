// A directory's listing as the engines hand it over (backend readdir): entries of a type byte
// (fs.constants.UV_DIRENT_*), the name's bytes and a NUL, sorted as node sorts them.
import fs from 'node:fs';
import type { Bytes } from '../validate.js';

const { UV_DIRENT_UNKNOWN, UV_DIRENT_FILE, UV_DIRENT_DIR, UV_DIRENT_LINK, UV_DIRENT_FIFO, UV_DIRENT_SOCKET, UV_DIRENT_CHAR, UV_DIRENT_BLOCK } = fs.constants as unknown as Record<string, number>;

/** The names (in encoding, or Buffers) or Dirents of a listing of n bytes. */
export function readListing(listing: Buffer, n: number, encoding: BufferEncoding | undefined, withFileTypes: boolean, dir: string): (string | Buffer | fs.Dirent)[] {
  const out: (string | Buffer | fs.Dirent)[] = [];
  for (let i = 0; i < n;) {
    const end = listing.indexOf(0, i + 1);
    const name = encoding ? listing.toString(encoding, i + 1, end) : Buffer.from(listing.subarray(i + 1, end));
    // fs.Dirent's constructor is node's (name, type, path), as its own readdir makes them.
    out.push(withFileTypes ? new (fs.Dirent as unknown as new (n: unknown, t: number, p: string) => fs.Dirent)(name, listing[i], dir) : name);
    i = end + 1;
  }
  return out;
}

function typeOf(d: fs.Dirent<Buffer>): number {
  return d.isFile() ? UV_DIRENT_FILE : d.isDirectory() ? UV_DIRENT_DIR : d.isSymbolicLink() ? UV_DIRENT_LINK
    : d.isFIFO() ? UV_DIRENT_FIFO : d.isSocket() ? UV_DIRENT_SOCKET : d.isCharacterDevice() ? UV_DIRENT_CHAR
    : d.isBlockDevice() ? UV_DIRENT_BLOCK : UV_DIRENT_UNKNOWN;
}

/** node's Dirents (names as Buffers) written as a listing into out: the bytes it takes (more than out holds: nothing written). */
export function packListing(entries: fs.Dirent<Buffer>[], out: Bytes): number {
  const size = entries.reduce((sum, d) => sum + d.name.length + 2, 0);
  if (size > out.byteLength) return size;
  const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  let at = 0;
  for (const d of entries) {
    bytes[at] = typeOf(d);
    bytes.set(d.name, at + 1);
    at += d.name.length + 1;
    bytes[at++] = 0;
  }
  return size;
}
