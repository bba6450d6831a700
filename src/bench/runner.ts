// One job on one engine, in a process of its own (started by run.ts as
// `node dist/src/bench/runner.js '<RunnerInput as JSON>'`), so that no run warms or poisons another.
// It starts the job's clones as worker_threads, tells the parent when they are ready, starts them
// together on the parent's `go`, reports progress, and takes the process's own CPU accounting
// (every thread: clones and the engines' own threads) over the measured time.
import { Worker } from 'node:worker_threads';
import {
  CTL_GO, CTL_SLOTS, CTL_STOP, F64_EPOCH, F64_IOS, f64Slots,
  type CloneInput, type CloneMessage, type CloneResult, type CpuResult, type ParentMessage, type RunnerInput, type RunnerMessage,
} from './protocol.js';

const PROGRESS_MS = 250;

const send = (m: RunnerMessage): Promise<void> => new Promise(resolve => {
  if (!process.send || !process.connected) return resolve();
  process.send(m, undefined, undefined, () => resolve());
});

function cpuBetween(a: NodeJS.ResourceUsage, b: NodeJS.ResourceUsage, windowMs: number): CpuResult {
  return {
    userMs: (b.userCPUTime - a.userCPUTime) / 1000,
    systemMs: (b.systemCPUTime - a.systemCPUTime) / 1000,
    voluntary: b.voluntaryContextSwitches - a.voluntaryContextSwitches,
    involuntary: b.involuntaryContextSwitches - a.involuntaryContextSwitches,
    majorFaults: b.majorPageFault - a.majorPageFault,
    minorFaults: b.minorPageFault - a.minorPageFault,
    windowMs,
  };
}

async function main(input: RunnerInput): Promise<void> {
  const clones = input.job.numjobs;
  const control = new SharedArrayBuffer(CTL_SLOTS * 4);
  const shared = new SharedArrayBuffer(f64Slots(clones) * 8);
  const ctl = new Int32Array(control);
  const f64 = new Float64Array(shared);
  const stop = () => {
    Atomics.store(ctl, CTL_STOP, 1);
    Atomics.store(ctl, CTL_GO, 1); // release clones still waiting for go
    Atomics.notify(ctl, CTL_GO);
  };
  process.on('SIGINT', stop); // Ctrl-C reaches the whole process group: stop, report, as the parent asks
  process.on('disconnect', () => { stop(); setTimeout(() => process.exit(1), 2000).unref(); });

  let ready = 0;
  let finished = 0;
  let notStarted = 0;
  const results: CloneResult[] = [];
  let ru0: NodeJS.ResourceUsage | undefined;
  let t0 = 0;
  let cpu: CpuResult | undefined;
  let progress: NodeJS.Timeout | undefined;

  const done = new Promise<void>((resolve, reject) => {
    for (let i = 0; i < clones; i++) {
      const clone = input.firstClone + i;
      const workerData: CloneInput = { ...input, clone, control, shared };
      const worker = new Worker(new URL('./clone.js', import.meta.url), { workerData });
      let posted = false;
      worker.on('error', reject);
      // Messages posted before a worker ends arrive before its 'exit': none means none will come.
      worker.on('exit', code => { if (!posted) reject(new Error(`clone ${clone} ended without a result (exit code ${code})`)); });
      worker.on('message', (m: CloneMessage) => {
        if (m.type === 'ready' && ++ready === clones) void send({ type: 'ready' });
        else if (m.type === 'finished' && ++finished === clones) {
          const now = performance.now();
          cpu = cpuBetween(ru0 ?? process.resourceUsage(), process.resourceUsage(), now - t0);
          clearInterval(progress);
        } else if (m.type === 'result' || m.type === 'not started') {
          posted = true;
          if (m.type === 'result') results.push(m.result);
          else notStarted++;
          if (results.length + notStarted === clones) resolve();
        } else if (m.type === 'error') {
          posted = true;
          reject(new Error(m.message));
        }
      });
    }
  });

  process.on('message', (m: ParentMessage) => {
    if (m.type === 'stop') stop();
    // A go after stop (Ctrl-C while the parent waited for ready) must not start the clones.
    if (m.type !== 'go' || Atomics.load(ctl, CTL_STOP) !== 0) return;
    ru0 = process.resourceUsage();
    t0 = performance.now();
    f64[F64_EPOCH] = performance.timeOrigin + t0;
    Atomics.store(ctl, CTL_GO, 1);
    Atomics.notify(ctl, CTL_GO);
    if (input.job.ramp_time > 0) {
      setTimeout(() => {
        if (finished < clones) [ru0, t0] = [process.resourceUsage(), performance.now()];
      }, input.job.ramp_time);
    }
    progress = setInterval(() => {
      let ios = 0;
      for (let i = 0; i < clones; i++) ios += f64[F64_IOS + i];
      void send({ type: 'progress', ios });
    }, PROGRESS_MS);
  });

  await done;
  // As a job that could not start: the parent reports it as not run, with this message.
  if (notStarted) throw new Error('stopped before it started');
  results.sort((a, b) => a.clone - b.clone);
  await send({ type: 'result', clones: results, cpu: cpu! });
}

main(JSON.parse(process.argv[2]) as RunnerInput).then(
  () => process.exit(0),
  async err => {
    await send({ type: 'error', message: (err as Error)?.message ?? String(err) });
    process.exit(1);
  },
);
