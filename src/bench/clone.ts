// One clone of a job, in its own worker_thread with its own engine: the timed loop. Per I/O it
// does what fio's own loop does and no more: pick a direction and an offset (integer arithmetic),
// take the time, start one operation through the FileHandle API and await its promise, take the
// time, record the latency (hdr-histogram-js, WebAssembly build: ~50 ns a value). iodepth such
// loops keep iodepth operations in flight. Sampling, ramp, progress and stop are handled by one
// time comparison per I/O against the next due event.
import { randomFillSync } from 'node:crypto';
import { constants } from 'node:fs';
import { performance } from 'node:perf_hooks'; // not the global: a getter in node 20, read twice per I/O here
import type { Readable } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import * as hdr from 'hdr-histogram-js';
import * as ioengine from '../index.js';
import type { FileHandle } from '../index.js';
import { latencyHistogram } from './histogram.js';
import {
  CTL_GO, CTL_STOP, F64_EPOCH, F64_IOS,
  type CloneInput, type CloneMessage, type CloneResult, type DirectionResult, type SyncResult,
} from './protocol.js';
import { DEFAULT_SEED, workload } from './workload.js';
import { isFileWorkload, type FileWorkload, type JobOptions } from './options.js';
import { fsOn } from '../fs/promises.js';
import { LOOP_TICK_MS, watchLoop } from './loop-delay.js';

const SAMPLE_MS = 500; // fio's bwavgtime and iopsavgtime
const PROGRESS_MS = 200;

/** Latencies of one kind of operation, in ns: exact min/max/mean/M2 (Welford) and a histogram. */
class Latencies {
  n = 0;
  min = Infinity;
  max = 0;
  mean = 0;
  m2 = 0;
  readonly hist = latencyHistogram(true);

  /** count values of ns (a batch's I/Os share its latency): Chan's merge of a group with no spread, Welford's step for one. */
  record(ns: number, count = 1): void {
    const n = this.n + count;
    if (ns < this.min) this.min = ns;
    if (ns > this.max) this.max = ns;
    const d = ns - this.mean;
    this.mean += d * count / n;
    this.m2 += d * d * this.n * count / n;
    this.n = n;
    this.hist.recordValueWithCount(ns, count);
  }

  reset(): void {
    this.n = 0; this.min = Infinity; this.max = 0; this.mean = 0; this.m2 = 0;
    this.hist.reset();
  }

  summary(): SyncResult {
    return {
      ios: this.n, min: this.n ? this.min : 0, max: this.max, mean: this.mean, m2: this.m2,
      histogram: hdr.encodeIntoCompressedBase64(this.hist),
    };
  }
}

class Direction extends Latencies {
  bytes = 0;
  shortIos = 0;
  lastMs = 0;
  #sampleIos = 0;
  #sampleBytes = 0;
  readonly bwSamples: number[] = [];
  readonly iopsSamples: number[] = [];

  /** count I/Os (one, or a batch's) that took ns, moving bytes in all, short of what they asked short times. */
  done(ns: number, count: number, bytes: number, short: number, at: number): void {
    this.record(ns, count);
    this.bytes += bytes;
    this.shortIos += short;
    this.lastMs = at;
  }

  override reset(): void {
    super.reset();
    this.bytes = 0; this.shortIos = 0; this.lastMs = 0;
    this.#sampleIos = 0; this.#sampleBytes = 0;
  }

