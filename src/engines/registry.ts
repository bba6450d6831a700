// Which engines exist, which can run here and why not, and what `auto` picks: decided here and
// nowhere else (libuv's habit: one place, with an environment override).
import { binding, bindingError } from '../binding.js';
import { engineSetupFailed, engineUnavailable, unknownEngine } from '../errors.js';
import type { Backend, EngineOptions } from './backend.js';
import { LibuvBackend } from './libuv.js';
import { NativeBackend, POOL_DEFAULTS } from './native.js';
import { NullBackend } from './null.js';
import { SyncBackend } from './sync.js';
import { WorkersBackend } from './workers.js';

interface EngineEntry {
  name: string;
  /** undefined when the engine can run here, else why not (words a person can act on). */
  probe(): string | undefined;
  create(options: EngineOptions): Backend;
  /** What a failed set-up's errno means, by code, in words a person can act on. */
  reasons?: Record<string, string>;
}

const nativeReason = () => (binding() ? undefined : bindingError());
const positive = (value: unknown, dflt: number) => (typeof value === 'number' && value >= 1 ? Math.floor(value) : dflt);

// What a failed io_uring_setup means, in words a person can act on.
const IO_URING_REASONS: Record<string, string> = {
  ENOSYS: 'this kernel has no io_uring (it needs Linux 5.6 or later, built with CONFIG_IO_URING)',
  EPERM: 'io_uring is not permitted here: a seccomp profile (Docker\'s default blocks it) or the sysctl kernel.io_uring_disabled; run with a profile that allows io_uring_setup/enter/register, or set kernel.io_uring_disabled=0',
  EACCES: 'io_uring is restricted to a group by the sysctl kernel.io_uring_group/io_uring_disabled=1',
  ENOMEM: 'not enough locked memory for the ring and its registered buffers: raise `ulimit -l` (RLIMIT_MEMLOCK), or use fewer entries or fewer registeredBuffers',
  EMFILE: 'the open-file limit is reached: raise `ulimit -n` (RLIMIT_NOFILE) or close files',
};

/** The public io_uring options, as native/io_uring.c reads them. */
function ioUringOptions(o: EngineOptions): object {
  const sqpoll = o.sqpoll === true ? {} : o.sqpoll || undefined;
  // Registered files are on by default: they spare the kernel a file lookup per operation.
  const files = o.registerFiles === false ? 0 : o.registerFiles === undefined || o.registerFiles === true ? 1024 : o.registerFiles;
  return {
    entries: positive(o.entries, 256),
    sqpollIdle: sqpoll ? positive(sqpoll.idle, 1000) : 0,
    fileSlots: positive(files, 0),
    bufferCount: o.registeredBuffers ? positive(o.registeredBuffers.count, 0) : 0,
    bufferSize: o.registeredBuffers ? positive(o.registeredBuffers.size, 0) : 0,
  };
}

const LINUX_AIO_REASONS: Record<string, string> = {
  ENOSYS: 'this kernel was built without Linux AIO (CONFIG_AIO)',
  EPERM: 'Linux AIO is not permitted here (a seccomp profile refuses io_setup)',
  EAGAIN: 'the system-wide limit of AIO events is reached: raise the sysctl fs.aio-max-nr',
  EMFILE: 'the open-file limit is reached: raise `ulimit -n` (RLIMIT_NOFILE) or close files',
};

const THREAD_REASONS: Record<string, string> = {
  EAGAIN: 'no more threads can be started: raise `ulimit -u` (RLIMIT_NPROC) or the sysctl kernel.threads-max, or use fewer engines',
  EMFILE: 'the open-file limit is reached: raise `ulimit -n` (RLIMIT_NOFILE) or close files',
};

const probes = new Map<string, string | undefined>();

/** Can the native engine be set up here: tried once, the answer kept. */
function probeNative(kind: string, reasons: Record<string, string>): string | undefined {
  if (!probes.has(kind)) {
    let reason = nativeReason();
    if (reason === undefined) {
      try {
        new NativeBackend(kind, { entries: 2 }, 1).destroy();
      } catch (err) {
        const code = (err as { code?: string }).code ?? '';
        reason = reasons[code] ?? (err as Error).message;
      }
    }
    probes.set(kind, reason);
  }
  return probes.get(kind);
}

