// Socket: node:net's Socket, a stream.Duplex, over a native socket engine (src/net/native.ts).
// Events, methods, errors and half-close as node's: 'connect' and 'ready', 'data', 'end',
// 'close' (hadError), 'error', 'drain', 'timeout'; allowHalfOpen; write with backpressure;
// end() sends FIN once everything written is written; destroy() closes at once.
import dns from 'node:dns';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { invalidArgType, netError, netHostPortError, nodeError, zeroCopyUnsupported, type NetError } from '../errors.js';
import { BATCHED, EV, OPT, QUEUED, TAKEN, type NativeNet, type NetTarget } from './native.js';

const ECANCELED = -125;
const ENOTCONN = -107;

export interface SocketOptions {
  allowHalfOpen?: boolean;
  noDelay?: boolean;
  /** ioengine's: send large writes without copying them (setZeroCopy) */
  zeroCopy?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  signal?: AbortSignal;
}

export interface ConnectOptions {
  port: number | string;
  host?: string;
  family?: number;
  noDelay?: boolean;
  zeroCopy?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
}

/** @internal How a Server hands a Socket the connection it accepted. */
export interface Accepted { id: number; onClose: (s: Socket) => void; paused?: boolean }

/** A write the kernel has not finished with; cb undefined once it was answered as taken (TAKEN). */
interface PendingWrite { req: number; buffers: Uint8Array | Uint8Array[]; cb: ((err?: Error | null) => void) | undefined }

export class Socket extends Duplex implements NetTarget {
  #net: NativeNet;
  #id = -1;
  #connecting = false;
  #reading = false;       // native reads are on
  #wantRead = false;      // _read() asked while connecting
  #bytesRead = 0;
  #bytesWritten = 0;
  #req = 0;
  #writes: PendingWrite[] = [];
  #final: ((err?: Error | null) => void) | undefined; // end() waiting for the writes taken before it
  #noDelay: boolean | undefined;
  #zeroCopy = false;
  #keepAlive: [boolean, number] | undefined;
  #refed = true;
  #timer: NodeJS.Timeout | undefined;
  #timeoutMs = 0;
  #remote: { address: string; family: string; port: number } | undefined;
  #onClose: ((s: Socket) => void) | undefined;
  /** The server that accepted this socket, as node's socket.server. */
  server: unknown = null;

  /** @internal net is the engine; accepted, a connection a Server accepted. */
  constructor(options: SocketOptions = {}, engine: NativeNet, accepted?: Accepted) {
    super({ allowHalfOpen: options.allowHalfOpen ?? false, emitClose: false, autoDestroy: true, signal: options.signal });
    this.#net = engine;
    if (options.noDelay) this.#noDelay = true;
    if (options.zeroCopy) this.#zeroCopy = true;
    if (options.keepAlive) this.#keepAlive = [true, options.keepAliveInitialDelay ?? 0];
    if (accepted) {
      this.#id = accepted.id;
      this.#onClose = accepted.onClose;
      engine.own(accepted.id, this);
      this.#applyOptions();
      // As node: reading starts at once (into the stream's buffer, up to its highWaterMark), so
      // the peer's end is seen even by a program that never reads.
      if (!accepted.paused) this.read(0);
    }
  }

  // ---- connecting ----

