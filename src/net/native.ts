// The JS half of a native socket engine (native/net.c, with net_epoll.c or net_uring.c): one
// instance per engine and thread, made on first use. It hands each socket's events, which the
// addon delivers in one call per wake-up, to the Socket or Server that owns the socket's number,
// and keeps the buffers of a closed socket's send until the kernel has let go of them.
import util from 'node:util';
import { markAsUntransferable } from 'node:worker_threads';
import { binding } from '../binding.js';
import { invalidState } from '../errors.js';

/** Event types, as native/net.h numbers them. */
export const EV = { ACCEPT: 1, DATA: 2, EOF: 3, ERROR: 4, WRITE: 5, CONNECT: 6, RELEASED: 7, POOLED: 8, ARENA: 9 } as const;
/** Socket options, as native/net.h numbers them. */
export const OPT = { NODELAY: 1, KEEPALIVE: 2, ZEROCOPY: 3, POOLED: 4 } as const;
/** netWrite's answer when the kernel did not take everything: a WRITE event follows. */
export const QUEUED = -1e9;
/**
 * netWrite's answer for a write the engine hands the kernel as this wake-up ends, behind nothing
 * that waits for the peer (io_uring, inside a handler): a WRITE event follows, and the writer may
 * count it as taken.
 */
export const BATCHED = -2e9;
/**
 * netWrite's answer for such a write, small, that the engine copied when asked to: its buffers
 * are free at once, as those of a write the socket took at once. A WRITE event follows.
 */
export const TAKEN = -3e9;

/** What a socket's owner does with its events: (type, a, b) and, for DATA, the bytes. */
export interface NetTarget {
  event(type: number, a: number, b: number, data: Buffer | undefined): void;
}

interface NetBinding {
  netCreate(kind: string, onEvents: (count: number, buffers: Buffer[]) => void, events: Float64Array): object | number;
  netListen(h: object, family: number, address: string, port: number, backlog: number, ipv6Only: boolean): number;
  netConnect(h: object, family: number, address: string, port: number): number;
  netRead(h: object, id: number, on: boolean): number;
  /** buffers: one, or a list of them. */
  netWrite(h: object, id: number, req: number, buffers: Uint8Array | Uint8Array[], copy: boolean): number;
  netShutdown(h: object, id: number): number;
  /** 1 while the kernel still holds requests of the socket (a RELEASED event follows). */
  netClose(h: object, id: number, reset: boolean): number;
  netSetOption(h: object, id: number, option: number, on: boolean, value: number): number;
  netRef(h: object, id: number, ref: boolean): number;
  netAddress(h: object, id: number, peer: boolean): [number, string, number] | number;
  netDestroy(h: object): void;
  netDescribe(h: object): string | undefined;
  /** What JS asked for goes to the kernel now: writes made in a handler wait for the end of its wake-up. */
  netFlush(h: object): void;
  netZeroCopy(h: object): boolean;
}

const EVENTS = 4096;

/** The native socket engines, by the name netCreate takes. */
export type NativeNetName = 'epoll' | 'io_uring' | 'thread';

export class NativeNet {
  readonly name: NativeNetName;
  readonly #b: NetBinding;
  readonly #h: object;
  #events = new Float64Array(0);
  readonly #targets = new Map<number, NetTarget>();
  /** Buffers of closed sockets that the kernel may still read, until their RELEASED event. */
  readonly #held = new Map<number, unknown>();
  /** The Buffer that pooled sockets' small reads are copied into (OPT.POOLED). */
  #arena: Buffer | undefined;

  private constructor(b: NetBinding, name: NativeNetName, h: object) {
    this.#b = b;
    this.name = name;
    this.#h = h;
  }

  static readonly #shared = new Map<NativeNetName, NativeNet | string>();

