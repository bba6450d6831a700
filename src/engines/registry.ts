// Which engines exist, which can run here and why not, what `auto` picks and what runs the
// operations an engine cannot: decided here and nowhere else (libuv's habit: one place, with an
// environment override). Each engine's facts are in its descriptor.
import { engineSetupFailed, engineUnavailable, unknownEngine } from '../errors.js';
import { autoBackend, autoChoices, type AutoChoice } from './auto.js';
import type { Backend, EngineOptions } from './backend.js';
import type { EngineDescriptor } from './descriptor.js';
import { ioUring } from './io-uring.js';
import { libuv } from './libuv.js';
import { linuxAio } from './linux-aio.js';
import { NativeBackend } from './native.js';
import { nullEngine } from './null.js';
import { pool } from './pool.js';
import { posixAio } from './posix-aio.js';
import { sync } from './sync.js';
import { thread } from './thread.js';
import { workers } from './workers.js';

/** Every engine, in the stable order engines() reports them. */
export const ENGINES: readonly EngineDescriptor[] = [sync, thread, pool, workers, libuv, posixAio, linuxAio, ioUring, nullEngine];

const ENGINE_NAMES = ENGINES.map(e => e.name);

/** What runs, one by one, the operations an engine cannot do itself. */
const FALLBACK = pool;

export interface EngineInfo {
  name: string;
  available: boolean;
  reason?: string;
  /** On the engine `auto` runs on here: what auto does with each kind of operation, and why. */
  auto?: AutoChoice[];
}

export function engineInfo(): EngineInfo[] {
  const auto = describeAuto();
  return ENGINES.map(e => {
    const reason = e.probe();
    const info: EngineInfo = reason === undefined ? { name: e.name, available: true } : { name: e.name, available: false, reason };
    if (auto?.engine === e.name) info.auto = auto.choices;
    return info;
  });
}

/** The engine `auto` would run on here (the first candidate that probes well) and its choices. */
export function describeAuto(): { engine: string; choices: AutoChoice[] } | undefined {
  const candidate = autoCandidates().find(e => e.probe() === undefined);
  if (!candidate) return undefined;
  return { engine: candidate.name, choices: autoChoices(candidate.name, 'inline' in (candidate.defaults ?? {}), candidate.kernelQueue === true) };
}

/** An engine's descriptor by name; undefined for names of no engine (`auto` included). */
export function descriptor(name: string): EngineDescriptor | undefined {
  return ENGINES.find(e => e.name === name);
}

/** Every option some engine reads (each engine's descriptor lists its own, with defaults). */
export function engineOptionNames(): string[] {
  return [...new Set(ENGINES.flatMap(e => Object.keys(e.defaults ?? {})))];
}

/** ioengine's names and fio's (psync, libaio, …), each to the engine that runs for it. */
export function engineAliases(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of ENGINES) for (const alias of [e.name, ...(e.fioNames ?? [])]) out[alias] = e.name;
  return out;
}

/** What `auto` may choose, best first: IOENGINE_ENGINES=a,b restricts it. */
function autoCandidates(env = process.env): EngineDescriptor[] {
  const allowed = env.IOENGINE_ENGINES?.split(',').map(s => s.trim()).filter(Boolean);
  return ENGINES.filter(e => e.autoRank !== undefined && (!allowed || allowed.includes(e.name)))
    .sort((a, b) => a.autoRank! - b.autoRank!);
}

function entry(name: string): EngineDescriptor {
  const found = descriptor(name);
  if (!found) throw unknownEngine(name, ENGINE_NAMES);
  return found;
}

/** The user's options over the engine's defaults. */
function withDefaults(e: EngineDescriptor, options: EngineOptions): EngineOptions {
  const out: EngineOptions = { ...e.defaults };
  for (const [key, value] of Object.entries(options)) if (value !== undefined) out[key] = value;
  return out;
}

/** The engine's backend; a failed set-up is a coded error that says what to do about it. */
function create(e: EngineDescriptor, options: EngineOptions): Backend {
  const reason = e.probe();
  if (reason !== undefined) throw engineUnavailable(e.name, reason);
  try {
    // The fallback runs what this engine hands it, one by one: nothing of it at once.
    return e.create(withDefaults(e, options), () => create(FALLBACK, { ...options, inline: false }));
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
export function createBackend(name: string, options: EngineOptions): { name: string; backend: Backend; choices?: AutoChoice[] } {
  if (name !== 'auto') return { name, backend: create(entry(name), options) };
  const failures: string[] = [];
  const candidates = autoCandidates();
  for (const candidate of candidates) {
    try {
      const own = { ...options, inline: options.inline ?? true };
      const base = create(candidate, own);
      // A kernel queue's own pool takes the large reads (the pool engine is one already).
      const pool = candidate.kernelQueue && base instanceof NativeBackend ? () => base.pool()! : undefined;
      const inline = own.inline && 'inline' in (candidate.defaults ?? {});
      return { name: candidate.name, backend: autoBackend(base, pool), choices: autoChoices(candidate.name, inline, pool !== undefined) };
    } catch (err) {
      if (typeof (err as { code?: unknown }).code !== 'string') throw err; // a bug, not this machine
      failures.push(`${candidate.name}: ${(err as Error).message}`);
    }
  }
  const env = process.env.IOENGINE_ENGINES;
  throw engineUnavailable('auto', candidates.length === 0
    ? `IOENGINE_ENGINES=${env} names none of the engines it may choose`
    : `no engine it may choose can run here${env === undefined ? '' : ` (IOENGINE_ENGINES=${env})`}; ${failures.join('; ')}`);
}
