// FileHandle's streams: node's fs.createReadStream({ fd }) takes only node's own FileHandle, so
// these are ioengine's, built on the engine, with fs.ReadStream's and fs.WriteStream's options.
// The read stream keeps several reads in flight (read-ahead) and hands each buffer on only once
// its read has completed; destroy() waits for the reads in flight before it closes the file.
import type { EventEmitter } from 'node:events';
import { addAbortSignal, finished, Readable, Writable } from 'node:stream';
import { markAsUntransferable } from 'node:worker_threads';
import { binding } from '../binding.js';
import { invalidArgType, invalidArgValue, outOfRange } from '../errors.js';
import { validateInteger, validateObject, validateSignal, type Bytes } from '../validate.js';

/** What the streams need of a handle (src/file-handle.ts). */
export interface StreamHandle {
  readonly fd: number;
  read(buffer: Bytes, offset: number, length: number, position: number | null): Promise<{ bytesRead: number }>;
  sync(): Promise<void>;
  write(buffer: Bytes, offset: number, length: number, position: number | null): Promise<{ bytesWritten: number }>;
  writev(buffers: Bytes[], position: number | null): Promise<{ bytesWritten: number }>;
  close(): Promise<void>;
}

// A stream whose reader keeps up reads ahead up to READ_AHEAD reads of READ_UNIT bytes (4 MiB in
// flight): the engine's threads copy beside the reader, and each read's buffer is cut into
// highWaterMark chunks. A reader that does not keep up fills the stream and stops the reads.
const READ_AHEAD = 4;           // reads in flight at most, at positions
const READ_UNIT = 1024 * 1024;  // bytes a read grows to

export interface ReadStreamOptions {
  encoding?: BufferEncoding | null;
  autoClose?: boolean;
  emitClose?: boolean;
  start?: number;
  end?: number;
  highWaterMark?: number;
  signal?: AbortSignal;
}

export interface WriteStreamOptions {
  encoding?: BufferEncoding | null;
  autoClose?: boolean;
  /** fsync the file before the stream closes it (node 20.10's `flush`). */
  flush?: boolean;
  emitClose?: boolean;
  start?: number;
  highWaterMark?: number;
  signal?: AbortSignal;
}

function validateEncoding(encoding: unknown): BufferEncoding | undefined {
  if (encoding === undefined || encoding === null) return undefined;
  if (typeof encoding !== 'string' || !Buffer.isEncoding(encoding)) throw invalidArgValue('encoding', encoding, 'is invalid encoding');
  return encoding;
}

/** start/end as fs.ReadStream checks them. */
function range(o: Record<string, unknown>): { start: number | undefined; end: number } {
  const start = o.start === undefined ? undefined : validateInteger(o.start, 'start', 0);
  const end = o.end === undefined || o.end === Infinity ? Infinity : validateInteger(o.end, 'end', 0);
  if (start !== undefined && start > end) throw outOfRange('start', `<= "end" (here: ${end})`, start);
  return { start, end };
}

/**
 * Where a stream without `start` can read ahead from: the file's current position, when the
 * file has positions and its handle goes with the stream (closed at its end or destroy, so
 * that no one reads on where a one-read-at-a-time stream would have left the position, as
 * node's does). Else undefined: one read at a time at the current position.
 */
function aheadFrom(handle: StreamHandle, closedWithStream: boolean): number | undefined {
  const at = closedWithStream ? binding()?.filePosition(handle.fd) : undefined;
  return at !== undefined && at >= 0 ? at : undefined;
}

/** One read of the read-ahead: filled in when it completes. */
interface Ahead {
  buffer: Buffer;
  /** where it reads (null: the handle's current position) */
  position: number | null;
  done: boolean;
  bytesRead: number;
  error?: Error;
  settled: Promise<void>;
}

export class FileReadStream extends Readable {
  readonly #handle: StreamHandle;
  readonly #chunk: number;
  readonly #unit: number;
  /** Bytes the next read asks for: a chunk first (a small file costs one), then twice as many each read, up to #unit. */
  #size: number;
  /** Does destroy() close the file (readableWebStream's stream never does: the handle is the caller's). */
  readonly #closesFile: boolean;
  /** The handle was closed under the stream. */
  #handleGone = false;
  /** Where the next read starts; undefined: at the handle's current position (one read at a time). */
  #position: number | undefined;
  /** The last byte to read, where #position is known (end, or end bytes past where the file was). */
  #last = Infinity;
  readonly #ahead: Ahead[] = [];
  /** Reads made void by a short read before them: destroy() still waits for them. */
  readonly #void: Promise<void>[] = [];
  #ended = false;
  bytesRead = 0;
  readonly start: number | undefined;
  readonly end: number;
  readonly pending = false;