  sample(ms: number): void {
    if (this.n === 0) return;
    this.bwSamples.push((this.bytes - this.#sampleBytes) / 1024 / (ms / 1000));
    this.iopsSamples.push((this.n - this.#sampleIos) / (ms / 1000));
    this.#sampleIos = this.n;
    this.#sampleBytes = this.bytes;
  }

  result(startMs: number): DirectionResult {
    // fio's runtime of a direction: from the start of the measured time to its last completion.
    const runtimeMs = this.n ? Math.max(1, Math.round(this.lastMs - startMs)) : 0;
    return { ...this.summary(), shortIos: this.shortIos, bytes: this.bytes, runtimeMs, bwSamples: this.bwSamples, iopsSamples: this.iopsSamples };
  }
}

/** fio's iodepth_level buckets: 1, 2, 4, 8, 16, 32, >=64. */
function depthBucket(depth: number): number {
  return depth >= 64 ? 6 : depth >= 32 ? 5 : depth >= 16 ? 4 : depth >= 8 ? 3 : depth >= 4 ? 2 : depth >= 2 ? 1 : 0;
}

/** The job's buffers: registered with the engine's ring (fixedbufs), aligned for O_DIRECT, or plain. */
function buffers(engine: ioengine.Engine, job: JobOptions, bs: number, fill: boolean): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < job.iodepth; i++) {
    const b = job.fixedbufs ? engine.borrowBuffer() : job.direct ? ioengine.allocAligned(bs, 4096) : Buffer.allocUnsafeSlow(bs);
    if (fill) randomFillSync(b);
    else b.fill(0);
    out.push(b);
  }
  return out;
}

/**
 * One I/O of a whole-file workload, through ioengine/fs on the clone's engine: the next file
 * (the clone's files in turn) read, written or stat'ed whole, or the next chunk (bs bytes, the
 * stream's highWaterMark) of a read stream over it; resolves with the bytes moved.
 */
function wholeFileIo(rw: FileWorkload, fs: ReturnType<typeof fsOn>, files: string[], size: number, bs: number, once: boolean) {
  let next = 0;
  const data = Buffer.alloc(size, 0x5a);
  const file = () => files[next++ % files.length];
  // Streams read each file once unless the job goes on by time or io_size: then the lanes end
  // when the files do (a stream's chunks are not known in advance as a count).
  const streams = rw === 'readstream' ? readStreams(fs, () => (!once || next < files.length ? file() : undefined), bs) : undefined;
  return {
    writes: rw === 'writefile',
    /** bytes a complete I/O moves (a stat: none; a file's last chunk may be short) */
    wanted: rw === 'stat' ? 0 : streams ? bs : size,
    next: rw === 'readfile' ? async () => (await fs.readFile(file())).length
      : streams ? streams.chunk
        : rw === 'writefile' ? async () => { await fs.writeFile(file(), data); return size; }
          : async () => { await fs.stat(file()); return 0; },
    /** Ends what is still open (streams part way through their files). */
    close: async () => { await streams?.close(); },
  };
}

/**
 * Read streams over the files in turn, one per lane at most: a lane takes an idle stream (or
 * starts one on the next file), waits for its next chunk as the stream hands it on ('data', as
 * a pipe to a writer sees it), and gives it back. -1: no file is left for this lane.
 */
function readStreams(fs: ReturnType<typeof fsOn>, file: () => string | undefined, bs: number) {
  const idle: Chunks[] = [];
  const start = async () => {
    const name = file();
    return name === undefined ? undefined : chunksOf((await fs.open(name)).createReadStream({ highWaterMark: bs }));
  };
  return {
    chunk: async () => {
      let stream = idle.pop() ?? await start();
      while (stream) {
        const chunk = await stream.next();
        if (chunk) {
          idle.push(stream);
          return chunk.length;
        }
        stream = idle.pop() ?? await start(); // that file is read (and closed): another
      }
      return -1;
    },
    close: async () => {
      for (const s of idle.splice(0)) s.stream.destroy();
    },
  };
}

interface Chunks { stream: Readable; next(): Promise<Buffer | undefined> }

/** A stream's chunks one at a time, as it pushes them (a Readable's own iterator joins what it holds). */
function chunksOf(stream: Readable): Chunks {
  const held: Buffer[] = [];
  let ended = false;
  let failed: Error | undefined;
  let wake: (() => void) | undefined;
  stream.on('data', (chunk: Buffer) => {
    held.push(chunk);
    if (held.length >= 2) stream.pause(); // backpressure, as a writer's
    wake?.();
  });
  // A stream destroyed without an error ends without 'end': its chunks end there too.
  stream.on('end', () => { ended = true; wake?.(); });
  stream.on('close', () => { ended = true; wake?.(); });
  stream.on('error', err => { failed = err; wake?.(); });
  return {
    stream,
    async next() {
      while (held.length === 0 && !ended && !failed) await new Promise<void>(resolve => { wake = resolve; });
      wake = undefined;
      if (failed) throw failed;
      const chunk = held.shift();
      if (held.length < 2 && stream.isPaused()) stream.resume();
      return chunk;
    },
  };
}

async function main(input: CloneInput): Promise<void> {
  const port = parentPort!;
  const post = (m: CloneMessage) => port.postMessage(m);
  const ctl = new Int32Array(input.control);
  const shared = new Float64Array(input.shared);
  const { job } = input;
  const slot = F64_IOS + (input.clone - input.firstClone);

  await hdr.initWebAssembly();
  const writes = job.rw !== 'read' && job.rw !== 'randread';
  const seed = (job.randseed ?? (job.randrepeat ? DEFAULT_SEED : (Math.random() * 2 ** 32) >>> 0)) + input.clone;
  // io_uring's options, as fio's (plan.ts lets them through only for engines on the ring).
  const ring = job.fixedbufs || !job.registerfiles
    ? { registerFiles: job.registerfiles, registeredBuffers: job.fixedbufs ? { count: job.iodepth, size: job.bs } : undefined }
    : {};
  const engine = ioengine.createEngine(input.engine, ring);
  // auto falls back to another engine when io_uring cannot set up here (locked memory for the
  // buffers): then the job did not get what it asked for.
  if (job.fixedbufs || !job.registerfiles) {
    if (engine.name !== 'io_uring') throw new Error(`${job.fixedbufs ? 'fixedbufs=1' : 'registerfiles=0'} needs io_uring, and ${input.engine} runs on ${engine.name} here`);
  }
  let flags = writes ? constants.O_RDWR : constants.O_RDONLY;
  if (job.direct) flags |= constants.O_DIRECT;
  const files = input.files[input.clone - input.firstClone];
  const whole = isFileWorkload(job.rw) ? wholeFileIo(job.rw, fsOn(engine), files, job.filesize!, job.bs, !job.time_based && job.io_size === undefined) : undefined;
  const fh: FileHandle | undefined = whole ? undefined : await engine.open(files[0], flags);
  const bufs = buffers(engine, job, whole ? 0 : job.bs, writes);
  const wl = whole ? undefined : workload({ rw: job.rw, rwmixread: job.rwmixread, bs: job.bs, offset: job.offset, size: input.size, norandommap: job.norandommap, seed });
  const read = new Direction();
  const write = new Direction();
  const sync = new Latencies();
  const loop = new Latencies();
  const depth = [0, 0, 0, 0, 0, 0, 0];
  const depthOf = Array.from({ length: job.iodepth + 1 }, (_, d) => depthBucket(d));

  post({ type: 'ready' });
  Atomics.wait(ctl, CTL_GO, 0);
  if (shared[F64_EPOCH] === 0) {
    // Woken by stop, not go: there is no start to measure from.
    await fh?.close();
    await engine.close();
    post({ type: 'not started' });
    return;
  }
  const goMs = shared[F64_EPOCH] - performance.timeOrigin;
  let startMs = goMs + job.ramp_time;
  let ramping = job.ramp_time > 0;
  const endMs = job.runtime > 0 ? startMs + job.runtime : Infinity;
  // A whole-file job not time_based reads (writes, stats) each of its files once, or io_size's
  // worth; a read stream's I/Os are its chunks.
  const unit = job.rw === 'readstream' ? job.bs : job.filesize!;
  const totalIos = job.time_based || (job.rw === 'readstream' && job.io_size === undefined) ? Infinity
    : whole ? Math.floor((job.io_size ?? job.size!) / unit)
      : Math.floor((job.io_size ?? input.size) / job.bs);
  let remaining = totalIos;
  let stopped = Atomics.load(ctl, CTL_STOP) !== 0;
  let nextSample = startMs + SAMPLE_MS;
  let nextProgress = goMs + PROGRESS_MS;
  let nextEvent = 0;
  let ios = 0;
  let inflight = 0;
  let error = 0;
  let errorMessage: string | undefined;
  const schedule = () => { nextEvent = Math.min(ramping ? startMs : nextSample, nextProgress, endMs); };
  schedule();

  // How long the loop stands still.
  const ticker = watchLoop(ns => loop.record(ns));

  // Everything that is due by time, out of the per-I/O path.
  const event = (now: number) => {
    if (ramping && now >= startMs) {
      ramping = false;
      read.reset(); write.reset(); sync.reset(); loop.reset();
      depth.fill(0);
      remaining = totalIos;
      nextSample = startMs + SAMPLE_MS;
    }
    if (!ramping) {
      while (now >= nextSample) {
        read.sample(SAMPLE_MS); write.sample(SAMPLE_MS);
        nextSample += SAMPLE_MS;
      }
    }
    if (now >= nextProgress) {
      shared[slot] = ios;
      nextProgress = now + PROGRESS_MS;
      if (Atomics.load(ctl, CTL_STOP) !== 0) stopped = true;
    }
    if (now >= endMs) stopped = true;
    schedule();
  };
  const fail = (err: unknown) => {
    if (error === 0) {
      const e = err as NodeJS.ErrnoException;
      error = Math.abs(typeof e.errno === 'number' ? e.errno : 5) || 5;
      errorMessage = e.message ?? String(err);
    }
    stopped = true;
  };

  // As fio: the sync due after every Nth write is issued before the next I/O, so a job that ends
  // right after its Nth write does not sync (512 writes with fsync=32: 15 syncs).
  const syncEvery = job.fsync || job.fdatasync;
  let writesSinceSync = 0;
  let syncDue = false;
  const syncFile = async () => {
    const t0 = performance.now();
    if (job.fdatasync) await fh!.datasync();
    else await fh!.sync();
    sync.record(Math.round((performance.now() - t0) * 1e6));
  };

  const { bs } = job;
  const lane = async (buf: Buffer) => {
    while (!stopped && --remaining >= 0) {
      if (syncDue) {
        syncDue = false;
        try {
          await syncFile();
        } catch (err) {
          fail(err);
          break;
        }
      }
      const isWrite = whole ? whole.writes : wl!.nextIsWrite();
      const pos = whole ? 0 : wl!.nextOffset(isWrite);
      depth[depthOf[++inflight]]++;
      let n: number;
      const t0 = performance.now();
      try {
        n = whole ? await whole.next() : isWrite ? (await fh!.write(buf, 0, bs, pos)).bytesWritten : (await fh!.read(buf, 0, bs, pos)).bytesRead;
      } catch (err) {
        inflight--;
        fail(err);
        break;
      }
      const t1 = performance.now();
      inflight--;
      if (n < 0) break; // a read stream's files are all read
      ios++;
      if (t1 >= nextEvent) event(t1);
      (isWrite ? write : read).done(Math.round((t1 - t0) * 1e6), 1, n, n !== (whole ? whole.wanted : bs) ? 1 : 0, t1);
      if (isWrite && syncEvery > 0 && ++writesSinceSync >= syncEvery) {
        writesSinceSync = 0;
        syncDue = true;
      }
    }
  };
  // The batch form: iodepth requests per readMany/writeMany call, the next call once all are
  // done. Each I/O's latency is its batch's.
  const batches = async () => {
    const requests = bufs.map(buffer => ({ buffer, length: bs, position: 0 }));
    const writing = wl!.nextIsWrite(); // batch=1 jobs read only or write only
    while (!stopped && remaining > 0) {
      const n = Math.min(requests.length, remaining);
      remaining -= n;
      const batch = n === requests.length ? requests : requests.slice(0, n);
      for (const r of batch) r.position = wl!.nextOffset(writing);
      depth[depthOf[n]] += n;
      inflight = n;
      let results: (number | Error)[];
      const t0 = performance.now();
      try {
        results = await (writing ? fh!.writeMany(batch) : fh!.readMany(batch));
      } catch (err) {
        fail(err);
        break;
      }
      const t1 = performance.now();
      inflight = 0;
      let count = 0, bytes = 0, short = 0;
      for (const r of results) {
        if (typeof r !== 'number') {
          fail(r);
          break;
        }
        count++;
        bytes += r;
        if (r !== bs) short++;
      }
      ios += count;
      if (count > 0) (writing ? write : read).done(Math.round((t1 - t0) * 1e6), count, bytes, short, t1);
      if (t1 >= nextEvent) event(t1);
    }
  };
  await (job.batch ? batches() : Promise.all(bufs.map(lane)));
  const endedMs = performance.now();
  // The first tick after the work: it records how long the loop waited for it.
  await new Promise(resolve => setTimeout(resolve, LOOP_TICK_MS));
  clearInterval(ticker);
  post({ type: 'finished' });
  shared[slot] = ios;

  if (ramping) startMs = goMs; // stopped during the ramp: report the ramp's I/O, all there is
  const result: CloneResult = {
    clone: input.clone, engine: input.engine === 'auto' ? 'auto' : engine.name, read: read.result(startMs), write: write.result(startMs),
    sync: sync.summary(), loop: loop.summary(), depth, elapsedMs: endedMs - goMs, error, errorMessage,
  };
  await fh?.close().catch(fail);
  await whole?.close().catch(fail);
  await engine.close();
  post({ type: 'result', result });
}

main(workerData as CloneInput).catch(err => {
  parentPort!.postMessage({ type: 'error', message: (err as Error)?.message ?? String(err) } satisfies CloneMessage);
});