/** Every engine, in the stable order engines() reports them. */
export const ENGINES: readonly EngineEntry[] = [
  { name: 'sync', probe: () => undefined, create: () => new SyncBackend() },
  {
    name: 'thread',
    probe: nativeReason,
    create: o => new NativeBackend('thread', o, positive(o.threads, 64)),
    reasons: THREAD_REASONS,
  },
  {
    name: 'pool',
    probe: nativeReason,
    create: o => new NativeBackend('pool', o, positive(o.threads, POOL_DEFAULTS.threads) + positive(o.queueDepth, POOL_DEFAULTS.queueDepth)),
    reasons: THREAD_REASONS,
  },
  { name: 'workers', probe: () => undefined, create: o => new WorkersBackend({ threads: positive(o.threads, 4) }) },
  { name: 'libuv', probe: () => undefined, create: () => new LibuvBackend() },
  {
    name: 'posix-aio',
    probe: () => probeNative('posix-aio', THREAD_REASONS),
    create: o => new NativeBackend('posix-aio', {}, positive(o.queueDepth, 256)),
    reasons: THREAD_REASONS,
  },
  {
    name: 'linux-aio',
    probe: () => probeNative('linux-aio', LINUX_AIO_REASONS),
    create: o => new NativeBackend('linux-aio', { entries: positive(o.entries, 256) }, positive(o.entries, 256)),
    reasons: LINUX_AIO_REASONS,
  },
  {
    name: 'io_uring',
    probe: () => probeNative('io_uring', IO_URING_REASONS),
    create: o => new NativeBackend('io_uring', ioUringOptions(o), 2 * positive(o.entries, 256)),
    reasons: IO_URING_REASONS,
  },
  { name: 'null', probe: () => undefined, create: () => new NullBackend() },
];

const ENGINE_NAMES = ENGINES.map(e => e.name);

/** Best first. `null` does no I/O and is never chosen. */
const AUTO_PREFERENCE = ['io_uring', 'libuv', 'pool', 'workers', 'sync'];

export interface EngineInfo {
  name: string;
  available: boolean;
  reason?: string;
}

export function engineInfo(): EngineInfo[] {
  return ENGINES.map(e => {
    const reason = e.probe();
    return reason === undefined ? { name: e.name, available: true } : { name: e.name, available: false, reason };
  });
}

/** What `auto` may choose, best first: IOENGINE_ENGINES=a,b restricts it. */
function autoCandidates(env = process.env): string[] {
  const allowed = env.IOENGINE_ENGINES?.split(',').map(s => s.trim()).filter(Boolean);
  return AUTO_PREFERENCE.filter(name => !allowed || allowed.includes(name));
}

function entry(name: string): EngineEntry {
  const found = ENGINES.find(e => e.name === name);
  if (!found) throw unknownEngine(name, ENGINE_NAMES);
  return found;
}

/** The engine's backend; a failed set-up is a coded error that says what to do about it. */
function create(e: EngineEntry, options: EngineOptions): Backend {
  const reason = e.probe();
  if (reason !== undefined) throw engineUnavailable(e.name, reason);
  try {
    return e.create(options);
  } catch (err) {
    const { code, errno, syscall } = err as { code?: string; errno?: number; syscall?: string };
    const words = code && e.reasons?.[code];
    if (errno === undefined || !syscall || !words) throw err;
    throw engineSetupFailed(e.name, errno, syscall, words);
  }
}

/**
 * The backend for name; throws with the reason when it cannot run. `auto` takes the first of its
 * candidates that sets up here: one that probes well can still fail for this process (a low
 * open-file limit, locked memory), and then the next is tried.
 */
export function createBackend(name: string, options: EngineOptions): { name: string; backend: Backend } {
  if (name !== 'auto') return { name, backend: create(entry(name), options) };
  const failures: string[] = [];
  for (const candidate of autoCandidates()) {
    try {
      return { name: candidate, backend: create(entry(candidate), options) };
    } catch (err) {
      failures.push(`${candidate}: ${(err as Error).message}`);
    }
  }
  const env = process.env.IOENGINE_ENGINES;
  throw engineUnavailable('auto', `no engine it may choose can run here${env === undefined ? '' : ` (IOENGINE_ENGINES=${env})`}; ${failures.join('; ') || 'IOENGINE_ENGINES names none of ' + AUTO_PREFERENCE.join(', ')}`);
}
