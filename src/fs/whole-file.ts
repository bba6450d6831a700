// Whole files: readFile and writeFile as node:fs/promises does them (its lib/internal/fs/promises.js
// readFileHandle and writeFileHandle: the same results, errors and abort points), in as few
// round trips as the data allows: one read when the size is known, one write per 512 KiB.
import { Buffer } from 'node:buffer';
import { constants } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { abortError, fileTooLarge, invalidArgType } from '../errors.js';
import { freeStatFields, S, statFields } from '../stats.js';
import { validateBuffer, type Bytes } from '../validate.js';

/** What readFile and writeFile need of a handle (src/file-handle.ts). */
export interface WholeFileHandle {
  read(buffer: Bytes, offset: number, length: number, position: number | null): Promise<{ bytesRead: number }>;
  write(buffer: Bytes, offset: number, length: number, position: number | null): Promise<{ bytesWritten: number }>;
  /** fstat into out, without the caller's stack (that costs more than a cached read). */
  fstatFields(out: Float64Array): Promise<void>;
}

const IO_MAX = 2 ** 31 - 1;              // node's kIoMaxLength
const UNKNOWN_SIZE_CHUNK = 64 * 1024;    // node's kReadFileUnknownBufferLength
const READ_CHUNK = 512 * 1024;           // node's kReadFileBufferLength, for encoded reads
const WRITE_CHUNK = 512 * 1024;          // node's kWriteFileMaxChunkSize

// Small results are slices of a shared slab, as Buffer.allocUnsafe's pool does (its limit is
// under 4 KiB): a Buffer of its own costs about 2 µs here, more than reading a cached 4 KiB file.
const SLAB = 64 * 1024, SMALL = 4096;
let slab: ArrayBuffer | undefined, slabUsed = SLAB;

function resultBuffer(size: number): Buffer {
  if (size > SMALL) return Buffer.allocUnsafeSlow(size);
  if (slabUsed + size > SLAB) {
    slab = new ArrayBuffer(SLAB);
    slabUsed = 0;
  }
  const b = Buffer.from(slab!, slabUsed, size);
  slabUsed += (size + 7) & ~7; // 8-aligned, as node's pool
  return b;
}

export function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal.reason);
}

/**
 * The rest of the file from the handle's current position, as node's readFile: Buffer, or a
 * string in `encoding`. A regular file of known size is read in one read (bytes) or in 512 KiB
 * steps (text, decoded as it comes); anything else in 64 KiB steps until the end.
 */
export async function readWhole(h: WholeFileHandle, encoding: BufferEncoding | undefined, signal: AbortSignal | undefined): Promise<Buffer | string> {
  checkAborted(signal);
  const st = statFields();
  await h.fstatFields(st);
  const size = (st[S.mode] & constants.S_IFMT) === constants.S_IFREG ? st[S.size] : 0;
  freeStatFields(st);
  checkAborted(signal);
  if (size > IO_MAX) throw fileTooLarge(size);
  if (size === 0) return readUnknown(h, encoding, signal);
  if (!encoding) {
    const buffer = resultBuffer(size);
    let total = 0;
    for (;;) {
      const { bytesRead } = await h.read(buffer, total, size - total, null);
      total += bytesRead;
      if (bytesRead === 0 || total === size) return total === size ? buffer : buffer.subarray(0, total);
      checkAborted(signal);
    }
  }
  const decoder = new StringDecoder(encoding);
  const buffer = Buffer.allocUnsafeSlow(Math.min(size, READ_CHUNK));
  let total = 0, text = '';
  for (;;) {
    const { bytesRead } = await h.read(buffer, 0, Math.min(size - total, buffer.length), null);
    total += bytesRead;
    if (bytesRead === 0 || total === size) return text + decoder.end(buffer.subarray(0, bytesRead));
    text += decoder.write(buffer.subarray(0, bytesRead));
    checkAborted(signal);
  }
}

/** A file whose size stat does not tell (a pipe, /proc): 64 KiB at a time until the end. */
async function readUnknown(h: WholeFileHandle, encoding: BufferEncoding | undefined, signal: AbortSignal | undefined): Promise<Buffer | string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const chunk = Buffer.allocUnsafeSlow(UNKNOWN_SIZE_CHUNK);
    const { bytesRead } = await h.read(chunk, 0, chunk.length, null);
    if (bytesRead === 0) break;
    chunks.push(bytesRead === chunk.length ? chunk : chunk.subarray(0, bytesRead));
    total += bytesRead;
    if (total > IO_MAX) throw fileTooLarge(total);
    checkAborted(signal);
  }
  const all = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
  return encoding ? all.toString(encoding) : all;
}

/** The data writeFile takes, as bytes (or chunks of them, for iterables and streams). */
export type WriteData = string | Bytes | Iterable<string | Bytes> | AsyncIterable<string | Bytes>;

function isIterable(data: unknown): data is Iterable<unknown> | AsyncIterable<unknown> {
  return data != null && typeof data === 'object' &&
    (typeof (data as Iterable<unknown>)[Symbol.iterator] === 'function' || typeof (data as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function');
}

/** writeFile's data argument checked as node does, before the file is opened. */
export function validateWriteData(data: unknown): asserts data is WriteData {
  if (typeof data === 'string' || ArrayBuffer.isView(data) || isIterable(data)) return;
  throw invalidArgType('data', 'of type string or an instance of Buffer, TypedArray, DataView, Iterable, AsyncIterable, or Stream', data);
}

/**
 * Writes all of data, as node's writeFile: from the handle's current position (`at` null), or
 * from byte `at` of a file just opened. Returns the bytes written.
 */
export async function writeWhole(h: WholeFileHandle, data: WriteData, encoding: BufferEncoding, signal: AbortSignal | undefined, at: number | null = null): Promise<number> {
  if (typeof data === 'string' || ArrayBuffer.isView(data)) {
    const bytes = typeof data === 'string' ? Buffer.from(data, encoding) : data;
    checkAborted(signal);
    return writeAll(h, bytes, signal, at);
  }
  let total = 0;
  for await (const chunk of data as AsyncIterable<string | Bytes>) {
    checkAborted(signal);
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk;
    validateBuffer(bytes, 'data');
    total += await writeAll(h, bytes, signal, at === null ? null : at + total);
  }
  return total;
}

async function writeAll(h: WholeFileHandle, bytes: Bytes, signal: AbortSignal | undefined, at: number | null): Promise<number> {
  let done = 0;
  const length = bytes.byteLength;
  while (done < length) {
    if (done > 0) checkAborted(signal);
    const { bytesWritten } = await h.write(bytes, done, Math.min(WRITE_CHUNK, length - done), at === null ? null : at + done);
    done += bytesWritten;
  }
  return length;
}
