// The progress line on a terminal: which pass runs, elapsed time, ETA and live IOPS, redrawn in
// place. Nothing at all when the stream is not a terminal (unless --eta=always).
const clock = (ms: number) => {
  const s = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};

export class Progress {
  readonly #out: NodeJS.WritableStream;
  readonly #started = performance.now();
  #label = '';
  #index = 0;
  #total = 0;
  #passStarted = 0;
  #remainingMs: number | undefined = 0;
  #lastIos = 0;
  #lastAt = 0;
  #iops = 0;
  #shown = false;
  /** expected ms of the passes not started yet (undefined: unknown) */
  readonly #expected: Array<number | undefined>;

  constructor(out: NodeJS.WritableStream, expectedPerPass: Array<number | undefined>) {
    this.#out = out;
    this.#expected = expectedPerPass;
  }

  passStart(label: string, index: number, total: number): void {
    this.#label = label;
    this.#index = index;
    this.#total = total;
    this.#passStarted = performance.now();
    this.#lastIos = 0;
    this.#lastAt = this.#passStarted;
    this.#iops = 0;
    const rest = this.#expected.slice(index);
    this.#remainingMs = rest.some(x => x === undefined) ? undefined : rest.reduce((s, x) => s! + x! + 150, 0);
    this.#draw();
  }

  update(ios: number): void {
    const now = performance.now();
    if (now - this.#lastAt >= 200) {
      this.#iops = ((ios - this.#lastIos) * 1000) / (now - this.#lastAt);
      this.#lastIos = ios;
      this.#lastAt = now;
      this.#draw();
    }
  }

  #draw(): void {
    const now = performance.now();
    const eta = this.#remainingMs === undefined ? '?' : clock(this.#remainingMs - (now - this.#passStarted));
    const iops = this.#iops >= 1e3 ? `${(this.#iops / 1e3).toFixed(0)}k` : this.#iops.toFixed(0);
    const line = `[${this.#index + 1}/${this.#total}] ${this.#label}: ${iops} IOPS, elapsed ${clock(now - this.#started)}, ETA ${eta}`;
    const columns = (this.#out as NodeJS.WriteStream).columns ?? 100;
    this.#out.write(`\r\x1b[K${line.slice(0, columns - 1)}`);
    this.#shown = true;
  }

  clear(): void {
    if (this.#shown) this.#out.write('\r\x1b[K');
    this.#shown = false;
  }
}
