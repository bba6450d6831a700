// ioengine bench: fio's option syntax and meaning on the command line, and every refusal.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseEngines, parseTime, suggest } from '../src/bench/options.js';
import { parseSize } from '../src/fio/units.js';
import { cloneFile, planBench, type PlanContext } from '../src/bench/plan.js';
import { assertRefused, ENGINES } from './bench-helpers.js';

const ctx: PlanContext = { engines: ENGINES, directIo: false };
const plan = (argv: string[], c: Partial<PlanContext> = {}) => planBench(argv, { ...ctx, ...c });
const job = (argv: string[]) => plan(['--name=j', ...argv]).jobs[0];

const refuses = (argv: string[], ...patterns: RegExp[]) => assertRefused(() => plan(argv), patterns);

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

test('an engine list runs the job once per engine; all is every available engine, then auto, null last', () => {
  assert.deepEqual(job(['--ioengine=sync,pool,io_uring']).engines, ['sync', 'pool', 'io_uring']);
  assert.deepEqual(job(['--ioengine=all']).engines, ['sync', 'pool', 'libuv', 'io_uring', 'auto', 'null'], 'auto beside the engines it chooses from');
  assert.deepEqual(job([]).engines, ['sync', 'pool', 'libuv', 'io_uring', 'auto', 'null'], 'no engine given: compare them all');
});

test('the sync engine caps iodepth at 1, as fio does for psync, and says so', () => {
  const p = plan(['--name=deep', '--iodepth=32', '--ioengine=sync,pool']);
  assert.match(p.notes.join('\n'), /iodepth is capped at 1.*deep/);
  assert.equal(plan(['--name=x', '--iodepth=1', '--ioengine=sync']).notes.length, 0);
});

test('the default run: six workloads, every engine, a temporary 256 MiB file', () => {
  const p = plan([], { directIo: true });
  assert.equal(p.defaultRun, true);
  assert.deepEqual(p.jobs.map(j => [j.rw, j.bs, j.iodepth, j.direct, j.fsync]), [['randread', 4096, 32, false, 0], ['randread', 4096, 1, false, 0],
    ['read', 131072, 8, false, 0], ['randwrite', 4096, 32, false, 0], ['randread', 4096, 32, true, 0], ['randwrite', 4096, 8, false, 1]]);
  assert.deepEqual(p.jobs.map(j => j.groupid), [0, 1, 2, 3, 4, 5], 'one workload at a time');
  for (const j of p.jobs) {
    assert.equal(j.size, 256 * 2 ** 20);
    assert.equal(j.invalidate, false, 'no page cache dropped: the cached workloads stay cached');
    assert.deepEqual(j.engines, ['sync', 'pool', 'libuv', 'io_uring', 'auto', 'null']);
    assert.equal(j.filename, p.temporary[0]);
  }
  assert.equal(p.temporary.length, 1);
});

test('whole-file workloads: filesize from size and nrfiles, and what does not apply to them is refused', () => {
  const [job] = plan(['--name=w', '--directory=/tmp', '--rw=readfile', '--nrfiles=10', '--size=40k']).jobs;
  assert.deepEqual([job.nrfiles, job.filesize, job.size], [10, 4096, 40960]);
  const [dflt] = plan(['--name=w', '--directory=/tmp', '--rw=stat', '--nrfiles=3']).jobs;
  assert.deepEqual([dflt.filesize, dflt.size], [4096, 12288]);
  refuses(['--name=w', '--rw=read', '--nrfiles=2'], /nrfiles=2: a rw=read job works on one file/);
  refuses(['--name=w', '--rw=readfile', '--direct=1'], /direct=1 does not apply/);
  refuses(['--name=w', '--rw=writefile', '--fsync=1'], /has no fsync/);
  refuses(['--name=w', '--rw=stat', '--filename=/tmp/x'], /makes its own files/);
  refuses(['--name=w', '--rw=readfiles'], /readfile/);
  const [stream] = plan(['--name=w', '--directory=/tmp', '--rw=readstream', '--size=1m', '--bs=64k']).jobs;
  assert.deepEqual([stream.nrfiles, stream.filesize, stream.bs], [1, 1 << 20, 65536]);
  refuses(['--name=w', '--rw=readstream', '--direct=1'], /direct=1 does not apply/);
});