  connect(options: ConnectOptions, listener?: () => void): this;
  connect(port: number | string, host?: string, listener?: () => void): this;
  connect(port: number | string, listener?: () => void): this;
  connect(...args: unknown[]): this {
    const cb = typeof args[args.length - 1] === 'function' ? args.pop() as () => void : undefined;
    const o: ConnectOptions = typeof args[0] === 'object' && args[0] !== null ? args[0] as ConnectOptions : { port: args[0] as number, host: args[1] as string | undefined };
    const port = validatePort(o.port);
    const host = o.host ?? 'localhost';
    if (o.noDelay) this.#noDelay = true;
    if (o.zeroCopy) this.#zeroCopy = true;
    if (o.keepAlive) this.#keepAlive = [true, o.keepAliveInitialDelay ?? 0];
    if (cb) this.once('connect', cb);
    this.#connecting = true;
    const family = net.isIP(host);
    if (family) {
      process.nextTick(() => this.#start(family, host, port));
    } else {
      dns.lookup(host, { family: o.family ?? 0 }, (err, address, fam) => {
        if (this.destroyed) return;
        if (err) return this.destroy(err);
        this.emit('lookup', null, address, fam, host);
        this.#start(fam, address, port);
      });
    }
    return this;
  }

  #start(family: number, address: string, port: number): void {
    if (this.destroyed) return;
    const id = this.#net.connect(family, address, port);
    if (id < 0) return void this.destroy(netHostPortError(id, 'connect', address, port));
    this.#id = id;
    this.#remote = { address, family: family === 6 ? 'IPv6' : 'IPv4', port };
    this.#net.own(id, this);
    if (!this.#refed) this.#net.ref(id, false);
  }

  #connected(result: number): void {
    if (result < 0) {
      const r = this.#remote!;
      return void this.destroy(netHostPortError(result, 'connect', r.address, r.port));
    }
    this.#connecting = false;
    this.#applyOptions();
    this.emit('connect');
    this.emit('ready');
    if (this.#wantRead) this._read();
    else if (!this.isPaused()) this.read(0); // as node: reading starts once connected
  }

  #applyOptions(): void {
    if (this.#noDelay !== undefined) this.#net.setOption(this.#id, OPT.NODELAY, this.#noDelay);
    if (this.#zeroCopy) this.#net.setOption(this.#id, OPT.ZEROCOPY, true); // refused: writes copy, as without it
    if (this.#keepAlive) this.#net.setOption(this.#id, OPT.KEEPALIVE, this.#keepAlive[0], Math.floor(this.#keepAlive[1] / 1000));
  }

  // ---- events from the engine ----

  /** @internal */
  event(type: number, a: number, b: number, data: Buffer | undefined): void {
    switch (type) {
      case EV.DATA:
        this.#bytesRead += a;
        this.#activity();
        if (!this.push(data)) {
          this.#reading = false;
          this.#net.read(this.#id, false);
        }
        break;
      case EV.EOF:
        this.#reading = false;
        this.push(null);
        this.read(0); // as node: 'end' comes even if nobody reads, once what was read is taken
        break;
      case EV.ERROR:
        this.destroy(netError(a, 'read'));
        break;
      case EV.WRITE: {
        const w = this.#writes.shift();
        if (!w) break;
        if (b < 0) {
          // A write already answered has no callback left to hear it: the socket does, as node's
          // hears a failed write that had none.
          if (w.cb) w.cb(netError(b, 'write'));
          else this.destroy(netError(b, 'write'));
          break;
        }
        this.#activity();
        if (w.cb) {
          this.#bytesWritten += b;
          w.cb();
        }
        if (this.#writes.length === 0 && this.#final) this.#shutdown();
        break;
      }
      case EV.CONNECT:
        this.#connected(a);
        break;
    }
  }

  // ---- the stream ----

  override _read(): void {
    if (this.#connecting || this.#id < 0) {
      this.#wantRead = true;
      return;
    }
    if (this.#reading) return;
    this.#reading = true;
    const r = this.#net.read(this.#id, true);
    if (r < 0) this.destroy(netError(r, 'read'));
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#send(chunk, cb);
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    // The kernel takes at most IOV_MAX (1024) pieces a call: more (a corked or backed-up stream) go as one.
    this.#send(chunks.length > 1024 ? Buffer.concat(chunks.map(c => c.chunk)) : chunks.map(c => c.chunk), cb);
  }

  /** Sends a buffer, or a list of them in one call. */
  #send(buffers: Uint8Array | Uint8Array[], cb: (err?: Error | null) => void): void {
    if (this.#connecting) return this.#afterConnect(() => this.#send(buffers, cb), cb);
    if (this.#id < 0) return cb(netError(-32, 'write')); // EPIPE: never connected
    const req = ++this.#req;
    const r = this.#net.write(this.#id, req, buffers, true);
    // The buffers stay referenced until the kernel is done with them.
    if (r === QUEUED || r === BATCHED) return void this.#writes.push({ req, buffers, cb });
    if (r === TAKEN) {
      // Copied, to go to the kernel as this wake-up ends behind nothing that waits for the peer:
      // taken now, as a write the socket takes at once on node:net, its buffers free for the
      // caller again. So the writes that follow go with it, not after its completion, and a
      // destroy() right after loses none of them.
      this.#writes.push({ req, buffers: [], cb: undefined });
      this.#bytesWritten += Array.isArray(buffers) ? buffers.reduce((sum, b) => sum + b.byteLength, 0) : buffers.byteLength;
      this.#activity();
      return cb();
    }
    if (r < 0) return cb(netError(r, 'write'));
    this.#bytesWritten += r;
    this.#activity();
    cb();
  }

  /** fn once connected; if the socket closes first, cb hears it, as node's. */
  #afterConnect(fn: () => void, cb: (err?: Error | null) => void): void {
    const closed = () => {
      this.removeListener('connect', connected);
      const err = nodeError('ERR_SOCKET_CLOSED_BEFORE_CONNECTION', 'Socket closed before the connection was established');
      cb(err);
    };
    const connected = () => {
      this.removeListener('close', closed);
      fn();
    };
    this.once('connect', connected);
    this.once('close', closed);
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.#connecting) return this.#afterConnect(() => this._final(cb), cb);
    if (this.#id < 0) return cb();
    this.#final = cb;
    // Writes taken but not yet sent go first: a FIN now would cut them off.
    if (this.#writes.length === 0) this.#shutdown();
  }

  #shutdown(): void {
    const cb = this.#final!;
    this.#final = undefined;
    const r = this.#net.shutdown(this.#id);
    cb(r < 0 && r !== ENOTCONN ? netError(r, 'shutdown') : null);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#close(false);
    cb(err);
    // After the 'error' (a tick), as node's handle closes: 'close' with whether it was an error.
    setImmediate(() => this.emit('close', err !== null && err !== undefined));
  }

  #close(reset: boolean): void {
    clearTimeout(this.#timer);
    this.#connecting = false;
    const pending = this.#writes.splice(0);
    if (this.#id >= 0) {
      this.#net.close(this.#id, reset, pending.map(w => w.buffers));
      this.#id = -1;
      this.#onClose?.(this);
    }
    // Writes not done: each callback hears it (the engine keeps their buffers while the kernel may read them).
    for (const w of pending) w.cb?.(netError(ECANCELED, 'write'));
    // An end() waiting for taken writes: no FIN goes now. Told only once destroyed, so that no
    // 'finish' claims one (resetAndDestroy() closes before it destroys).
    const final = this.#final;
    this.#final = undefined;
    if (this.destroyed) final?.();
  }

  /** Closes with a TCP reset (RST) instead of FIN, as node's. */
  resetAndDestroy(): this {
    if (this.#id >= 0) this.#close(true);
    return this.destroy();
  }

  /** end(), then destroy() once the end is written, as node's. */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
  }

  // ---- options and facts ----

  setNoDelay(noDelay = true): this {
    this.#noDelay = noDelay;
    if (this.#id >= 0 && !this.#connecting) this.#net.setOption(this.#id, OPT.NODELAY, noDelay);
    return this;
  }

  /**
   * ioengine's, not node's: writes of 16 KiB or more go to the kernel without a copy (io_uring's
   * SENDMSG_ZC, Linux 6.1); a write's callback then comes once the kernel has let go of its
   * buffer, which must not change until then. Throws (ERR_IOENGINE_UNSUPPORTED) on an engine
   * that cannot; false turns it off for later writes.
   */
  setZeroCopy(on = true): this {
    if (on && !this.#net.zeroCopy) throw zeroCopyUnsupported(this.#net.name);
    this.#zeroCopy = on;
    if (this.#id >= 0 && !this.#connecting) this.#net.setOption(this.#id, OPT.ZEROCOPY, on);
    return this;
  }

  setKeepAlive(enable = false, initialDelay = 0): this {
    this.#keepAlive = [enable, initialDelay];
    if (this.#id >= 0 && !this.#connecting) this.#net.setOption(this.#id, OPT.KEEPALIVE, enable, Math.floor(initialDelay / 1000));
    return this;
  }

  /** 'timeout' after ms without reading or writing (0: never), as node's. */
  setTimeout(ms: number, cb?: () => void): this {
    if (typeof ms !== 'number' || !(ms >= 0)) throw invalidArgType('msecs', 'of type number', ms);
    this.#timeoutMs = ms;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (cb) (ms === 0 ? this.removeListener('timeout', cb) : this.once('timeout', cb));
    if (ms > 0) {
      this.#timer = setTimeout(() => this.emit('timeout'), ms);
      if (!this.#refed) this.#timer.unref();
    }
    return this;
  }

  get timeout(): number | undefined { return this.#timeoutMs || undefined; }

  #activity(): void { this.#timer?.refresh(); }

  ref(): this {
    this.#refed = true;
    if (this.#id >= 0) this.#net.ref(this.#id, true);
    this.#timer?.ref();
    return this;
  }

  unref(): this {
    this.#refed = false;
    if (this.#id >= 0) this.#net.ref(this.#id, false);
    this.#timer?.unref();
    return this;
  }

  address(): { address: string; family: string; port: number } | Record<string, never> {
    return (this.#id >= 0 && this.#net.address(this.#id, false)) || {};
  }

  #peer(): { address: string; family: string; port: number } | undefined {
    if (!this.#remote && this.#id >= 0) this.#remote = this.#net.address(this.#id, true);
    return this.#remote;
  }

  get remoteAddress(): string | undefined { return this.#peer()?.address; }
  get remotePort(): number | undefined { return this.#peer()?.port; }
  get remoteFamily(): string | undefined { return this.#peer()?.family; }
  get localAddress(): string | undefined { return (this.address() as { address?: string }).address; }
  get localPort(): number | undefined { return (this.address() as { port?: number }).port; }
  get localFamily(): string | undefined { return (this.address() as { family?: string }).family; }
  get bytesRead(): number { return this.#bytesRead; }
  /** Bytes the kernel took, and those still waiting in the stream, as node's. */
  get bytesWritten(): number { return this.#bytesWritten + this.writableLength; }
  get connecting(): boolean { return this.#connecting; }
  get pending(): boolean { return this.#id < 0 || this.#connecting; }
  get readyState(): string {
    if (this.#connecting) return 'opening';
    if (this.readable && this.writable) return 'open';
    if (this.readable && !this.writable) return 'readOnly';
    if (!this.readable && this.writable) return 'writeOnly';
    return 'closed';
  }
}

export function validatePort(port: unknown): number {
  const n = typeof port === 'string' && port.trim() !== '' ? Number(port) : port;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 65535) {
    const err = new RangeError(`Port should be >= 0 and < 65536. Received ${typeof port === 'string' ? `type string ('${port}')` : String(port)}.`) as NetError;
    (err as { code: string }).code = 'ERR_SOCKET_BAD_PORT';
    throw err;
  }
  return n;
}
