// fio's units: sizes as fio reads and writes them (4k, 1m: powers of 1024), and sizes and times
// as people read them, for the bench's text and the report alike.
const SIZE_UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 };

/** fio's sizes: 4096, 4k, 4K, 4kb, 4KiB, 1m, 2g (1024-based, as fio's default kb_base=1024). */
export function parseSize(value: string): number {
  const m = /^(\d+)\s*([kmgtp]?)(i?b)?$/i.exec(value.trim());
  if (!m || (m[3] && !m[2] && m[3].toLowerCase() !== 'b')) throw new Error('expected a size such as 4096, 4k, 1m, 2g');
  const n = Number(m[1]) * SIZE_UNITS[m[2].toLowerCase()];
  if (!Number.isSafeInteger(n)) throw new Error('is too large');
  return n;
}

/** A size as fio users write it: 4k, 64k, 1m (and plain bytes when it is no whole unit). */
export function sizeText(n: number): string {
  for (const [unit, size] of [['g', 2 ** 30], ['m', 2 ** 20], ['k', 2 ** 10]] as const) if (n >= size && n % size === 0) return `${n / size}${unit}`;
  return String(n);
}

/** bytes, 1024-based: `4 KiB`, `1.5 GiB` (sep '' for `4KiB`) */
export function bytes(n: number, sep = ' '): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n >= 100 || Number.isInteger(n) ? n.toFixed(0) : n.toFixed(1)}${sep}${units[i]}`;
}

/** ns as ns, µs, ms or s: `12.5 µs`; { sep: '', micro: 'us' } gives fio's `12.5us` */
export function duration(ns: number, { sep = ' ', micro = 'µs' } = {}): string {
  if (ns < 1e3) return `${ns.toFixed(0)}${sep}ns`;
  if (ns < 1e6) return `${(ns / 1e3).toFixed(ns < 1e4 ? 2 : ns < 1e5 ? 1 : 0)}${sep}${micro}`;
  if (ns < 1e9) return `${(ns / 1e6).toFixed(ns < 1e7 ? 2 : 1)}${sep}ms`;
  return `${(ns / 1e9).toFixed(2)}${sep}s`;
}
