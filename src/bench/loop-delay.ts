// How late the event loop runs while a job works: a timer of our own every LOOP_TICK_MS, each tick
// recording how much later than asked it came, in ns. (perf_hooks' monitorEventLoopDelay records
// nothing while the loop never runs, the worst case.)
export const LOOP_TICK_MS = 1;

/** Starts the ticks; clearInterval() on the result stops them. */
export function watchLoop(record: (lateNs: number) => void): NodeJS.Timeout {
  let lastTick = performance.now();
  return setInterval(() => {
    const now = performance.now();
    record(Math.max(0, Math.round((now - lastTick - LOOP_TICK_MS) * 1e6)));
    lastTick = now;
  }, LOOP_TICK_MS);
}
