// The lower-level interface to a socket engine, for programs that do not need streams. Each
// connection's bytes go to a handler as the engine read them, in a Buffer that is the handler's
// to keep (a small read copied once out of the kernel's buffer into an arena shared by later
// small reads and never written twice, OPT.POOLED; a large one the engine's receive block itself,
// not copied: the engine takes a new block, so nothing is ever given back); a
// write of a buffer or a list of buffers is offered to the socket at once, and what it does not
// take is sent as the socket takes more, its buffers kept until then. No stream, no highWaterMark:
// flow control is the program's (pause() and resume(), write()'s answer, the drain handler).
import dns from 'node:dns';
import net from 'node:net';
import { engineUnavailable, invalidArgType, netError, nodeError, netHostPortError, netUvHostPortError, zeroCopyUnsupported } from '../errors.js';
import { BATCHED, EV, NativeNet, OPT, QUEUED, type NativeNetName, type NetTarget } from './native.js';
import { validatePort } from './socket.js';

const ENOTCONN = -107;
const IOV_MAX = 1024;

/** What a connection tells the program. Only data is required. */
export interface RawHandlers {
  /** Open: accepted by a listener, or connected. Reading has started. */
  open?(conn: RawConnection): void;
  /** Bytes received: the handler's to keep (a small read's Buffer views an arena shared with others: `bytes.buffer` is not its own). */
  data(conn: RawConnection, bytes: Buffer): void;
  /** The peer has ended its side (FIN); this side may still write, then end(). Once both sides have ended, the connection closes. */
  end?(conn: RawConnection): void;
  /** A write said false, and now every write has gone. */
  drain?(conn: RawConnection): void;
  /** Closed: by close(), or by a failure (error: node's, as `read ECONNRESET`, `connect ECONNREFUSED …`). Once. */
  close?(conn: RawConnection, error?: Error): void;
}

export class RawConnection implements NetTarget {
  readonly #net: NativeNet;
  readonly #handlers: RawHandlers;
  #id = -1;
  #req = 0;
  readonly #queued = new Map<number, Uint8Array | Uint8Array[]>(); // by request: the buffers the kernel may still read
  #ending = false;
  #shut = false;       // FIN sent
  #peerEnded = false;  // FIN received
  #closed = false;
  #connecting = false;
  #paused = false;
  #drainDue = false;   // a write said false: drain comes once all has gone
  #remote: { address: string; port: number } | undefined;
  /** Bytes received, and bytes the kernel took. */
  bytesRead = 0;
  bytesWritten = 0;

  /** @internal id: an accepted connection's; -1 for one that connect() opens. */
  constructor(engine: NativeNet, handlers: RawHandlers, id: number) {
    this.#net = engine;
    this.#handlers = handlers;
    if (id >= 0) {
      this.#id = id;
      engine.own(id, this);
      engine.setOption(id, OPT.POOLED, true);
      engine.read(id, true);
    }
  }

