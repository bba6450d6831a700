// What crosses between the bench's processes and threads: the parent (run.ts) starts one runner
// process per job and engine (runner.ts), which starts one worker_thread per clone (clone.ts).
import type { JobOptions } from './options.js';

/** Given to runner.ts as its one argument (JSON). */
export interface RunnerInput {
  job: JobOptions;
  /** the engine this process runs the job on (ioengine's name, or 'auto') */
  engine: string;
  /** one file per clone */
  /** each clone's files (several for a whole-file workload) */
  files: string[][];
  /** bytes of the region each clone works on (size, or what the existing file holds) */
  size: number;
  /** the clone number of this job's first clone (fio numbers clones 0..numjobs-1) */
  firstClone: number;
}

/** Given to each clone's worker_thread. */
export interface CloneInput extends RunnerInput {
  clone: number;
  /** Int32Array over it: CTL_* slots */
  control: SharedArrayBuffer;
  /** Float64Array over it: F64_* slots */
  shared: SharedArrayBuffer;
}

export const CTL_GO = 0;
export const CTL_STOP = 1;
export const CTL_SLOTS = 2;
/** performance.timeOrigin + performance.now() at go, so every thread measures from one instant */
export const F64_EPOCH = 0;
/** from here, one per clone: I/Os done, ramp included (for the progress line) */
export const F64_IOS = 1;
export const f64Slots = (clones: number) => F64_IOS + clones;

/** One direction (read or write) of one clone over the measured time. */
export interface DirectionResult {
  ios: number;
  bytes: number;
  shortIos: number;
  /** latency in ns: exact min, max, mean and M2 (Welford), histogram for percentiles */
  min: number;
  max: number;
  mean: number;
  m2: number;
  /** hdr-histogram-js, compressed base64, values in ns */
  histogram: string;
  /** ms over which this direction did I/O */
  runtimeMs: number;
  /** bandwidth in KiB/s and IOPS, one sample per 500 ms as fio's bwavgtime/iopsavgtime */
  bwSamples: number[];
  iopsSamples: number[];
}

export interface SyncResult {
  ios: number;
  min: number;
  max: number;
  mean: number;
  m2: number;
  histogram: string;
}

export interface CloneResult {
  clone: number;
  /** the engine that ran ('auto' for auto: what it runs on is in the run's notes) */
  engine: string;
  read: DirectionResult;
  write: DirectionResult;
  sync: SyncResult;
  /**
   * How late the clone's event loop ran while it worked: each tick of a 1 ms timer, its delay
   * past due (ns), the wait up to the first tick after the work included (an engine that never
   * lets the loop run shows the whole run as one delay)
   */
  loop: SyncResult;
  /** submissions by how many I/Os were in flight: 1, 2, 4, 8, 16, 32, >=64 (fio's iodepth_level) */
  depth: number[];
  /** ms from go to the end of the clone's I/O, ramp included */
  elapsedMs: number;
  /** 0, or the errno (positive, as fio reports it) of the error that ended the clone */
  error: number;
  errorMessage?: string;
}

/** CPU of the whole runner process over the measured time (every clone, every engine thread). */
export interface CpuResult {
  userMs: number;
  systemMs: number;
  voluntary: number;
  involuntary: number;
  majorFaults: number;
  minorFaults: number;
  /** ms of wall time the CPU figures cover */
  windowMs: number;
}

export type RunnerMessage =
  | { type: 'ready' }
  | { type: 'progress'; ios: number }
  | { type: 'result'; clones: CloneResult[]; cpu: CpuResult }
  | { type: 'error'; message: string };

export type ParentMessage = { type: 'go' } | { type: 'stop' };

export type CloneMessage =
  | { type: 'ready' }
  /** stopped before go (another job could not start, Ctrl-C): nothing measured */
  | { type: 'not started' }
  | { type: 'finished' }
  | { type: 'result'; result: CloneResult }
  | { type: 'error'; message: string };
