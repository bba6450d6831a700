// ioengine bench: fio's option syntax and meaning on the command line, and every refusal.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BenchUsageError, parseEngines, parseSize, parseTime, suggest } from '../src/bench/options.js';
import { planBench, type PlanContext } from '../src/bench/plan.js';

/** A machine where linux-aio cannot run: the plan must say why instead of running it. */
const ENGINES = [
  { name: 'sync', available: true },
  { name: 'pool', available: true },
  { name: 'libuv', available: true },
  { name: 'linux-aio', available: false, reason: 'io_setup: ENOSYS' },
  { name: 'io_uring', available: true },
  { name: 'null', available: true },
];
const ctx: PlanContext = { engines: ENGINES, alignedBuffers: false };
const plan = (argv: string[], c: Partial<PlanContext> = {}) => planBench(argv, { ...ctx, ...c });
const job = (argv: string[]) => plan(['--name=j', ...argv]).jobs[0];

/** The plan refuses, with a BenchUsageError whose message matches every pattern. */
function refuses(argv: string[], ...patterns: RegExp[]): void {
  assert.throws(() => plan(argv), (err: unknown) => {
    assert.ok(err instanceof BenchUsageError, `expected a BenchUsageError, got ${err}`);
    for (const p of patterns) assert.match(err.message, p);
    return true;
  });
}

test('sizes read as fio reads them, 1024-based', () => {
  assert.equal(parseSize('4096'), 4096);
  assert.equal(parseSize('4k'), 4096);
  assert.equal(parseSize('4K'), 4096);
  assert.equal(parseSize('4kb'), 4096);
  assert.equal(parseSize('4KiB'), 4096);
  assert.equal(parseSize('256m'), 256 * 2 ** 20);
  assert.equal(parseSize('2g'), 2 * 2 ** 30);
  assert.equal(parseSize('1t'), 2 ** 40);
  for (const bad of ['', 'k', '4x', '1.5m', '-1', '4 kk', '0x1000']) assert.throws(() => parseSize(bad), /size/, bad);
});

test('times read as fio reads them: seconds by default, in ms', () => {
  assert.equal(parseTime('2'), 2000);
  assert.equal(parseTime('2s'), 2000);
  assert.equal(parseTime('500ms'), 500);
  assert.equal(parseTime('1m'), 60000);
  assert.equal(parseTime('1h'), 3600000);
  assert.equal(parseTime('250us'), 0.25);
  for (const bad of ['', 's', '2x', '-1', '1e3']) assert.throws(() => parseTime(bad), /time/, bad);
});

test("engine names: ioengine's, fio's aliases, comma lists and all", () => {
  assert.deepEqual(parseEngines('psync'), ['sync']);
  assert.deepEqual(parseEngines('pvsync'), ['sync']);
  assert.deepEqual(parseEngines('sync'), ['sync']);
  assert.deepEqual(parseEngines('libaio'), ['linux-aio']);
  assert.deepEqual(parseEngines('posixaio'), ['posix-aio']);
  assert.deepEqual(parseEngines('io_uring'), ['io_uring']);
  assert.deepEqual(parseEngines('null'), ['null']);
  assert.deepEqual(parseEngines('sync,pool,io_uring'), ['sync', 'pool', 'io_uring']);
  assert.deepEqual(parseEngines('psync,sync'), ['sync'], 'one pass per engine, however it was named');
  assert.deepEqual(parseEngines('all'), ['all']);
  assert.throws(() => parseEngines('all,sync'), /'all' cannot be combined/);
  assert.throws(() => parseEngines('mmap'), /unknown engine 'mmap'/);
  assert.throws(() => parseEngines('io_urin'), /did you mean 'io_uring'/);
});

test('suggest names the closest known word', () => {
  assert.equal(suggest('bss', ['bs', 'size', 'iodepth']), " (did you mean 'bs'?)");
  assert.equal(suggest('iodeph', ['bs', 'size', 'iodepth'], '--'), " (did you mean '--iodepth'?)");
});

test('a command-line job: fio names, values, and defaults', () => {
  const j = job(['--filename=/tmp/x', '--size=256m', '--rw=randread', '--bs=4k', '--iodepth=32', '--ioengine=sync',
    '--runtime=2', '--time_based', '--ramp_time=500ms', '--invalidate=0', '--randseed=7', '--numjobs=2', '--group_reporting']);
  assert.equal(j.name, 'j');
  assert.equal(j.filename, '/tmp/x');
  assert.equal(j.size, 256 * 2 ** 20);
  assert.equal(j.rw, 'randread');
  assert.equal(j.bs, 4096);
  assert.equal(j.iodepth, 32);
  assert.deepEqual(j.engines, ['sync']);
  assert.equal(j.runtime, 2000);
  assert.equal(j.time_based, true);
  assert.equal(j.ramp_time, 500);
  assert.equal(j.invalidate, false);
  assert.equal(j.randseed, 7);
  assert.equal(j.numjobs, 2);
  assert.equal(j.group_reporting, true);
  const d = job([]);
  assert.deepEqual([d.rw, d.bs, d.iodepth, d.numjobs, d.invalidate, d.randrepeat, d.direct, d.time_based, d.rwmixread],
    ['read', 4096, 1, 1, true, true, false, false, 50], "fio's defaults");
});