test('the default run takes run-wide options from the command line, and refuses per-workload ones', () => {
  const p = plan(['--runtime=3', '--ioengine=sync,io_uring', '--size=64m'], { directIo: true });
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

test('CLI-only options: output format, output file, eta, fio, report', () => {
  const p = plan(['--name=x', '--output-format=json', '--output=/tmp/out.json', '--eta=never', '--fio', '--report=/tmp/r.html']);
  assert.deepEqual(p.cli, { outputFormat: 'json', output: '/tmp/out.json', eta: 'never', fio: true, report: '/tmp/r.html' });
  assert.equal(plan(['--name=x']).cli.outputFormat, 'normal');
});

test('refusals: unknown options, each naming the option and the closest known one', () => {
  refuses(['--name=x', '--bss=4k'], /unknown option '--bss'/, /did you mean '--bs'/);
  refuses(['--name=x', '--iodeph=4'], /'--iodeph'/, /'--iodepth'/);
  refuses(['--name=x', '--time-based'], /'--time-based'/, /'--time_based'/);
  refuses(['--ramptime=1'], /'--ramptime'/, /'--ramp_time'/);
  refuses(['--name=x', '-b', '4k'], /unknown option '-b'/);
  refuses(['--name=x', '--iodepth_batch_submit=8'], /'--iodepth_batch_submit' is not supported/);
});

test('refusals: values the bench cannot use, each naming the option', () => {
  const cases: Array<[string[], RegExp[]]> = [
    [['--rw=randred'], [/'--rw'/, /randread/]],
    [['--rw=trim'], [/'--rw'/, /trim is not supported/]],
    [['--rw=randread:8'], [/'--rw'/, /':' modifier/]],
    [['--bs=4x'], [/'--bs'/, /size/]],
    [['--bs=4k,,8k'], [/'--bs'/, /none empty/]],
    [['--bs=4k,'], [/'--bs'/, /none empty/]],
    [['--bs=4k,8x'], [/'--bs'/, /'8x' in the list/, /size/]],
    [['--bs=4k,0'], [/'--bs'/, /'0' in the list/, /at least 1 byte/]],
    [['--bs=4k,4096'], [/'--bs'/, /'4096' is the same value as '4k'/]],
    [['--iodepth=1,,4'], [/'--iodepth'/, /none empty/]],
    [['--iodepth=1,x'], [/'--iodepth'/, /'x' in the list/, /integer/]],
    [['--iodepth=0,4'], [/'--iodepth'/, /'0' in the list/]],
    [['--iodepth=4,70000'], [/'--iodepth'/, /'70000' in the list/]],
    [['--iodepth=4,4'], [/'--iodepth'/, /'4' is the same value as '4'/]],
    [['--report'], [/'--report' needs a value/]],
    [['--bs=0'], [/'--bs'/]],
    [['--size=0'], [/'--size'/]],
    [['--iodepth=0'], [/'--iodepth'/]],
    [['--iodepth=many'], [/'--iodepth'/]],
    [['--numjobs=0'], [/'--numjobs'/]],
    [['--numjobs=1000'], [/'--numjobs'/, /64/]],
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
  refuses(['--name=x', '--direct=1'], /direct=1 needs O_DIRECT, which this platform does not have/);
  refuses(['--name='], /a job needs a name/);
  refuses(['--name=x', '--rw=randrw', '--batch=1'], /batch=1 drives reads or writes/);
  refuses(['--name=x', '--rw=write', '--batch=1', '--fsync=4'], /batch=1 has no fsync/);
  assert.equal(plan(['--name=x', '--rw=randread', '--batch=1']).jobs[0].batch, true);
  refuses(['--name=x', '--fixedbufs', '--ioengine=io_uring,sync'], /fixedbufs=1 is an option of io_uring \(as fio's\), not of sync/);
  refuses(['--name=x', '--registerfiles=0', '--ioengine=pool'], /registerfiles=0 is an option of io_uring/);
  refuses(['--name=x', '--fixedbufs', '--ioengine=io_uring', '--rw=readfile', '--directory=/tmp'], /fixedbufs=1 is for reads and writes at a position/);
  refuses(['--name=x', '--fixedbufs', '--ioengine=auto'], /not of auto/); // auto here runs on no ring (ENGINES has no auto)
  refuses(['--name=x', '--fixedbufs', '--ioengine=io_uring', '--iodepth=20000'], /the kernel takes at most 16384: iodepth=20000/);
  const ring = plan(['--name=x', '--fixedbufs', '--registerfiles=0', '--ioengine=io_uring']).jobs[0];
  assert.deepEqual([ring.fixedbufs, ring.registerfiles], [true, false]);
  assert.deepEqual([job([]).fixedbufs, job([]).registerfiles], [false, true], 'fio\'s defaults: no fixed buffers, files registered (ioengine\'s io_uring does)');
  const onRing = [...ENGINES, { name: 'io_uring', available: true, auto: [] }];
  assert.equal(plan(['--name=x', '--fixedbufs', '--ioengine=auto'], { engines: onRing }).jobs[0].fixedbufs, true, 'auto takes them where it runs on io_uring');
  const aligned = (argv: string[]) => planBench(['--name=x', ...argv], { ...ctx, directIo: true });
  assert.equal(aligned(['--direct=1', '--bs=4k']).jobs[0].direct, true, 'direct=1 runs where O_DIRECT exists');
  assert.throws(() => aligned(['--direct=1', '--bs=1000']), /multiple of 512/);
  assert.throws(() => aligned(['--direct=1', '--offset=100']), /offset to be a multiple of 512/);
});

test('refusals: jobs that run together must agree on the number of engines', () => {
  refuses(['--name=a', '--ioengine=sync,pool', '--name=b', '--ioengine=sync,pool,libuv'], /same number of engines/);
  const p = plan(['--name=a', '--ioengine=sync,pool', '--name=b', '--ioengine=libuv']);
  assert.deepEqual(p.jobs.map(j => j.engines), [['sync', 'pool'], ['libuv']], 'a job with one engine runs it in every pass');
});

test('sweeps: --iodepth and --bs lists run every combination, each a group of its own, on every engine', () => {
  const p = plan(['--name=qd', '--size=1m', '--iodepth=1,4,16,32', '--bs=4k,64k', '--ioengine=sync,io_uring']);
  assert.deepEqual(p.jobs.map(j => [j.name, j.bs, j.iodepth, j.groupid]), [
    ['qd-bs4k-qd1', 4096, 1, 0], ['qd-bs4k-qd4', 4096, 4, 1], ['qd-bs4k-qd16', 4096, 16, 2], ['qd-bs4k-qd32', 4096, 32, 3],
    ['qd-bs64k-qd1', 65536, 1, 4], ['qd-bs64k-qd4', 65536, 4, 5], ['qd-bs64k-qd16', 65536, 16, 6], ['qd-bs64k-qd32', 65536, 32, 7],
  ]);
  for (const j of p.jobs) {
    assert.deepEqual(j.engines, ['sync', 'io_uring'], 'every combination on every engine named');
    assert.equal(j.sweep, undefined);
    assert.equal(j.jobOptions.name, j.name, "fio's job options name the combination");
    assert.equal(j.jobOptions.bs, j.bs === 4096 ? '4k' : '64k');
    assert.equal(j.jobOptions.iodepth, String(j.iodepth));
    assert.equal(cloneFile(j, 0), 'qd.0.0', "the combinations share the job's file");
  }
  assert.deepEqual(p.jobs.map(j => j.index), [0, 1, 2, 3, 4, 5, 6, 7]);
  const one = plan(['--name=d', '--iodepth=1,8']);
  assert.deepEqual(one.jobs.map(j => [j.name, j.bs, j.iodepth, j.jobOptions.bs]), [['d-qd1', 4096, 1, undefined], ['d-qd8', 4096, 8, undefined]], 'only the swept option in the name');
  assert.deepEqual(plan(['--name=b', '--bs=64k,4k']).jobs.map(j => j.name), ['b-bs64k', 'b-bs4k'], 'in the order given');
});

test('sweeps: a list before the first --name sweeps every job; a job\'s own value replaces it', () => {
  const p = plan(['--iodepth=1,2', '--size=1m', '--name=a', '--name=b', '--stonewall', '--name=c', '--stonewall', '--iodepth=8']);
  assert.deepEqual(p.jobs.map(j => [j.name, j.iodepth, j.groupid]), [['a-qd1', 1, 0], ['a-qd2', 2, 1], ['b-qd1', 1, 2], ['b-qd2', 2, 3], ['c', 8, 4]]);
  assert.equal(p.globalOptions.iodepth, '1,2', 'global options as written');
  const together = plan(['--iodepth=1,2', '--name=r', '--rw=randread', '--name=w', '--rw=randwrite']);
  assert.deepEqual(together.jobs.map(j => [j.name, j.groupid]), [['r-qd1', 0], ['w-qd1', 0], ['r-qd2', 1], ['w-qd2', 1]], 'jobs that run together sweep together, point by point');
});

test('sweeps: refusals', () => {
  refuses(['--name=a', '--iodepth=1,2', '--name=b'], /job 'b' runs together with 'a', which is a sweep/, /--stonewall/);
  refuses(['--name=a', '--iodepth=1,2', '--name=b', '--iodepth=1,2,4'], /sweep the same number of combinations: 'a' has 2, 'b' has 3/);
  refuses(['--name=a', '--size=8k', '--bs=4k,16k'], /job 'a-bs16k': size \(8192\) is smaller than bs \(16384\)/);
  refuses(['--iodepth=4,8'], /'--iodepth' is set by each workload of the default run/);
  const files = (text: string) => planBench(['job.fio'], { ...ctx, readFile: () => text });
  assert.throws(() => files('[a]\niodepth=1,4\n'), /job\.fio:2: invalid value '1,4' for 'iodepth'.*command line/);
  assert.throws(() => files('[a]\nbs=4k,8k\n'), /job\.fio:2: invalid value '4k,8k' for 'bs'.*separate read,write block sizes/);
  assert.deepEqual(planBench(['--bs=4k,8k', 'job.fio'], { ...ctx, readFile: () => '[a]\nsize=1m\n' }).jobs.map(j => j.name), ['a-bs4k', 'a-bs8k'], 'a command-line sweep applies to job files');
});
