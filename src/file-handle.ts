// FileHandle: the same methods, arguments and results as node:fs/promises FileHandle, over any
// engine. Arguments are validated here, before any I/O; each operation keeps its buffers
// referenced (through its completion callback) until the engine reports it done.
import { EventEmitter } from 'node:events';
import fs, { type BigIntStats, type Stats } from 'node:fs';
import { createInterface, type Interface } from 'node:readline';
import type { Backend, Done } from './engines/backend.js';
import { abortError, errnoOf, fileClosed, invalidArgType, invalidArgValue, invalidState, stackFromHere, systemError } from './errors.js';
import { InFlight, perform, transfer, type Context, type Transferred } from './operation.js';
import { many, validateRequests, type ManyRequest } from './many.js';
import { directAlignment, misaligned, type DirectAlignment } from './direct.js';
import { S, STAT_FIELDS, statFields, toStatsAndFree } from './stats.js';
import { constants } from 'node:fs';
import { parseMode } from './flags.js';
import { FileReadStream, FileWriteStream, readableWebStream, type ReadStreamOptions, type WriteStreamOptions } from './fs/streams.js';
import { readWhole, validateWriteData, writeWhole, type WriteData } from './fs/whole-file.js';
import { fileOptions } from './fs/options.js';
import { byteLengthOf, readRange, validateBuffer, validateBufferArray, validateInteger, validateObject, validatePosition, validateSignal, writeRange, type Bytes } from './validate.js';

const EINVAL = errnoOf('EINVAL');

export interface ReadResult<T extends Bytes = Buffer> { bytesRead: number; buffer: T }
export interface WriteResult<T = Buffer> { bytesWritten: number; buffer: T }
/** Every operation takes a signal: aborting it cancels the operation where the engine can. */
export interface AbortOptions { signal?: AbortSignal }
export interface ReadOptions<T extends Bytes = Buffer> extends AbortOptions { buffer?: T; offset?: number; length?: number; position?: number | bigint | null }
export interface WriteOptions extends AbortOptions { offset?: number; length?: number; position?: number | null }

/** (buffer, offset, length, position) that needs no more checking: the common call, fast. */
function isPlainRange(buffer: unknown, offset: unknown, length: unknown, position: unknown): boolean {
  return typeof offset === 'number' && typeof length === 'number' && typeof position === 'number' &&
    ArrayBuffer.isView(buffer) && (offset | 0) === offset && (length | 0) === length && offset >= 0 &&
    length > 0 && offset + length <= buffer.byteLength && position >= 0 && Number.isSafeInteger(position);
}

/** What a handle needs of its engine (src/engine.ts). */
export interface HandleOwner {
  /** The backend for new work; throws once the engine is closing. */
  backend(): Backend;
  /** The backend, for closing files while the engine closes. */
  backendForClose(): Backend;
  /** A handle is open on fd, until its close has completed. */
  track(handle: FileHandle, fd: number, open: boolean): void;
}

/** How a handle's operation starts: on the backend, with the handle's descriptor. */
type Start = (backend: Backend, fd: number, done: Done) => void;

let handles = 0;

/** chmod() has no default mode: node refuses none at all. */
const invalidMode = (mode: unknown): never => { throw invalidArgType('mode', 'of type number', mode); };

export class FileHandle extends EventEmitter {
  readonly #engine: HandleOwner;
  #fd: number;
  readonly #inflight = new InFlight(this);        // this handle's operations in flight
  #closing: Promise<void> | undefined;
  #sequence: Promise<unknown> = Promise.resolve(); // operations at the current position, in order
  #runningQueued = false;                          // starting an op accepted before close()
  #queued = 0;                                     // operations waiting in #sequence
  #direct: DirectAlignment | undefined;            // opened with O_DIRECT: what it must align to
  readonly #asyncId = ++handles;
  #webStreamTaken = false;                         // readableWebStream() was called: node's lock

  private constructor(engine: HandleOwner, fd: number) {
    super();
    this.#engine = engine;
    this.#fd = fd;
    engine.track(this, fd, true);
  }

