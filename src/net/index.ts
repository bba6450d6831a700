// `ioengine/net`: node:net's TCP over ioengine's socket engines. Change the import, keep the program:
//   import { createServer, connect } from 'ioengine/net';
// netOn('io_uring') (or 'epoll', 'thread', or 'libuv': node:net itself, the reference) gives the same functions on the engine
// you choose; the default is `auto`. What is not TCP (IPC paths, BlockList, isIP) is node:net's own.
import net from 'node:net';
import { engineUnavailable, unknownEngine } from '../errors.js';
import { NativeNet } from './native.js';
import { Server, type ListenOptions, type ServerOptions } from './server.js';
import { Socket, type ConnectOptions, type SocketOptions } from './socket.js';

export { Server, Socket };
export { rawOn, RawConnection, RawServer, type RawHandlers, type RawListenOptions, type RawModule } from './raw.js';
export type { ConnectOptions, ListenOptions, ServerOptions, SocketOptions };

/** The socket engines, best first: what `auto` picks from. */
export const NET_ENGINES = ['io_uring', 'epoll', 'thread', 'libuv'] as const;
export type NetEngineName = (typeof NET_ENGINES)[number];

export interface NetEngineInfo {
  name: NetEngineName;
  available: boolean;
  /** why it is not available */
  reason?: string;
  /** how it works here, where the kernel decides (io_uring: multishot receive, or single-shot before Linux 6.0) */
  detail?: string;
}

/** Every socket engine, whether it runs here, and why not. */
export function netEngines(): NetEngineInfo[] {
  return NET_ENGINES.map(name => {
    if (name === 'libuv') return { name, available: true };
    const e = NativeNet.shared(name);
    if (typeof e === 'string') return { name, available: false, reason: e };
    const detail = e.detail;
    return detail ? { name, available: true, detail } : { name, available: true };
  });
}

export interface NetModule {
  /** The engine these functions run on. */
  readonly engine: NetEngineName;
  createServer(options?: ServerOptions | ((socket: Socket) => void), listener?: (socket: Socket) => void): Server | net.Server;
  connect(...args: unknown[]): Socket | net.Socket;
  createConnection(...args: unknown[]): Socket | net.Socket;
  Socket: new (options?: SocketOptions) => Socket | net.Socket;
  Server: new (options?: ServerOptions | ((socket: Socket) => void), listener?: (socket: Socket) => void) => Server | net.Server;
}

/** node:net's functions on the socket engine named (default `auto`: the first that runs here). */
export function netOn(name: string = 'auto'): NetModule {
  if (name === 'auto') name = netEngines().find(e => e.available)!.name;
  if (name === 'libuv') {
    return { engine: 'libuv', createServer: net.createServer, connect: net.connect, createConnection: net.createConnection, Socket: net.Socket, Server: net.Server } as unknown as NetModule;
  }
  if (name !== 'epoll' && name !== 'io_uring' && name !== 'thread') throw unknownEngine(name, NET_ENGINES);
  const shared = NativeNet.shared(name);
  if (typeof shared === 'string') throw engineUnavailable(name, shared);
  const engine: NativeNet = shared;
  const connect = (...args: unknown[]) => {
    const options = typeof args[0] === 'object' && args[0] !== null ? args[0] as SocketOptions : {};
    return (new Socket(options, engine).connect as (...a: unknown[]) => Socket)(...args);
  };
  return {
    engine: shared.name,
    createServer: (options, listener) => new Server(options, listener, engine),
    connect,
    createConnection: connect,
    Socket: class extends Socket { constructor(options?: SocketOptions) { super(options, engine); } },
    Server: class extends Server {
      constructor(options?: ServerOptions | ((socket: Socket) => void), listener?: (socket: Socket) => void) { super(options, listener, engine); }
    },
  };
}

let fallback: NetModule | undefined;
const on = (): NetModule => (fallback ??= netOn());

export const createServer = (options?: ServerOptions | ((socket: Socket) => void), listener?: (socket: Socket) => void) => on().createServer(options, listener);
export const connect = (...args: unknown[]) => on().connect(...args);
export const createConnection = connect;
export const { isIP, isIPv4, isIPv6, BlockList, SocketAddress } = net;
