// What the bench writes and the report reads of fio's JSON: its percentiles, and how to read it.
/** fio's percentiles, p1 to p99.99: the keys of clat_ns.percentile (and the report's latency axis). */
export const PERCENTILES = [1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99, 99.5, 99.9, 99.95, 99.99];

/** fio's JSON output as a value: fio may print notes before it, so past the first '{' if need be (as tools that read it do). */
export function parseFioJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const brace = text.indexOf('{');
    if (brace <= 0) throw err;
    try {
      return JSON.parse(text.slice(brace));
    } catch {
      throw err;
    }
  }
}
