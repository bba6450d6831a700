// How long work that completes at once may go on in one turn of the event loop before the loop
// gets to run its timers and sockets (native/engine.h's TURN_BUDGET_NS, for the kernel engines'
// completions).
export const TURN_BUDGET_MS = 0.5;
/** Operations between looks at the clock (a look costs ~0.15 µs; an operation ~2). */
export const CLOCK_EVERY = 64;

/** One turn's budget: counts the operations completed at once in this turn of the loop. */
export class TurnBudget {
  #start = -1;
  #over = false;
  #sinceClock = 0;

  /** Counts one more operation; true once this turn has used its budget (until the next turn). */
  spent(): boolean {
    if (this.#over) return true;
    if (this.#start < 0) {
      this.#start = performance.now();
      setImmediate(this.#newTurn);
    }
    if (++this.#sinceClock < CLOCK_EVERY) return false;
    this.#sinceClock = 0;
    return (this.#over = performance.now() - this.#start >= TURN_BUDGET_MS);
  }

  #newTurn = (): void => {
    this.#start = -1;
    this.#over = false;
  };
}
