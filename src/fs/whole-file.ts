// Whole files: readFile and writeFile as node:fs/promises does them (its lib/internal/fs/promises.js
// readFileHandle and writeFileHandle: the same results, errors and abort points), in as few
// round trips as the data allows: one read when the size is known, one write per 512 KiB.
import { Buffer } from 'node:buffer';
import { constants } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { binding, largeMemory } from '../binding.js';
import { abortError, fileTooLarge, invalidArgType } from '../errors.js';
import { freeStatFields, S, statFields } from '../stats.js';
import type { Bytes } from '../validate.js';

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
// From here, the result's memory in 2 MiB pages: above glibc's largest mmap threshold (32 MiB),
// so the memory is mapped for this buffer alone and the advice goes with it.
const HUGE_READ = 32 * 1024 * 1024 + 1;
const PART = 8 * 1024 * 1024;             // a large file just opened is read in pieces of this, at once
const WRITE_CHUNK = 512 * 1024;          // node's kWriteFileMaxChunkSize

export function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal.reason);
}

/**
 * An abort point between the steps of a whole-file operation given a signal. Node's steps each
 * wait for its threadpool, so an abort the program schedules right after the call (nextTick,
 * setImmediate) is always seen at the next point; steps that complete at once here would be past
 * it. So a point first waits for the loop's check phase. Callers skip it without a signal.
 */
async function abortPoint(signal: AbortSignal): Promise<void> {
  await new Promise(resolve => setImmediate(resolve));
  checkAborted(signal);
}

/**
 * The rest of the file from the handle's current position, as node's readFile: Buffer, or a
 * string in `encoding`. A regular file of known size is read in one read (bytes) or in 512 KiB
 * steps (text, decoded as it comes); anything else in 64 KiB steps until the end.
 */
export async function readWhole(h: WholeFileHandle, encoding: BufferEncoding | undefined, signal: AbortSignal | undefined,
  fromStart = false): Promise<Buffer | string> {
  // node's first check is at once; a file it has just opened has waited for the open.
  if (fromStart && signal) await abortPoint(signal);
  else checkAborted(signal);
  const st = statFields();
  await h.fstatFields(st);
  const size = (st[S.mode] & constants.S_IFMT) === constants.S_IFREG ? st[S.size] : 0;
  freeStatFields(st);
  if (signal) await abortPoint(signal);
  if (size > IO_MAX) throw fileTooLarge(size);
  if (size === 0) return readUnknown(h, encoding, signal);
  if (!encoding) {
    // Its own memory, as node's: transferable, .buffer of its size. Fresh memory is zeroed and
    // faulted in as the read fills it, most of a cached read's cost: a large result takes memory
    // a freed one left (native/large_memory.cc), else 2 MiB pages.
    let buffer = size >= HUGE_READ ? largeResult(size) : undefined;
    if (!buffer) {
      buffer = Buffer.allocUnsafeSlow(size);
      if (size >= HUGE_READ) binding()?.adviseHugePages(buffer);
    }
    // A large file just opened (position 0) in parts read at once: threads fill them side by side.
    if (fromStart && size >= 2 * PART) return readParts(h, buffer, signal);
    // Up to 512 KiB node reads once, and a short count ends the file (it takes the file to have
    // shrunk); beyond, it reads on until the end or the size. One read asks for all of it here.
    const chunked = size > READ_CHUNK;
    let total = 0;
    for (;;) {
      const { bytesRead } = await h.read(buffer, total, size - total, null);
      total += bytesRead;
      if (bytesRead === 0 || total === size || !chunked) return shortened(buffer, total);
      if (signal) await abortPoint(signal);
    }
  }
  const decoder = new StringDecoder(encoding);
  const buffer = Buffer.allocUnsafeSlow(Math.min(size, READ_CHUNK));
  let total = 0, text = '';
  for (;;) {
    // As node's: each read asks for the whole buffer, and one that comes back short ends the file.
    const { bytesRead } = await h.read(buffer, 0, buffer.length, null);
    total += bytesRead;
    if (bytesRead !== buffer.length || total === size) return text + decoder.end(buffer.subarray(0, bytesRead));
    text += decoder.write(buffer.subarray(0, bytesRead));
    if (signal) await abortPoint(signal);
  }
}

/** How long memory a large result left stays kept for the next, unused. */
const KEEP_IDLE_MS = 10_000;
/** How long after the last large result the timer still looks (results collected late come back then). */
const WATCH_MS = 60_000;
let trimming: NodeJS.Timeout | undefined;
let lastLarge = 0;

