// How a promise settled relative to the event loop: work done inside the submit call settles
// within a few microtasks, work a thread or the kernel does only after the loop turns.
/**
 * How many microtasks ran before promise settled, counted up to 1,000: work done inside the
 * submit call settles within a few; work the kernel or a thread does settles only after the
 * loop turns, which waits for the whole chain.
 */
export async function microtasksBefore(start: () => Promise<unknown>): Promise<number> {
  return (await settling(start))[0];
}

/** A new turn of the loop: inline work has its whole budget (a turn that spent it waits for the next). */
export const freshTurn = () => new Promise(resolve => setImmediate(resolve));

/** microtasksBefore, and what the promise settled with. */
export async function settling<T>(start: () => Promise<T>): Promise<[number, T]> {
  await freshTurn();
  let ticks = 0;
  const tick = () => { if (ticks < 1000) { ticks++; queueMicrotask(tick); } };
  queueMicrotask(tick);
  const value = await start();
  const seen = ticks;
  ticks = 1000;
  return [seen, value];
}