test('--opt value works like --opt=value; flags take =0/=1 or nothing', () => {
  const j = job(['--bs', '8k', '--rw', 'write', '--time_based=0', '--invalidate']);
  assert.equal(j.bs, 8192);
  assert.equal(j.rw, 'write');
  assert.equal(j.time_based, false);
  assert.equal(j.invalidate, true);
});

test("fio's aliases and opposites: readwrite, blocksize, rwmixwrite, buffered, timeout, wait_for_previous", () => {
  const j = job(['--readwrite=readwrite', '--blocksize=16k', '--rwmixwrite=30', '--buffered=1', '--timeout=3', '--ioengine=psync,io_uring']);
  assert.equal(j.rw, 'rw');
  assert.equal(j.bs, 16384);
  assert.equal(j.rwmixread, 70);
  assert.equal(j.direct, false);
  assert.equal(j.runtime, 3000);
  assert.deepEqual(j.engines, ['sync', 'io_uring']);
  const p = plan(['--name=a', '--name=b', '--wait_for_previous']);
  assert.deepEqual(p.jobs.map(x => x.groupid), [0, 1]);
});

test('options before the first --name are globals; each --name starts a job', () => {
  const p = plan(['--size=1m', '--bs=8k', '--name=a', '--rw=randread', '--name=b', '--bs=16k', '--stonewall']);
  assert.deepEqual(p.jobs.map(j => [j.name, j.size, j.bs, j.rw, j.groupid]), [['a', 2 ** 20, 8192, 'randread', 0], ['b', 2 ** 20, 16384, 'read', 1]]);
  assert.deepEqual(p.globalOptions, { size: '1m', bs: '8k' }, "fio's 'global options'");
  assert.deepEqual(p.jobs[1].jobOptions, { name: 'b', bs: '16k' }, "fio's 'job options': as written, flags alone left out");
});

test('an engine list runs the job once per engine; all is every available engine, null last', () => {
  assert.deepEqual(job(['--ioengine=sync,pool,io_uring']).engines, ['sync', 'pool', 'io_uring']);
  assert.deepEqual(job(['--ioengine=all']).engines, ['sync', 'pool', 'libuv', 'io_uring', 'null']);
  assert.deepEqual(job([]).engines, ['sync', 'pool', 'libuv', 'io_uring', 'null'], 'no engine given: compare them all');
});

test('the sync engine caps iodepth at 1, as fio does for psync, and says so', () => {
  const p = plan(['--name=deep', '--iodepth=32', '--ioengine=sync,pool']);
  assert.match(p.notes.join('\n'), /iodepth is capped at 1.*deep/);
  assert.equal(plan(['--name=x', '--iodepth=1', '--ioengine=sync']).notes.length, 0);
});

test('the default run: four workloads, every engine, a temporary 256 MiB file', () => {
  const p = plan([]);
  assert.equal(p.defaultRun, true);
  assert.deepEqual(p.jobs.map(j => [j.rw, j.bs, j.iodepth]), [['randread', 4096, 32], ['randread', 4096, 1], ['read', 131072, 8], ['randwrite', 4096, 32]]);
  assert.deepEqual(p.jobs.map(j => j.groupid), [0, 1, 2, 3], 'one workload at a time');
  for (const j of p.jobs) {
    assert.equal(j.size, 256 * 2 ** 20);
    assert.equal(j.invalidate, false, 'cached workloads');
    assert.deepEqual(j.engines, ['sync', 'pool', 'libuv', 'io_uring', 'null']);
    assert.equal(j.filename, p.temporary[0]);
  }
  assert.equal(p.temporary.length, 1);
});

test('the default run takes run-wide options from the command line, and refuses per-workload ones', () => {
  const p = plan(['--runtime=3', '--ioengine=sync,io_uring', '--size=64m']);
  assert.equal(p.defaultRun, true);
  for (const j of p.jobs) {
    assert.equal(j.runtime, 3000);
    assert.equal(j.size, 64 * 2 ** 20);
    assert.deepEqual(j.engines, ['sync', 'io_uring']);
  }
  assert.equal(p.globalOptions.runtime, '3', 'the user wins over the default run in global options too');
  refuses(['--bs=8k'], /'--bs' is set by each workload of the default run/, /--name=NAME/);
  refuses(['--rw=write'], /'--rw'/);
  refuses(['--iodepth=4'], /'--iodepth'/);
});

