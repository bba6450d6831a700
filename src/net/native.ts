// The JS half of a native socket engine (native/net_epoll.c): one instance per thread, made on
// first use. It hands each socket's events, which the addon delivers in one call per wake-up, to
// the Socket or Server that owns the socket's number.
import { binding } from '../binding.js';

/** Event types, as native/net_epoll.c numbers them. */
export const EV = { ACCEPT: 1, DATA: 2, EOF: 3, ERROR: 4, WRITE: 5, CONNECT: 6 } as const;
/** Socket options, as native/net_epoll.c numbers them. */
export const OPT = { NODELAY: 1, KEEPALIVE: 2 } as const;
/** netWrite's answer when the kernel did not take everything: a WRITE event follows. */
export const QUEUED = -1e9;

/** What a socket's owner does with its events: (type, a, b) and, for DATA, the bytes. */
export interface NetTarget {
  event(type: number, a: number, b: number, data: Buffer | undefined): void;
}

interface NetBinding {
  netCreate(onEvents: (count: number, buffers: Buffer[]) => void, events: Float64Array): object | number;
  netListen(h: object, family: number, address: string, port: number, backlog: number, ipv6Only: boolean): number;
  netConnect(h: object, family: number, address: string, port: number): number;
  netRead(h: object, id: number, on: boolean): number;
  netWrite(h: object, id: number, req: number, buffers: Uint8Array[]): number;
  netShutdown(h: object, id: number): number;
  netClose(h: object, id: number, reset: boolean): number;
  netSetOption(h: object, id: number, option: number, on: boolean, value: number): number;
  netRef(h: object, id: number, ref: boolean): number;
  netAddress(h: object, id: number, peer: boolean): [number, string, number] | number;
  netDestroy(h: object): void;
}

const EVENTS = 4096;

export class NativeNet {
  readonly name = 'epoll';
  readonly #b: NetBinding;
  readonly #h: object;
  readonly #events = new Float64Array(EVENTS * 4);
  readonly #targets = new Map<number, NetTarget>();

  private constructor(b: NetBinding) {
    this.#b = b;
    const h = b.netCreate((count, buffers) => this.#deliver(count, buffers), this.#events);
    if (typeof h === 'number') throw new Error(`cannot set up the epoll socket engine: errno ${h}`);
    this.#h = h;
  }

  static #shared: NativeNet | undefined;

  /** The thread's epoll socket engine, or why there is none. */
  static shared(): NativeNet | string {
    if (NativeNet.#shared) return NativeNet.#shared;
    const b = binding() as unknown as Partial<NetBinding> | undefined;
    if (!b?.netCreate) return b ? 'this build of the addon has no epoll socket engine (not Linux)' : 'the native addon is not loaded';
    NativeNet.#shared = new NativeNet(b as NetBinding);
    return NativeNet.#shared;
  }

  #deliver(count: number, buffers: Buffer[]): void {
    const ev = this.#events;
    let next = 0;
    for (let i = 0; i < count; i++) {
      const type = ev[4 * i], id = ev[4 * i + 1], a = ev[4 * i + 2], b = ev[4 * i + 3];
      const data = type === EV.DATA ? buffers[next++] : undefined;
      this.#targets.get(id)?.event(type, a, b, data);
    }
  }

  /** The socket's events go to target from now on. */
  own(id: number, target: NetTarget): void { this.#targets.set(id, target); }

  listen(family: number, address: string, port: number, backlog: number, ipv6Only: boolean): number {
    return this.#b.netListen(this.#h, family, address, port, backlog, ipv6Only);
  }
  connect(family: number, address: string, port: number): number { return this.#b.netConnect(this.#h, family, address, port); }
  read(id: number, on: boolean): void { this.#b.netRead(this.#h, id, on); }
  write(id: number, req: number, buffers: Uint8Array[]): number { return this.#b.netWrite(this.#h, id, req, buffers); }
  shutdown(id: number): number { return this.#b.netShutdown(this.#h, id); }
  setOption(id: number, option: number, on: boolean, value = 0): number { return this.#b.netSetOption(this.#h, id, option, on, value); }
  ref(id: number, ref: boolean): void { this.#b.netRef(this.#h, id, ref); }
  address(id: number, peer: boolean): { address: string; family: string; port: number } | undefined {
    const a = this.#b.netAddress(this.#h, id, peer);
    return typeof a === 'number' ? undefined : { address: a[1], family: a[0] === 6 ? 'IPv6' : 'IPv4', port: a[2] };
  }

  /** Closes the socket now; its number may be given to a new socket at once. */
  close(id: number, reset = false): void {
    this.#targets.delete(id);
    this.#b.netClose(this.#h, id, reset);
  }
}
