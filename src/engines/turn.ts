// How long work that completes at once may go on in one turn of the event loop before the loop
// gets to run its timers and sockets (native/engine.h's TURN_BUDGET_NS, for the kernel engines'
// completions).
import { performance } from 'node:perf_hooks'; // not the global: a getter in node 20

export const TURN_BUDGET_MS = 0.5;
/** Operations between looks at the clock (a look costs ~0.15 µs; an operation ~2). */
export const CLOCK_EVERY = 64;

/**
 * One turn's budget. A turn begins with the first work completed at once in it, and ends when
 * the loop comes round (setImmediate); it is spent once it has lasted TURN_BUDGET_MS.
 */
export class TurnBudget {
  #start = -1;
  #over = false;
  #sinceClock = 0;

  /** Work completed at once: this turn has begun, if it had not. */
  begin(): void {
    if (this.#start >= 0) return;
    this.#start = performance.now();
    setImmediate(this.#newTurn);
  }

  /** n more operations (or work worth n) in this turn. */
  count(n: number): void {
    this.#sinceClock += n;
  }

  /** Has this turn begun and used its budget (the clock read every CLOCK_EVERY operations). */
  spent(): boolean {
    if (this.#start < 0) return false;
    if (this.#over || this.#sinceClock < CLOCK_EVERY) return this.#over;
    this.#sinceClock = 0;
    return (this.#over = performance.now() - this.#start >= TURN_BUDGET_MS);
  }

  #newTurn = (): void => {
    this.#start = -1;
    this.#over = false;
  };
}