  /** The thread's engine of this name, or why there is none here. */
  static shared(name: NativeNetName): NativeNet | string {
    let e = NativeNet.#shared.get(name);
    if (e !== undefined) return e;
    const b = binding() as unknown as Partial<NetBinding> | undefined;
    if (!b?.netCreate) {
      e = b ? 'this build of the addon has no socket engines (not Linux)' : 'the native addon is not loaded';
    } else {
      let self: NativeNet | undefined;
      const events = new Float64Array(EVENTS * 4);
      const h = b.netCreate(name, (count, buffers) => self!.#deliver(count, buffers), events);
      if (typeof h === 'number') {
        e = `cannot set up the ${name} socket engine: ${util.getSystemErrorName(h)} (${util.getSystemErrorMap().get(h)?.[1] ?? h})`;
      } else {
        self = new NativeNet(b as NetBinding, name, h);
        self.#events = events;
        // process.exit() from a handler ends the wake-up before the engine hands over its writes.
        process.on('exit', () => (b as NetBinding).netFlush(h));
        e = self;
      }
    }
    NativeNet.#shared.set(name, e);
    return e;
  }

  #deliver(count: number, buffers: Buffer[]): void {
    const ev = this.#events;
    let next = 0;
    let thrown: { error: unknown } | undefined;
    for (let i = 0; i < count; i++) {
      let type = ev[4 * i], b = ev[4 * i + 3];
      const id = ev[4 * i + 1], a = ev[4 * i + 2];
      let data: Buffer | undefined;
      let lost = false;
      if (type === EV.DATA) {
        data = buffers[next++];
      } else if (type === EV.POOLED) {
        // A pooled socket's read: a view of the arena, which the engine never writes again.
        // Unless a handler earlier in this delivery detached it (node 20's byte streams do, for
        // all markAsUntransferable says): those bytes are gone, which the program is told.
        lost = this.#arena!.buffer.byteLength === 0;
        if (!lost) data = Buffer.from(this.#arena!.buffer, this.#arena!.byteOffset + b, a);
        type = EV.DATA;
        b = 0;
      } else if (type === EV.ARENA) {
        // As node's Buffer pool: transferring one view's memory would take every other view's with it.
        markAsUntransferable((this.#arena = buffers[next++]).buffer);
        continue;
      } else if (type === EV.RELEASED) {
        this.#held.delete(id);
        continue;
      }
      const target = this.#targets.get(id);
      // A connection accepted for a listener closed earlier in this delivery: nobody takes it.
      if (!target && type === EV.ACCEPT) this.close(a, false, undefined);
      try {
        if (lost) throw invalidState(`${a} bytes received are lost: a handler detached the memory of a received Buffer (its .buffer was transferred), which other reads share`);
        target?.event(type, a, b, data);
      } catch (error) {
        thrown ??= { error }; // the user's handler threw: the other sockets' events still go out
      }
    }
    if (thrown) throw thrown.error; // then it is the program's uncaught exception, as node's
  }

  /** How the engine works here, where the kernel decides (io_uring: multishot receive or not). */
  get detail(): string | undefined { return this.#b.netDescribe(this.#h); }

  /** Can this engine send without copying here (setZeroCopy). */
  get zeroCopy(): boolean { return this.#b.netZeroCopy(this.#h); }

  /** The socket's events go to target from now on. */
  own(id: number, target: NetTarget): void { this.#targets.set(id, target); }

  listen(family: number, address: string, port: number, backlog: number, ipv6Only: boolean): number {
    return this.#b.netListen(this.#h, family, address, port, backlog, ipv6Only);
  }
  connect(family: number, address: string, port: number): number { return this.#b.netConnect(this.#h, family, address, port); }
  /** 0, or -errno when reading cannot start. */
  read(id: number, on: boolean): number { return this.#b.netRead(this.#h, id, on); }
  /** copy: a small write the engine would send as this wake-up ends is copied (answered TAKEN). */
  write(id: number, req: number, buffers: Uint8Array | Uint8Array[], copy = false): number { return this.#b.netWrite(this.#h, id, req, buffers, copy); }
  shutdown(id: number): number { return this.#b.netShutdown(this.#h, id); }
  setOption(id: number, option: number, on: boolean, value = 0): number { return this.#b.netSetOption(this.#h, id, option, on, value); }
  ref(id: number, ref: boolean): void { this.#b.netRef(this.#h, id, ref); }
  address(id: number, peer: boolean): { address: string; family: string; port: number } | undefined {
    const a = this.#b.netAddress(this.#h, id, peer);
    return typeof a === 'number' ? undefined : { address: a[1], family: a[0] === 6 ? 'IPv6' : 'IPv4', port: a[2] };
  }

  /**
   * Closes the socket now; no more of its events come. buffers (of writes not done) stay
   * referenced while the kernel may still read them.
   */
  close(id: number, reset: boolean, buffers: unknown): void {
    this.#targets.delete(id);
    if (this.#b.netClose(this.#h, id, reset) === 1) this.#held.set(id, buffers);
  }
}