test('CLI-only options: output format, output file, eta, fio', () => {
  const p = plan(['--name=x', '--output-format=json', '--output=/tmp/out.json', '--eta=never', '--fio']);
  assert.deepEqual(p.cli, { outputFormat: 'json', output: '/tmp/out.json', eta: 'never', fio: true });
  assert.equal(plan(['--name=x']).cli.outputFormat, 'normal');
});

test('refusals: unknown options, each naming the option and the closest known one', () => {
  refuses(['--name=x', '--bss=4k'], /unknown option '--bss'/, /did you mean '--bs'/);
  refuses(['--name=x', '--iodeph=4'], /'--iodeph'/, /'--iodepth'/);
  refuses(['--name=x', '--time-based'], /'--time-based'/, /'--time_based'/);
  refuses(['--ramptime=1'], /'--ramptime'/, /'--ramp_time'/);
  refuses(['--name=x', '-b', '4k'], /unknown option '-b'/);
  refuses(['--name=x', '--iodepth_batch_submit=8'], /'--iodepth_batch_submit' is not supported/);
  refuses(['--name=x', '--fixedbufs'], /'--fixedbufs' is not supported/);
});

test('refusals: values the bench cannot use, each naming the option', () => {
  const cases: Array<[string[], RegExp[]]> = [
    [['--rw=randred'], [/'--rw'/, /randread/]],
    [['--rw=trim'], [/'--rw'/, /trim is not supported/]],
    [['--rw=randread:8'], [/'--rw'/, /':' modifier/]],
    [['--bs=4x'], [/'--bs'/, /size/]],
    [['--bs=4k,8k'], [/'--bs'/, /one size/]],
    [['--bs=0'], [/'--bs'/]],
    [['--size=0'], [/'--size'/]],
    [['--iodepth=0'], [/'--iodepth'/]],
    [['--iodepth=many'], [/'--iodepth'/]],
    [['--numjobs=0'], [/'--numjobs'/]],
    [['--rwmixread=101'], [/'--rwmixread'/]],
    [['--rwmixwrite=-5'], [/'--rwmixwrite'/]],
    [['--runtime=soon'], [/'--runtime'/]],
    [['--ramp_time=2x'], [/'--ramp_time'/]],
    [['--direct=2'], [/'--direct'/, /0 or 1/]],
    [['--invalidate=yes'], [/'--invalidate'/]],
    [['--time_based=2'], [/'--time_based'/]],
    [['--randseed=-1'], [/'--randseed'/]],
    [['--fsync=x'], [/'--fsync'/]],
    [['--filename=/a:/b'], [/'--filename'/, /several files/]],
    [['--ioengine=mmap'], [/'--ioengine'/, /mmap/]],
    [['--ioengine=pvsync2'], [/'--ioengine'/, /did you mean 'pvsync'/]],
    [['--ioengine=libaio'], [/linux-aio/, /cannot run here: io_setup: ENOSYS/]],
    [['--output-format=xml'], [/'--output-format'/, /normal, json/]],
    [['--output-format=terse'], [/'--output-format'/, /not supported/]],
    [['--output-format=json,normal'], [/'--output-format'/]],
    [['--eta=sometimes'], [/'--eta'/]],
    [['--fio=2'], [/'--fio'/]],
    [['--size'], [/'--size' needs a value/]],
  ];
  for (const [argv, patterns] of cases) refuses(['--name=x', ...argv], ...patterns);
});

test('refusals: options that contradict each other or the machine', () => {
  refuses(['--name=x', '--time_based'], /time_based needs a runtime/);
  refuses(['--name=x', '--size=2k', '--bs=4k'], /size \(2048\) is smaller than bs \(4096\)/);
  refuses(['--name=x', '--io_size=1k'], /io_size/);
  refuses(['--name=x', '--fsync=1', '--fdatasync=1'], /fsync or fdatasync, not both/);
  refuses(['--name=x', '--direct=1'], /direct=1 needs buffers aligned for O_DIRECT/);
  refuses(['--name='], /a job needs a name/);
  const aligned = (argv: string[]) => planBench(['--name=x', ...argv], { ...ctx, alignedBuffers: true });
  assert.equal(aligned(['--direct=1', '--bs=4k']).jobs[0].direct, true, 'direct=1 runs once aligned buffers exist');
  assert.throws(() => aligned(['--direct=1', '--bs=1000']), /multiple of 512/);
  assert.throws(() => aligned(['--direct=1', '--offset=100']), /offset to be a multiple of 512/);
});

test('refusals: jobs that run together must agree on the number of engines', () => {
  refuses(['--name=a', '--ioengine=sync,pool', '--name=b', '--ioengine=sync,pool,libuv'], /same number of engines/);
  const p = plan(['--name=a', '--ioengine=sync,pool', '--name=b', '--ioengine=libuv']);
  assert.deepEqual(p.jobs.map(j => j.engines), [['sync', 'pool'], ['libuv']], 'a job with one engine runs it in every pass');
});
