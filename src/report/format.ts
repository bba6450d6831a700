// Numbers as the page prints them: short, with units people read at a glance.
export function si(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 1 : 2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(n >= 1e5 ? 0 : 1)}k`;
  return n.toFixed(n >= 100 || Number.isInteger(n) ? 0 : 1);
}

export { bytes, duration } from '../fio/units.js';

/** µs with two significant decimals below 10 */
export function micros(us: number): string {
  return `${us < 10 ? us.toFixed(2) : us < 100 ? us.toFixed(1) : us.toFixed(0)} µs`;
}

/** `2026-11-24 22:41 UTC` from an ISO date; what it was given when it is not one */
export function when(iso: string | undefined): string {
  if (!iso) return 'not recorded';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
