// Server: node:net's Server over a native socket engine. listen() as node's (port, host, backlog,
// or an options object; no host: '::' taking IPv4 too, or 0.0.0.0 without IPv6), 'listening',
// 'connection', 'error', close() that stops accepting and emits 'close' once every connection
// it accepted has closed.
import dns from 'node:dns';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { netError, netUvHostPortError, nodeError } from '../errors.js';
import { EV, type NativeNet, type NetTarget } from './native.js';
import { Socket, validatePort, type SocketOptions } from './socket.js';

const EAFNOSUPPORT = -97;

export interface ServerOptions extends SocketOptions {
  pauseOnConnect?: boolean;
}

export interface ListenOptions {
  port?: number | string;
  host?: string;
  backlog?: number;
  ipv6Only?: boolean;
}

export class Server extends EventEmitter implements NetTarget {
  #net: NativeNet;
  #options: ServerOptions;
  #id = -1;
  #connections = new Set<Socket>();
  #closing = false;
  #refed = true;
  #address: { address: string; family: string; port: number } | null = null;
  maxConnections: number | undefined;

  /** @internal engine: the socket engine the server and its connections run on. */
  constructor(options: ServerOptions | ((socket: Socket) => void) | undefined, listener: ((socket: Socket) => void) | undefined, engine: NativeNet) {
    super();
    if (typeof options === 'function') [listener, options] = [options, {}];
    this.#options = options ?? {};
    this.#net = engine;
    if (listener) this.on('connection', listener);
  }

  listen(port?: number | string, host?: string, backlog?: number, cb?: () => void): this;
  listen(options: ListenOptions, cb?: () => void): this;
  listen(cb?: () => void): this;
  listen(...args: unknown[]): this {
    const cb = typeof args[args.length - 1] === 'function' ? args.pop() as () => void : undefined;
    const o: ListenOptions = typeof args[0] === 'object' && args[0] !== null ? args[0] as ListenOptions
      : { port: args[0] as number | undefined, host: typeof args[1] === 'string' ? args[1] : undefined, backlog: typeof args[1] === 'number' ? args[1] : args[2] as number | undefined };
    const port = validatePort(o.port ?? 0);
    if (this.#id >= 0) {
      const err = nodeError('ERR_SERVER_ALREADY_LISTEN', 'Listen method has been called more than once without closing.');
      throw err;
    }
    if (cb) this.once('listening', cb);
    this.#closing = false;
    const backlog = o.backlog ?? 511;
    if (o.host === undefined) {
      // As node: '::' with IPv4 on it too, or 0.0.0.0 where there is no IPv6.
      process.nextTick(() => {
        if (!this.#bind(6, '::', port, backlog, o.ipv6Only ?? false, true)) this.#bind(4, '0.0.0.0', port, backlog, false, false);
      });
    } else if (net.isIP(o.host)) {
      process.nextTick(() => this.#bind(net.isIP(o.host!), o.host!, port, backlog, o.ipv6Only ?? false, false));
    } else {
      dns.lookup(o.host, (err, address, family) => {
        if (err) return void this.emit('error', err);
        this.#bind(family, address, port, backlog, o.ipv6Only ?? false, false);
      });
    }
    return this;
  }

  /** false where IPv6 is missing and another try may follow. */
  #bind(family: number, address: string, port: number, backlog: number, ipv6Only: boolean, tryingV6: boolean): boolean {
    const id = this.#net.listen(family, address, port, backlog, ipv6Only);
    if (id === EAFNOSUPPORT && tryingV6) return false;
    if (id < 0) {
      this.emit('error', netUvHostPortError(id, 'listen', address, port));
      return true;
    }
    this.#id = id;
    this.#net.own(id, this);
    if (!this.#refed) this.#net.ref(id, false);
    this.#address = this.#net.address(id, false) ?? null;
    this.emit('listening');
    return true;
  }

  /** @internal */
  event(type: number, a: number): void {
    // A connection that could not be taken (accept EMFILE): node's server says so and goes on.
    if (type === EV.ERROR) return void this.emit('error', netError(a, 'accept'));
    if (type !== EV.ACCEPT) return;
    const socket = new Socket(this.#options, this.#net, { id: a, onClose: s => this.#gone(s), paused: this.#options.pauseOnConnect });
    if (this.maxConnections !== undefined && this.#connections.size >= this.maxConnections) {
      socket.destroy();
      this.emit('drop', { localAddress: socket.localAddress, localPort: socket.localPort, remoteAddress: socket.remoteAddress, remotePort: socket.remotePort });
      return;
    }
    socket.server = this;
    this.#connections.add(socket);
    if (this.#options.pauseOnConnect) socket.pause();
    this.emit('connection', socket);
  }

  #gone(socket: Socket): void {
    this.#connections.delete(socket);
    this.#maybeClosed();
  }

  #maybeClosed(): void {
    if (this.#closing && this.#id < 0 && this.#connections.size === 0) {
      this.#closing = false;
      process.nextTick(() => this.emit('close'));
    }
  }

  /** Stops accepting; 'close' once every connection has closed. cb gets ERR_SERVER_NOT_RUNNING if not listening. */
  close(cb?: (err?: Error) => void): this {
    if (this.#id < 0) {
      if (cb) {
        const err = nodeError('ERR_SERVER_NOT_RUNNING', 'Server is not running.');
        process.nextTick(cb, err);
      }
      return this;
    }
    if (cb) this.once('close', cb);
    this.#net.close(this.#id, false, undefined);
    this.#id = -1;
    this.#closing = true;
    this.#maybeClosed();
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#id < 0) return;
    await new Promise<void>(resolve => this.close(() => resolve()));
  }

  address(): { address: string; family: string; port: number } | null { return this.#id >= 0 ? this.#address : null; }
  get listening(): boolean { return this.#id >= 0; }

  getConnections(cb: (err: Error | null, count: number) => void): this {
    process.nextTick(cb, null, this.#connections.size);
    return this;
  }

  ref(): this {
    this.#refed = true;
    if (this.#id >= 0) this.#net.ref(this.#id, true);
    return this;
  }

  unref(): this {
    this.#refed = false;
    if (this.#id >= 0) this.#net.ref(this.#id, false);
    return this;
  }
}