/**
 * A large result's memory (native/large_memory.cc). An unref()ed timer gives back what stays
 * unused: every KEEP_IDLE_MS while anything is kept or a result was made lately.
 */
function largeResult(size: number): Buffer | undefined {
  const memory = largeMemory();
  if (!memory) return undefined;
  lastLarge = performance.now();
  if (!trimming) {
    const trim = () => {
      const kept = memory.trim(KEEP_IDLE_MS);
      trimming = kept > 0 || performance.now() - lastLarge < WATCH_MS ? setTimeout(trim, KEEP_IDLE_MS).unref() : undefined;
    };
    trimming = setTimeout(trim, KEEP_IDLE_MS).unref();
  }
  return memory.largeBuffer(size);
}

/**
 * buffer filled from the file's start in PART pieces, all asked for at once. A piece that comes
 * back short (the file shrank) ends the file there, as one read's short count would.
 */
async function readParts(h: WholeFileHandle, buffer: Buffer, signal: AbortSignal | undefined): Promise<Buffer> {
  const size = buffer.length, parts: Promise<number>[] = [];
  const part = async (at: number, length: number): Promise<number> => {
    let done = 0;
    for (;;) {
      const { bytesRead } = await h.read(buffer, at + done, length - done, at + done);
      done += bytesRead;
      if (bytesRead === 0 || done === length) return done;
    }
  };
  for (let at = 0; at < size; at += PART) parts.push(part(at, Math.min(PART, size - at)));
  const got = await Promise.all(parts);
  if (signal) await abortPoint(signal);
  const short = got.findIndex((n, i) => n < Math.min(PART, size - i * PART));
  return short < 0 ? buffer : shortened(buffer, short * PART + got[short]);
}

/**
 * The first n bytes of buffer, the file having been shorter than its size said. The rest is
 * cleared: memory used again (largeBuffer) may still hold an earlier result's bytes.
 */
function shortened(buffer: Buffer, n: number): Buffer {
  if (n === buffer.length) return buffer;
  buffer.fill(0, n);
  return buffer.subarray(0, n);
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
    if (signal) await abortPoint(signal);
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
  throw invalidArgType('data', 'of type string or an instance of Buffer, TypedArray, or DataView', data);
}

/** Where writeWhole writes and how far it got: the bytes written, even when it fails midway. */
export interface WriteProgress {
  /** the next byte's position, for a file just opened (null: the handle's current position) */
  at: number | null;
  written: number;
}

/**
 * Writes all of data, as node's writeFile (its abort points included): at the handle's current
 * position, or from `progress.at` of a file just opened. A file that has no positions (a pipe,
 * a terminal: ESPIPE) is written at its current position instead.
 */
export async function writeWhole(h: WholeFileHandle, data: WriteData, encoding: BufferEncoding, signal: AbortSignal | undefined,
  progress: WriteProgress = { at: null, written: 0 }, justOpened = false): Promise<void> {
  // As readWhole's: at once, unless the file has just been opened.
  if (justOpened && signal) await abortPoint(signal);
  else checkAborted(signal);
  if (typeof data === 'string' || ArrayBuffer.isView(data)) {
    const bytes = typeof data === 'string' ? Buffer.from(data, encoding) : data;
    return writeAll(h, bytes, signal, progress, true);
  }
  for await (const chunk of data as AsyncIterable<string | Bytes>) {
    checkAborted(signal); // after the program's iterator, not a step of ours: at once, as node's
    const bytes = ArrayBuffer.isView(chunk) ? chunk : Buffer.from(chunk as string, encoding);
    await writeAll(h, bytes, signal, progress, false);
    if (signal) await abortPoint(signal);
  }
}

async function writeAll(h: WholeFileHandle, bytes: Bytes, signal: AbortSignal | undefined, progress: WriteProgress, abortBetween: boolean): Promise<void> {
  const length = bytes.byteLength;
  for (let done = 0; done < length;) {
    // The first check follows writeWhole's at once, as node's; the others follow a write.
    if (abortBetween && signal) {
      if (done === 0) checkAborted(signal);
      else await abortPoint(signal);
    }
    const n = Math.min(WRITE_CHUNK, length - done);
    let bytesWritten: number;
    try {
      ({ bytesWritten } = await h.write(bytes, done, n, progress.at));
    } catch (err) {
      if ((err as { code?: string }).code !== 'ESPIPE' || progress.at === null) throw err;
      progress.at = null; // no positions here: go on where the file is
      continue;
    }
    done += bytesWritten;
    progress.written += bytesWritten;
    if (progress.at !== null) progress.at += bytesWritten;
  }
}
