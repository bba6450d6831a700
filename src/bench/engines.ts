// Which engines a job runs on: ioengine's names (fio's were mapped when the option was read),
// `all` as every engine that can run here, then `auto` (what it chooses, measured beside them),
// with the baseline (null: no I/O, the bench's own overhead) last.
import { descriptor } from '../engines/registry.js';
import { BenchUsageError } from './options.js';

export type EngineList = ReadonlyArray<{ name: string; available: boolean; reason?: string; auto?: unknown }>;

/** Does the engine take io_uring's options (fixedbufs, registerfiles): io_uring, and auto where it runs on io_uring. */
export function onRing(engine: string, known: EngineList): boolean {
  return engine === 'io_uring' || (engine === 'auto' && known.some(e => e.name === 'io_uring' && e.auto !== undefined));
}

export function resolveEngines(wanted: readonly string[], known: EngineList, where: string): string[] {
  if (wanted.length === 1 && wanted[0] === 'all') {
    const names = known.filter(e => e.available).map(e => e.name);
    const baseline = (n: string) => descriptor(n)?.baseline === true;
    const auto = names.some(n => descriptor(n)?.autoRank !== undefined) ? ['auto'] : [];
    const ordered = [...names.filter(n => !baseline(n)), ...auto, ...names.filter(baseline)];
    if (ordered.length === 0) throw new BenchUsageError(`${where}: no engine can run here`);
    return ordered;
  }
  return wanted.map(name => {
    if (name === 'auto') return name;
    const e = known.find(k => k.name === name);
    if (!e) throw new BenchUsageError(`${where}: engine '${name}' is not in this version of ioengine (known: ${known.map(k => k.name).join(', ')})`);
    if (!e.available) throw new BenchUsageError(`${where}: engine '${name}' cannot run here: ${e.reason}`);
    return name;
  });
}

/** The engines that were left out of `all`, with why: printed so a missing row is explained. */
export function unavailable(known: EngineList): string[] {
  return known.filter(e => !e.available).map(e => `${e.name} (${e.reason})`);
}