  /** @internal */
  connectTo(family: number, address: string, port: number): void {
    if (this.#closed) return;
    const id = this.#net.connect(family, address, port);
    this.#remote = { address, port };
    if (id < 0) return this.#fail(netHostPortError(id, 'connect', address, port));
    this.#id = id;
    this.#connecting = true;
    this.#net.own(id, this);
    this.#net.setOption(id, OPT.POOLED, true);
  }

  /** @internal */
  event(type: number, a: number, b: number, data: Buffer | undefined): void {
    switch (type) {
      case EV.DATA:
        this.bytesRead += a;
        this.#handlers.data(this, data!);
        break;
      case EV.EOF:
        this.#peerEnded = true;
        this.#handlers.end?.(this);
        if (this.#shut) this.#close(false, undefined); // both ways done
        break;
      case EV.ERROR:
        this.#fail(netError(a, 'read'));
        break;
      case EV.WRITE:
        if (!this.#queued.delete(a)) break;
        if (b < 0) return this.#fail(netError(b, 'write'));
        this.bytesWritten += b;
        if (this.#queued.size > 0) break;
        if (this.#ending) this.#shutdown();
        if (!this.#drainDue) break;
        this.#drainDue = false;
        this.#handlers.drain?.(this);
        break;
      case EV.CONNECT:
        this.#connecting = false;
        if (a < 0) return this.#fail(netHostPortError(a, 'connect', this.#remote!.address, this.#remote!.port));
        if (!this.#paused) this.#net.read(this.#id, true);
        this.#handlers.open?.(this);
        if (this.#ending && this.#queued.size === 0) this.#shutdown(); // end() called while connecting
        break;
    }
  }

  /**
   * Writes data (a buffer, or a list of them, in order): true when the kernel took all of it now,
   * or takes it as this wake-up ends (on io_uring a write inside a handler goes with the wake-up's
   * other requests, up to 64 KiB a connection; its buffers are kept, and must not change, until
   * then); false when some waits for the peer (its buffers are kept until it is written; drain
   * says when all has gone). Throws on a connection that is closed, ended or still connecting.
   */
  write(data: Uint8Array | readonly Uint8Array[]): boolean {
    const one = ArrayBuffer.isView(data);
    if (!one && !(Array.isArray(data) && data.every(b => ArrayBuffer.isView(b)))) throw invalidArgType('data', 'an instance of Buffer, TypedArray or DataView, or an array of them', data);
    if (this.#closed || this.#ending || this.#connecting || this.#id < 0) {
      const err = nodeError(!this.#closed && this.#ending ? 'ERR_STREAM_WRITE_AFTER_END' : 'ERR_SOCKET_CLOSED',
        this.#closed ? 'This connection is closed' : this.#ending ? 'write after end' : 'This connection is not open yet');
      throw err;
    }
    const list = data as unknown as Uint8Array[];
    const buffers = one ? data as Uint8Array
      : list.length > IOV_MAX ? [Buffer.concat(list.map(b => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)))] : list;
    const req = ++this.#req;
    const r = this.#net.write(this.#id, req, buffers);
    if (r === QUEUED || r === BATCHED) {
      this.#queued.set(req, buffers);
      if (r === BATCHED) return true;
      this.#drainDue = true;
      return false;
    }
    if (r < 0) {
      this.#fail(netError(r, 'write'));
      return false;
    }
    this.bytesWritten += r;
    return true;
  }

  /** No more writes: the peer gets FIN once what was written has gone (and the connection closes if the peer has ended too). */
  end(): void {
    if (this.#closed || this.#ending) return;
    this.#ending = true;
    // Still connecting (or resolving its host): the FIN goes once it is open.
    if (this.#id >= 0 && !this.#connecting && this.#queued.size === 0) this.#shutdown();
  }

  #shutdown(): void {
    if (this.#closed) return;
    const r = this.#net.shutdown(this.#id);
    if (r < 0 && r !== ENOTCONN) return this.#fail(netError(r, 'shutdown'));
    this.#shut = true;
    if (this.#peerEnded) this.#close(false, undefined); // both ways done
  }

  /** Stops reading (the kernel's buffer fills, then the peer waits); resume() reads on. */
  pause(): void {
    this.#paused = true;
    if (this.#id >= 0 && !this.#closed && !this.#connecting) this.#net.read(this.#id, false);
  }

  resume(): void {
    this.#paused = false;
    if (this.#id >= 0 && !this.#closed && !this.#connecting) this.#net.read(this.#id, true);
  }

  /** Closes now (reset: the peer gets RST, not FIN); writes not yet gone are dropped. */
  close(reset = false): void {
    this.#close(reset, undefined);
  }

  #fail(error: Error): void {
    this.#close(false, error);
  }

  /** @internal The connection could not even start (its host did not resolve). */
  failed(error: Error): void {
    this.#fail(error);
  }

  #close(reset: boolean, error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#id >= 0) this.#net.close(this.#id, reset, [...this.#queued.values()]);
    this.#queued.clear();
    // A turn later, as node's 'close': the program's own call to close() has returned first.
    setImmediate(() => this.#handlers.close?.(this, error));
  }

  /** Writes of 16 KiB or more without a copy, as Socket.setZeroCopy: drain then says the kernel let go of the buffers. */
  setZeroCopy(on = true): this {
    if (on && !this.#net.zeroCopy) throw zeroCopyUnsupported(this.#net.name);
    if (this.#id >= 0 && !this.#closed) this.#net.setOption(this.#id, OPT.ZEROCOPY, on);
    return this;
  }

  setNoDelay(noDelay = true): this {
    if (this.#id >= 0 && !this.#closed) this.#net.setOption(this.#id, OPT.NODELAY, noDelay);
    return this;
  }

  get closed(): boolean { return this.#closed; }
  get remoteAddress(): string | undefined { return this.#peer()?.address; }
  get remotePort(): number | undefined { return this.#peer()?.port; }
  get localPort(): number | undefined { return this.#id >= 0 && !this.#closed ? this.#net.address(this.#id, false)?.port : undefined; }

  #peer(): { address: string; port: number } | undefined {
    if (!this.#remote && this.#id >= 0 && !this.#closed) this.#remote = this.#net.address(this.#id, true);
    return this.#remote;
  }
}

export interface RawListenOptions { port?: number; host?: string; backlog?: number }

/** A listener: each connection it accepts gets the handlers. */
export class RawServer implements NetTarget {
  readonly #net: NativeNet;
  readonly #handlers: RawHandlers & { error?(error: Error): void };
  #id: number;
  readonly address: { address: string; family: string; port: number };

  /** @internal */
  constructor(engine: NativeNet, id: number, handlers: RawHandlers & { error?(error: Error): void }) {
    this.#net = engine;
    this.#id = id;
    this.#handlers = handlers;
    this.address = engine.address(id, false)!;
    engine.own(id, this);
  }

  /** @internal */
  event(type: number, a: number): void {
    // A connection that could not be taken (not for want of descriptors: those are shed silently).
    if (type === EV.ERROR) return void this.#handlers.error?.(netError(a, 'accept'));
    if (type !== EV.ACCEPT) return;
    const conn = new RawConnection(this.#net, this.#handlers, a); // (made whether or not open is there to hear of it)
    this.#handlers.open?.(conn);
  }

  /** Stops accepting; open connections stay open. */
  close(): void {
    if (this.#id < 0) return;
    this.#net.close(this.#id, false, undefined);
    this.#id = -1;
  }
}

export interface RawModule {
  readonly engine: NativeNetName;
  /** Listens (default: port 0, 127.0.0.1); rejects with node's error (listen EADDRINUSE …). */
  listen(options: RawListenOptions, handlers: RawHandlers & { error?(error: Error): void }): Promise<RawServer>;
  /** Connects (host default localhost); open, or close with the error, follows. */
  connect(options: { port: number; host?: string }, handlers: RawHandlers): RawConnection;
}

/** The address to use for host: itself when it is one, else the first dns.lookup gives. */
function resolve(host: string, done: (err: Error | null, family: number, address: string) => void): void {
  const family = net.isIP(host);
  if (family) return process.nextTick(done, null, family, host);
  dns.lookup(host, (err, address, fam) => done(err, fam, address));
}

/** The lower-level interface on a native socket engine (default `auto`: the first that runs here; not libuv). */
export function rawOn(name = 'auto'): RawModule {
  const native = name === 'auto' ? (['io_uring', 'epoll', 'thread'] as const).map(n => NativeNet.shared(n)).find(e => typeof e !== 'string') : undefined;
  const engine = name === 'auto' ? native : name === 'libuv' ? 'node:net has no lower-level interface: use node:net, or a native engine' : NativeNet.shared(name as NativeNetName);
  if (engine === undefined) throw engineUnavailable('auto', 'no native socket engine runs here');
  if (typeof engine === 'string') throw engineUnavailable(name, engine);
  return {
    engine: engine.name,
    listen(options, handlers) {
      const port = validatePort(options.port ?? 0);
      return new Promise((done, fail) => resolve(options.host ?? '127.0.0.1', (err, family, address) => {
        if (err) return fail(err);
        const id = engine.listen(family, address, port, options.backlog ?? 511, false);
        if (id < 0) return fail(netUvHostPortError(id, 'listen', address, port));
        done(new RawServer(engine, id, handlers));
      }));
    },
    connect(options, handlers) {
      const port = validatePort(options.port);
      const conn = new RawConnection(engine, handlers, -1);
      resolve(options.host ?? 'localhost', (err, family, address) => {
        if (err) conn.failed(err);
        else conn.connectTo(family, address, port);
      });
      return conn;
    },
  };
}