  /** @internal A file the engine opened in another operation (readFile in one): its handle, made in that completion. */
  static adopt(engine: HandleOwner, fd: number): FileHandle {
    engine.backendForClose().handedBack?.(fd);
    return new FileHandle(engine, fd);
  }

  /** O_DIRECT files: learn the alignment the device needs (statx), so misaligned I/O is refused here. */
  async #learnAlignment(): Promise<this> {
    const out = new Float64Array(STAT_FIELDS);
    const known = await perform(this.#engine.backendForClose(), this.#inflight, (b, done) => b.fstat(this.#fd, out, done), () => true, { syscall: 'fstat' })
      .catch(() => false);
    this.#direct = directAlignment(known ? out[S.dioMemAlign] : 0, known ? out[S.dioOffsetAlign] : 0);
    return this;
  }

  /** @internal Use engine.open(); the open is counted in the engine's `inflight`. */
  static open(engine: HandleOwner, inflight: InFlight, path: string, flags: number, mode: number): Promise<FileHandle> {
    let backend: Backend;
    try {
      backend = engine.backend();
    } catch (err) {
      return Promise.reject(err);
    }
    // The handle is made in the completion itself: an engine closing meanwhile finds it tracked.
    const made = perform(backend, inflight, (b, done) => b.open(path, flags, mode, done), fd => new FileHandle(engine, fd), { syscall: 'open', path });
    // Settled after the ticks already queued, as node's open (a threadpool round trip) always is:
    // an open completed at once (io_uring) would otherwise be ahead of, say, a nextTick abort.
    const opened = made.then(h => new Promise<FileHandle>(resolve => process.nextTick(resolve, h)));
    return flags & constants.O_DIRECT ? opened.then(h => h.#learnAlignment()) : opened;
  }

  /** The file descriptor, or -1 once closed. */
  get fd(): number {
    return this.#fd;
  }

  /** @internal Resolves once none of this handle's operations is in flight. */
  drained(): Promise<void> {
    return this.#inflight.drained();
  }

  /** One operation of this handle, through the core: admitted here (EBADF once closed), then run. */
  #run<T>(start: Start, ok: (result: number) => T, c: Context): Promise<T> {
    if (this.#refuses()) return Promise.reject(fileClosed(c.syscall));
    if (c.signal?.aborted) return Promise.reject(abortError(c.signal.reason));
    let backend: Backend;
    try {
      backend = this.#engine.backend();
    } catch (err) {
      return Promise.reject(err);
    }
    const fd = this.#fd;
    return perform(backend, this.#inflight, (b, done) => start(b, fd, done), ok, c);
  }

  // read() and write() without a signal are the hot path: arguments already validated.
  #transfer(write: boolean, buffer: Bytes, offset: number, length: number, position: number, data: unknown): Promise<Transferred> {
    const syscall = write ? 'write' : 'read';
    const refused = this.#direct && misaligned(this.#direct, syscall, [buffer], offset, length, position);
    if (refused) return Promise.reject(refused);
    if (this.#refuses()) return Promise.reject(fileClosed(syscall));
    let backend: Backend;
    try {
      backend = this.#engine.backend();
    } catch (err) {
      return Promise.reject(err);
    }
    return transfer(backend, this.#inflight, write, this.#fd, buffer, offset, length, position, data);
  }

  #read(buffer: Bytes, offset: number, length: number, position: number): Promise<ReadResult<Bytes>> {
    return this.#transfer(false, buffer, offset, length, position, buffer) as Promise<ReadResult<Bytes>>;
  }

  #write(buffer: Bytes, offset: number, length: number, position: number, data: unknown): Promise<WriteResult<unknown>> {
    return this.#transfer(true, buffer, offset, length, position, data) as Promise<WriteResult<unknown>>;
  }

  /**
   * Operations at the current file position (position null/-1) run one after another. One that
   * was accepted before close() still runs: close() waits for it, as node:fs does.
   */
  #inSequence<T>(position: number, syscall: string, run: () => Promise<T>): Promise<T> {
    if (position !== -1) return run();
    if (this.#closing || this.#fd < 0) return Promise.reject(fileClosed(syscall));
    this.#queued++;
    const result = this.#sequence.then(() => {
      this.#queued--;
      this.#runningQueued = true;
      try {
        return run();
      } finally {
        this.#runningQueued = false;
      }
    });
    this.#sequence = result.catch(() => {});
    return result;
  }

  #refuses(): boolean {
    return this.#fd < 0 || (this.#closing !== undefined && !this.#runningQueued);
  }

  /**
   * Many reads at once, one promise: each entry of the result is that request's bytes read, or
   * its error. Every position must be given (the requests run in no particular order).
   */
  readMany(requests: ManyRequest[], options?: AbortOptions): Promise<(number | Error)[]> {
    return this.#many(false, requests, options);
  }

  /** Many writes at once, one promise: each entry is that request's bytes written, or its error. */
  writeMany(requests: ManyRequest[], options?: AbortOptions): Promise<(number | Error)[]> {
    return this.#many(true, requests, options);
  }

  #many(write: boolean, requests: unknown, options: unknown): Promise<(number | Error)[]> {
    const syscall = write ? 'write' : 'read';
    try {
      const r = validateRequests(requests);
      const signal = validateSignal(options === undefined ? undefined : validateObject(options, 'options').signal);
      if (this.#direct) {
        for (let i = 0; i < r.buffers.length; i++) {
          const refused = misaligned(this.#direct, syscall, [r.buffers[i]], r.offsets[i], r.lengths[i], r.positions[i]);
          if (refused) throw refused;
        }
      }
      if (this.#refuses()) throw fileClosed(syscall);
      return many(this.#engine.backend(), this.#inflight, write, this.#fd, r, signal);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  read<T extends Bytes = Buffer>(buffer: T, offset?: number | null, length?: number | null, position?: number | bigint | null): Promise<ReadResult<T>>;
  read<T extends Bytes = Buffer>(buffer: T, options?: ReadOptions): Promise<ReadResult<T>>;
  read<T extends Bytes = Buffer>(options?: ReadOptions<T>): Promise<ReadResult<T>>;
  read(bufferOrOptions?: unknown, offsetOrOptions?: unknown, length?: unknown, position?: unknown): Promise<ReadResult<Bytes>> {
    if (isPlainRange(bufferOrOptions, offsetOrOptions, length, position))
      return this.#read(bufferOrOptions as Bytes, offsetOrOptions as number, length as number, position as number);
    let buffer = bufferOrOptions;
    let offset = offsetOrOptions;
    let signal: unknown;
    try {
      if (!ArrayBuffer.isView(buffer)) {
        const o = validateObject(bufferOrOptions, 'options');
        buffer = o.buffer === undefined ? Buffer.alloc(16384) : o.buffer;
        validateBuffer(buffer);
        ({ offset, length, position, signal } = o);
      }
      // As node: options in offset's place, also inside options.
      if (offset !== null && typeof offset === 'object') ({ offset, length, position, signal } = offset as Record<string, unknown>);
      const buf = buffer as Bytes;
      const range = readRange(buf, offset, length);
      const abort = validateSignal(signal);
      if (range === undefined) return Promise.resolve({ bytesRead: 0, buffer: buf });
      const [off, len] = range;
      const pos = validatePosition(position);
      if (abort) {
        const refused = this.#direct && misaligned(this.#direct, 'read', [buf], off, len, pos);
        if (refused) return Promise.reject(refused);
        return this.#inSequence(pos, 'read', () => this.#run((b, fd, done) => b.read(fd, buf, off, len, pos, done), bytesRead => ({ bytesRead, buffer: buf }), { syscall: 'read', signal: abort }));
      }
      return this.#inSequence(pos, 'read', () => this.#read(buf, off, len, pos));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  write<T extends Bytes>(buffer: T, offset?: number | null, length?: number | null, position?: number | null): Promise<WriteResult<T>>;
  write<T extends Bytes>(buffer: T, options?: WriteOptions): Promise<WriteResult<T>>;
  write(data: string, position?: number | null, encoding?: BufferEncoding): Promise<WriteResult<string>>;
  write(data: unknown, offsetOrOptions?: unknown, length?: unknown, position?: unknown): Promise<WriteResult<unknown>> {
    if (isPlainRange(data, offsetOrOptions, length, position))
      return this.#write(data as Bytes, offsetOrOptions as number, length as number, position as number, data);
    try {
      let buf: Bytes, off: number, len: number, pos: number;
      let signal: unknown;
      // As node: anything of no bytes (an empty view, an empty ArrayBuffer) is written at once.
      if ((data as { byteLength?: unknown } | null | undefined)?.byteLength === 0) return Promise.resolve({ bytesWritten: 0, buffer: data });
      if (ArrayBuffer.isView(data)) {
        const view = data as Bytes;
        let offset = offsetOrOptions;
        // As node: null in offset's place is options too, all defaults (the whole buffer, the
        // current position), whatever length and position say.
        if (typeof offset === 'object') ({ offset, length, position, signal } = (offset ?? {}) as Record<string, unknown>);
        [off, len] = writeRange(view, offset, length);
        pos = validatePosition(position);
        buf = view;
      } else if (typeof data === 'string') {
        // As node: what is not an encoding's name (a number, say) means utf8; odd hex is refused.
        const encoding = typeof length === 'string' && Buffer.isEncoding(length) ? length : 'utf8';
        if (encoding.toLowerCase() === 'hex' && data.length % 2 !== 0) throw invalidArgValue('encoding', encoding, `is invalid for data of length ${data.length}`);
        buf = Buffer.from(data, encoding);
        [off, len] = [0, buf.byteLength];
        pos = validatePosition(offsetOrOptions);
      } else {
        throw invalidArgType('buffer', 'of type string or an instance of Buffer, TypedArray, or DataView', data);
      }
      const abort = validateSignal(signal);
      if (len === 0) return Promise.resolve({ bytesWritten: 0, buffer: data });
      if (abort) {
        const refused = this.#direct && misaligned(this.#direct, 'write', [buf], off, len, pos);
        if (refused) return Promise.reject(refused);
        return this.#inSequence(pos, 'write', () => this.#run((b, fd, done) => b.write(fd, buf, off, len, pos, done), bytesWritten => ({ bytesWritten, buffer: data }), { syscall: 'write', signal: abort }));
      }
      return this.#inSequence(pos, 'write', () => this.#write(buf, off, len, pos, data));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  readv<T extends Bytes[]>(buffers: T, position?: number | null, options?: AbortOptions): Promise<{ bytesRead: number; buffers: T }> {
    return this.#vectored(false, buffers, position, options, bytesRead => ({ bytesRead, buffers }));
  }

  writev<T extends Bytes[]>(buffers: T, position?: number | null, options?: AbortOptions): Promise<{ bytesWritten: number; buffers: T }> {
    return this.#vectored(true, buffers, position, options, bytesWritten => ({ bytesWritten, buffers }));
  }

  #vectored<R>(write: boolean, buffers: unknown, position: unknown, options: unknown, ok: (result: number) => R): Promise<R> {
    const syscall = write ? 'write' : 'read';
    if (this.#refuses()) return Promise.reject(fileClosed(write ? 'writev' : 'readv')); // node names the method here
    try {
      validateBufferArray(buffers);
      // The engine gets a copy of the list, taken now: emptying or refilling the caller's array
      // later changes neither what is transferred nor which buffers stay referenced until done.
      const views = buffers.slice();
      const pos = validatePosition(position);
      const signal = validateSignal(validateObject(options, 'options').signal);
      if (views.length === 0) return write ? Promise.resolve(ok(0)) : Promise.reject(systemError(EINVAL, syscall)); // as node:fs
      const refused = this.#direct && misaligned(this.#direct, syscall, views, 0, byteLengthOf(views), pos);
      if (refused) return Promise.reject(refused);
      return this.#inSequence(pos, syscall, () => this.#run(
        (b, fd, done) => (write ? b.writev(fd, views, pos, done) : b.readv(fd, views, pos, done)), ok, { syscall, signal }));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  stat(options: { bigint: true } & AbortOptions): Promise<BigIntStats>;
  stat(options?: { bigint?: false } & AbortOptions): Promise<Stats>;
  // The methods below are async, so that bad arguments reject (never throw) and a failure's stack,
  // taken where it arrives, holds the caller's async frames (stackFromHere).
  async stat(options?: { bigint?: boolean } & AbortOptions): Promise<Stats | BigIntStats> {
    const o = validateObject(options, 'options');
    const signal = validateSignal(o.signal);
    try {
      // BigInt fields do not fit the engines' doubles: node's own fstat answers, on this fd.
      if (o.bigint) return await this.#onFd('fstat', (fd, cb) => fs.fstat(fd, { bigint: true }, cb));
      const out = statFields();
      return await this.#run((b, fd, done) => b.fstat(fd, out, done), () => toStatsAndFree(out), { syscall: 'fstat', signal });
    } catch (err) {
      throw stackFromHere(err);
    }
  }

  async sync(options?: AbortOptions): Promise<void> {
    return await this.#flushToDisk(false, options);
  }

  async datasync(options?: AbortOptions): Promise<void> {
    return await this.#flushToDisk(true, options);
  }

  async #flushToDisk(dataOnly: boolean, options: AbortOptions | undefined): Promise<void> {
    const signal = validateSignal(validateObject(options, 'options').signal);
    try {
      return await this.#run((b, fd, done) => (dataOnly ? b.fdatasync(fd, done) : b.fsync(fd, done)), () => undefined,
        { syscall: dataOnly ? 'fdatasync' : 'fsync', signal });
    } catch (err) {
      throw stackFromHere(err);
    }
  }

  async truncate(len: number = 0, options?: AbortOptions): Promise<void> {
    const length = Math.max(0, validateInteger(len, 'len'));
    const signal = validateSignal(validateObject(options, 'options').signal);
    try {
      return await this.#run((b, fd, done) => b.ftruncate(fd, length, done), () => undefined, { syscall: 'ftruncate', signal });
    } catch (err) {
      throw stackFromHere(err);
    }
  }

  /** @internal fstat into out, without the caller's stack (readFile's size). */
  fstatFields(out: Float64Array): Promise<void> {
    return this.#run((b, fd, done) => b.fstat(fd, out, done), () => undefined, { syscall: 'fstat' });
  }

  /** A call of node:fs on this handle's descriptor (what no engine does: chmod, chown, utimes, BigInt stats). */
  #onFd<T>(syscall: string, call: (fd: number, cb: (err: Error | null, value?: T) => void) => void): Promise<T> {
    if (this.#refuses()) return Promise.reject(fileClosed(syscall));
    this.#inflight.begin();
    return new Promise<T>((resolve, reject) => call(this.#fd, (err, value) => {
      this.#inflight.end();
      if (err) reject(err);
      else resolve(value as T);
    }));
  }

  /** The rest of the file from the current position, as node's filehandle.readFile(). */
  readFile(options?: { encoding?: null; signal?: AbortSignal } | null): Promise<Buffer>;
  readFile(options: { encoding: BufferEncoding; signal?: AbortSignal } | BufferEncoding): Promise<string>;
  readFile(options?: unknown): Promise<Buffer | string> {
    try {
      if (this.#refuses()) throw fileClosed('readFile');
      const { encoding, signal } = fileOptions(options, {});
      return readWhole(this, encoding, signal);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Writes data from the current position, as node's filehandle.writeFile(). */
  writeFile(data: WriteData, options?: { encoding?: BufferEncoding | null; signal?: AbortSignal } | BufferEncoding | null): Promise<void> {
    try {
      if (this.#refuses()) throw fileClosed('writeFile');
      validateWriteData(data);
      const { encoding, signal } = fileOptions(options, { encoding: 'utf8' });
      return writeWhole(this, data, encoding ?? 'utf8', signal);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** As writeFile(): a handle writes where its position is (opened with 'a': at the end). */
  appendFile(data: WriteData, options?: { encoding?: BufferEncoding | null; signal?: AbortSignal } | BufferEncoding | null): Promise<void> {
    return this.writeFile(data, options);
  }

  chmod(mode: string | number): Promise<void> {
    try {
      const m = parseMode(mode ?? invalidMode(mode), 0);
      return this.#onFd('fchmod', (fd, cb) => fs.fchmod(fd, m, cb));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  chown(uid: number, gid: number): Promise<void> {
    try {
      validateInteger(uid, 'uid', -1, 2 ** 32 - 1);
      validateInteger(gid, 'gid', -1, 2 ** 32 - 1);
      return this.#onFd('fchown', (fd, cb) => fs.fchown(fd, uid, gid, cb));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  utimes(atime: string | number | Date, mtime: string | number | Date): Promise<void> {
    return this.#onFd('futimes', (fd, cb) => fs.futimes(fd, atime, mtime, cb));
  }

  createReadStream(options?: ReadStreamOptions | BufferEncoding): FileReadStream {
    return new FileReadStream(this, options);
  }

  createWriteStream(options?: WriteStreamOptions | BufferEncoding): FileWriteStream {
    return new FileWriteStream(this, options);
  }

  /** The file line by line, as node's filehandle.readLines(). */
  readLines(options?: ReadStreamOptions | BufferEncoding): Interface {
    return createInterface({ input: this.createReadStream(options), crlfDelay: Infinity });
  }

  /**
   * The file from its position as a web ReadableStream, as node's: once a handle (it stays
   * locked), of ArrayBuffer chunks, or bytes with `{ type: 'bytes' }`; closing the handle ends it.
   */
  readableWebStream(options?: { type?: 'bytes' }): ReadableStream<ArrayBuffer | Uint8Array> {
    if (this.#fd < 0) throw invalidState('The FileHandle is closed');
    if (this.#closing) throw invalidState('The FileHandle is closing');
    if (this.#webStreamTaken) throw invalidState('The FileHandle is locked');
    this.#webStreamTaken = true;
    return readableWebStream(this, options);
  }

  /** node's async id of the handle; here, unique per handle. */
  getAsyncId(): number {
    return this.#asyncId;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Waits for this handle's operations in flight, then closes the descriptor. Idempotent. */
  async close(): Promise<void> {
    if (!this.#closing) {
      if (this.#fd < 0) return;
      let backend: Backend;
      try {
        backend = this.#engine.backend();
      } catch {
        // The engine is closing, and closes its files: this close is that one (a stream's
        // autoClose after its last read may come while the engine waits for that read).
        return this.closeForEngine();
      }
      this.#closing = this.#closeWith(backend);
      this.emit('close'); // when the close begins, as node's FileHandle
    }
    try {
      await this.#closing;
    } catch (err) {
      throw stackFromHere(err);
    }
  }

  /** @internal The engine is closing: close this file through it even though it refuses new work. */
  closeForEngine(): Promise<void> {
    if (!this.#closing) {
      this.#closing = this.#closeWith(this.#engine.backendForClose());
      try {
        this.emit('close');
      } catch (err) {
        // A listener that throws is the program's uncaught exception, not the end of the engine's close.
        process.nextTick(() => { throw err; });
      }
    }
    return this.#closing.catch(() => {});
  }

  async #closeWith(backend: Backend): Promise<void> {
    const fd = this.#fd;
    // As node's: fd is -1 at once (this runs before the first await) when nothing is in flight,
    // else once what is has finished.
    if (this.#inflight.count === 0 && this.#queued === 0) this.#fd = -1;
    await this.#sequence;
    await this.#inflight.drained();
    this.#fd = -1;
    try {
      // Counted in this handle until done: the engine's close() waits for it too.
      await perform(backend, this.#inflight, (b, done) => b.close(fd, done), () => undefined, { syscall: 'close' });
    } finally {
      this.#engine.track(this, fd, false);
    }
  }
}
