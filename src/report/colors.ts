// One colour per engine, the same in every chart and every report: each engine's own from its
// descriptor (Tableau 10, yellow darkened to read on white), fio's names on ioengine's colours, and
// anything else (fio's reference rows, engines of other versions) hashed into a darker set.
import { descriptor, engineAliases } from '../engines/registry.js';

const ALIASES = engineAliases();

/** auto is no engine of its own: it runs one of the others. */
const AUTO_COLOR = '#ff9da7';
const OTHER_COLORS = ['#1f3b73', '#7a1f1f', '#2f6b2f', '#8a5a00', '#5b2c6f', '#00606b', '#6b6b00', '#444444'];

export function engineColor(engine: string): string {
  const own = descriptor(ALIASES[engine] ?? engine)?.color ?? (engine === 'auto' ? AUTO_COLOR : undefined);
  if (own) return own;
  let h = 0;
  for (const c of engine) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return OTHER_COLORS[h % OTHER_COLORS.length];
}

/** `#rrggbb` at an opacity, for the lighter half of a stacked bar. */
export function withAlpha(hex: string, alpha: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}