  /** closesFile false: for readableWebStream, whose file stays the caller's. */
  constructor(handle: StreamHandle & EventEmitter, options?: ReadStreamOptions | BufferEncoding, closesFile = true) {
    const o = typeof options === 'string' ? { encoding: options } : validateObject(options, 'options');
    const encoding = validateEncoding(o.encoding);
    const highWaterMark = o.highWaterMark === undefined ? 64 * 1024 : validateInteger(o.highWaterMark, 'options.highWaterMark', 1);
    const { start, end } = range(o);
    const signal = validateSignal(o.signal);
    // As node's: autoClose is autoDestroy (the stream ends itself, and so closes the file, at its
    // end); an explicit destroy() or close() always closes the file.
    super({ highWaterMark, encoding, emitClose: o.emitClose !== false, autoDestroy: o.autoClose !== false });
    this.#closesFile = closesFile;
    this.#handle = handle;
    this.#chunk = highWaterMark;
    // Reads of several chunks at once: a buffer of its own costs ~2 µs, and a stream must hand
    // on fresh memory (its reader may keep every chunk). At most 16 chunks a read.
    this.#unit = highWaterMark * Math.min(16, Math.max(1, Math.floor(READ_UNIT / highWaterMark)));
    this.#size = highWaterMark;
    this.start = start;
    this.end = end;
    this.#position = start ?? aheadFrom(handle, closesFile && o.autoClose !== false);
    if (this.#position !== undefined) this.#last = start === undefined ? this.#position + end : end;
    endWithHandle(this, handle, () => { this.#handleGone = true; });
    // What Readable's own signal option does, once this stream's fields exist: an aborted
    // signal destroys the stream at once, and _destroy needs them.
    if (signal) addAbortSignal(signal, this);
  }

  // Reads that completed while the stream was full are handed on first, then more are asked for.
  override _read(): void {
    this.#drain();
  }

  /** Bytes the next read asks for, up to end. */
  #nextLength(): number {
    const left = this.#position !== undefined ? this.#last - this.#position + 1 : this.end - this.bytesRead + 1;
    return Math.min(this.#size, left);
  }

  /** Starts reads: one until the first has been handed on, then READ_AHEAD at positions; one at a time at the current position. */
  #fill(): void {
    const depth = this.#position === undefined || this.bytesRead === 0 ? 1 : READ_AHEAD;
    while (this.#ahead.length < depth && !this.#ended && !this.destroyed) {
      const length = this.#nextLength();
      if (length <= 0) break;
      this.#size = Math.min(2 * this.#size, this.#unit);
      const position = this.#position ?? null;
      if (this.#position !== undefined) this.#position += length;
      const a = { buffer: Buffer.allocUnsafeSlow(length), position, done: false, bytesRead: 0 } as Ahead;
      a.settled = this.#handle.read(a.buffer, 0, length, position).then(
        r => { a.bytesRead = r.bytesRead; },
        (err: Error) => { a.error = err; },
      ).then(() => {
        a.done = true;
        this.#drain();
      });
      this.#ahead.push(a);
    }
    if (this.#ahead.length === 0 && !this.#ended && !this.destroyed && this.#nextLength() <= 0) this.#finish();
  }

  /** Hands on the reads that have completed, in order; then asks for more while there is room. */
  #drain(): void {
    while (this.#ahead.length > 0 && this.#ahead[0].done && !this.destroyed) {
      const a = this.#ahead.shift()!;
      if (this.#ended) continue;
      if (a.error) return void this.destroy(a.error);
      if (a.bytesRead === 0) {
        this.#finish(); // the end of the file
        continue;
      }
      this.bytesRead += a.bytesRead;
      if (a.bytesRead < a.buffer.length && a.position !== null) {
        // A short read: the file ended there, or grew meanwhile. The reads after it are void;
        // the next one starts right after these bytes.
        for (const later of this.#ahead.splice(0)) this.#void.push(later.settled);
        this.#position = a.position + a.bytesRead;
      }
      if (!this.#handOn(a)) return; // full: _read() asks again
    }
    if (!this.destroyed && !this.#ended) this.#fill();
  }

  /** push()es a read's bytes, highWaterMark at a time; false once the stream is full. */
  #handOn(a: Ahead): boolean {
    const n = a.bytesRead;
    // A few bytes of a large buffer are copied, not sliced: the rest need not stay alive.
    const bytes = n * 4 < a.buffer.length ? Buffer.from(a.buffer.subarray(0, n)) : a.buffer;
    // Chunks that share a buffer cannot be transferred one by one: moving one would empty the others.
    if (n > this.#chunk && bytes === a.buffer) markAsUntransferable(bytes.buffer);
    let room = true;
    for (let at = 0; at < n; at += this.#chunk) room = this.push(bytes.subarray(at, Math.min(at + this.#chunk, n))) && room;
    return room;
  }

  #finish(): void {
    this.#ended = true;
    this.push(null);
  }

  /** Does the stream end itself, and close its file, at its end (fs.ReadStream's autoClose: autoDestroy). */
  get autoClose(): boolean {
    return state(this, '_readableState').autoDestroy;
  }
  set autoClose(value: boolean) {
    state(this, '_readableState').autoDestroy = value;
  }

  /** Ends the stream now and closes its file; callback once it has, with its error (fs.ReadStream's close). */
  close(callback?: (error?: Error | null) => void): void {
    if (typeof callback === 'function') finished(this, callback);
    this.destroy();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // The reads in flight finish first: the kernel lets go of their buffers, then the file goes.
    const reads = Promise.all([...this.#ahead.map(a => a.settled), ...this.#void]).then(() => void (this.#ahead.length = 0));
    closeAfter(reads, this.#closesFile ? this.#handle : undefined, () => this.#handleGone, false, error, callback);
  }
}

export class FileWriteStream extends Writable {
  readonly #handle: StreamHandle;
  readonly #flush: boolean;
  /** The handle was closed under the stream: nothing to sync or close. */
  #handleGone = false;
  #position: number | undefined;
  #writing: Promise<unknown> = Promise.resolve();
  bytesWritten = 0;
  readonly start: number | undefined;
  readonly pending = false;

  constructor(handle: StreamHandle & EventEmitter, options?: WriteStreamOptions | BufferEncoding) {
    const o = typeof options === 'string' ? { encoding: options } : validateObject(options, 'options');
    const encoding = validateEncoding(o.encoding) ?? 'utf8';
    const highWaterMark = o.highWaterMark === undefined ? 16 * 1024 : validateInteger(o.highWaterMark, 'options.highWaterMark', 1);
    // Everything checked before the stream exists: a refused stream leaves nothing listening.
    if (o.flush != null && typeof o.flush !== 'boolean') throw invalidArgType('options.flush', 'of type boolean', o.flush);
    const start = o.start === undefined ? undefined : validateInteger(o.start, 'start', 0);
    const signal = validateSignal(o.signal);
    // autoClose is autoDestroy, as node's (see FileReadStream).
    super({ highWaterMark, defaultEncoding: encoding, decodeStrings: true, emitClose: o.emitClose !== false, autoDestroy: o.autoClose !== false });
    this.#handle = handle;
    this.#flush = o.flush === true;
    this.start = start;
    this.#position = start;
    endWithHandle(this, handle, () => { this.#handleGone = true; });
    if (signal) addAbortSignal(signal, this); // after the fields, as FileReadStream's
  }

  /** Writes all of buffers (a short write goes on from where it stopped). */
  async #writeAll(buffers: Buffer[]): Promise<void> {
    let views: Bytes[] = buffers;
    for (;;) {
      const total = views.reduce((n, b) => n + b.byteLength, 0);
      const position = this.#position ?? null;
      const { bytesWritten } = views.length === 1
        ? await this.#handle.write(views[0], 0, total, position)
        : await this.#handle.writev(views, position);
      this.bytesWritten += bytesWritten;
      if (this.#position !== undefined) this.#position += bytesWritten;
      if (bytesWritten >= total) return;
      views = skip(views, bytesWritten);
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#writing = this.#writeAll([chunk]).then(() => callback(), callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    this.#writing = this.#writeAll(chunks.map(c => c.chunk)).then(() => callback(), callback);
  }

  /** Does the stream end itself, and close its file, once finished (fs.WriteStream's autoClose: autoDestroy). */
  get autoClose(): boolean {
    return state(this, '_writableState').autoDestroy;
  }
  set autoClose(value: boolean) {
    state(this, '_writableState').autoDestroy = value;
  }

  /**
   * Ends the stream (what was written still goes to the file), then closes it; callback once it
   * has closed (fs.WriteStream's close). Without autoClose the stream is destroyed once finished.
   */
  close(callback?: (error?: Error | null) => void): void {
    if (typeof callback === 'function') {
      if (this.closed) {
        process.nextTick(callback);
        return;
      }
      this.on('close', callback);
    }
    if (!this.autoClose) this.on('finish', () => this.destroy());
    this.end();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    closeAfter(this.#writing, this.#handle, () => this.#handleGone, this.#flush, error, callback);
  }
}

/** A stream's state object (node's own, which its types leave out): where autoDestroy lives. */
const state = (stream: object, which: '_readableState' | '_writableState') =>
  (stream as Record<typeof which, { autoDestroy: boolean }>)[which];

/** The file closed under a stream ends it, quietly, as node's streams do (gone: told first). */
function endWithHandle(stream: Readable | Writable, handle: EventEmitter, gone: () => void): void {
  const end = () => {
    gone();
    stream.destroy();
  };
  handle.once('close', end);
  stream.once('close', () => handle.off('close', end));
}

/**
 * A stream's end: once `inflight` has settled, closes `handle` (undefined: not the stream's to
 * close), after an fsync if `flush`; then calls back with close's error, else the stream's own,
 * else the fsync's (node's order). A handle closed under the stream (`gone`, asked then) is
 * neither synced nor blamed: the stream waits for its close, quietly.
 */
function closeAfter(inflight: Promise<unknown>, handle: StreamHandle | undefined, gone: () => boolean, flush: boolean, error: Error | null,
  callback: (error?: Error | null) => void): void {
  void inflight.then(() => {}, () => {}).then(async () => {
    let flushError: Error | undefined, closeError: Error | undefined;
    try {
      if (handle && flush && !gone()) await handle.sync();
    } catch (err) {
      flushError = err as Error;
    }
    try {
      await handle?.close();
    } catch (err) {
      if (!gone()) closeError = err as Error;
    }
    callback(closeError ?? error ?? flushError);
  });
}

/** views without their first n bytes. */
function skip(views: Bytes[], n: number): Bytes[] {
  const out: Bytes[] = [];
  for (const v of views) {
    if (n >= v.byteLength) {
      n -= v.byteLength;
      continue;
    }
    out.push(new Uint8Array(v.buffer, v.byteOffset + n, v.byteLength - n));
    n = 0;
  }
  return out;
}

/** Bytes a read of readableWebStream's default stream asks for (node's stream base reads 64 KiB). */
const WEB_CHUNK = 64 * 1024;

/**
 * A handle's contents, from its current position, as a web ReadableStream (node's
 * filehandle.readableWebStream(), whose state checks are the handle's): ArrayBuffer chunks, as
 * node 20's; with `{ type: 'bytes' }` a byte stream, whose BYOB readers have the file read
 * straight into their own buffers. The handle's 'close' ends the stream (node cancels it): no
 * chunk is read ahead (a high-water mark of 0), so there is never one queued to wait for.
 */
export function readableWebStream(handle: StreamHandle & EventEmitter, options?: { type?: 'bytes' }): ReadableStream<ArrayBuffer | Uint8Array> {
  const type = validateObject(options, 'options').type;
  if (type !== undefined && typeof type !== 'string') throw invalidArgType('options.type', 'of type string', type);
  let ended = false, reading = false;
  let controller!: ReadableStreamDefaultController<ArrayBuffer> | ReadableByteStreamController;
  /** No more reads: the handle's close no longer concerns the stream. */
  const stop = () => {
    ended = true;
    handle.off('close', onClose);
  };
  const onClose = () => {
    if (ended) return;
    stop();
    if (reading) return; // the read in flight ends it (the handle's close waits for that read)
    try {
      controller.close();
      (controller as ReadableByteStreamController).byobRequest?.respond(0);
    } catch { /* already closed or errored: nothing to end (node's cancel never throws either) */ }
  };
  handle.once('close', onClose);
  /** One read for a pull: a failure errors the stream, and ends its interest in the handle. */
  const read = async (into: Uint8Array, length: number): Promise<number> => {
    reading = true;
    try {
      return (await handle.read(into, 0, length, null)).bytesRead;
    } catch (err) {
      stop();
      throw err;
    } finally {
      reading = false;
    }
  };
  if (type !== 'bytes') {
    return new ReadableStream<ArrayBuffer>({
      start(c) { controller = c; },
      async pull(c) {
        const chunk = Buffer.allocUnsafeSlow(WEB_CHUNK);
        const bytesRead = await read(chunk, WEB_CHUNK);
        if (ended || bytesRead === 0) { // closed meanwhile (node's cancel drops what was read), or the end
          stop();
          return c.close();
        }
        c.enqueue(bytesRead === WEB_CHUNK ? chunk.buffer : chunk.buffer.slice(0, bytesRead));
      },
      cancel: stop,
    }, { highWaterMark: 0 });
  }
  return new ReadableStream({
    type: 'bytes',
    autoAllocateChunkSize: 16 * 1024, // node's
    start(c) { controller = c; },
    async pull(c) {
      const request = c.byobRequest!;
      const view = request.view as Uint8Array;
      const bytesRead = await read(view, view.byteLength);
      if (ended || bytesRead === 0) {
        stop();
        c.close();
        request.respond(0);
        return;
      }
      request.respond(bytesRead);
    },
    cancel: stop,
  }, { highWaterMark: 0 });
}
