// ioengine bench: fio's job files (INI with fio's rules) and how they combine with the command line.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseJobFile } from '../src/bench/job-file.js';
import { BenchUsageError } from '../src/bench/options.js';
import { printable } from '../src/fio/printable.js';
import { planBench } from '../src/bench/plan.js';
import { assertRefused, ENGINES } from './bench-helpers.js';

const FIXTURES = new URL('../../test/fixtures/', import.meta.url);

function planFiles(files: Record<string, string>, argv: string[] = Object.keys(files)) {
  return planBench(argv, {
    engines: ENGINES, directIo: false, env: { BENCH_DIR: '/tmp/bench-dir' },
    readFile: f => {
      if (!(f in files)) throw new Error(`ENOENT: no such file or directory, open '${f}'`);
      return files[f];
    },
  });
}

const refuses = (text: string, ...patterns: RegExp[]) => assertRefused(() => planFiles({ 'job.fio': text }), patterns, text);

test("sections in order, repeated and odd names kept, bare flags, comments, ${VAR}", () => {
  const sections = parseJobFile([
    '; a comment', '# another', '', '[global]', 'bs = 4k', 'time_based', '[1]', 'rw=read',
    '[a.b]', 'filename=${DIR}/f', '[a.b]', '  iodepth=4  ', '[job with spaces]', 'description=x = y',
  ].join('\n'), 'job.fio', { DIR: '/data' });
  assert.deepEqual(sections.map(s => [s.name, s.global]), [['global', true], ['1', false], ['a.b', false], ['a.b', false], ['job with spaces', false]]);
  assert.deepEqual(sections[0].options.map(o => [o.name, o.value, o.where]), [['bs', '4k', 'job.fio:5'], ['time_based', undefined, 'job.fio:6']]);
  assert.equal(sections[2].options[0].value, '/data/f');
  assert.equal(sections[3].options[0].value, '4');
  assert.equal(sections[4].options[0].value, 'x = y', 'only the first = separates');
});

test('precedence as fio: command-line globals, then [global], then the job', () => {
  const p = planFiles({ 'job.fio': '[global]\nbs=8k\nsize=1m\n[a]\nbs=16k\n[b]\n' }, ['--bs=2k', '--iodepth=4', 'job.fio']);
  assert.deepEqual(p.jobs.map(j => [j.name, j.bs, j.iodepth, j.size]), [['a', 16384, 4, 2 ** 20], ['b', 8192, 4, 2 ** 20]]);
  assert.deepEqual(p.globalOptions, { bs: '8k', iodepth: '4', size: '1m' });
  assert.deepEqual(p.jobs[0].jobOptions, { bs: '16k' });
});

test('a [global] after a job applies to the jobs after it only', () => {
  const p = planFiles({ 'job.fio': '[a]\n[global]\niodepth=8\n[b]\n' });
  assert.deepEqual(p.jobs.map(j => j.iodepth), [1, 8]);
});

test('stonewall and wait_for_previous start groups; jobs between them run together', () => {
  const p = planFiles({ 'job.fio': '[a]\n[b]\n[c]\nstonewall\n[d]\n[e]\nwait_for_previous\n' });
  assert.deepEqual(p.jobs.map(j => [j.name, j.groupid]), [['a', 0], ['b', 0], ['c', 1], ['d', 1], ['e', 2]]);
});

test('--ioengine on the command line replaces the file\'s ioengine, with a note', () => {
  const p = planFiles({ 'job.fio': '[global]\nioengine=psync\n[a]\n[b]\nioengine=libuv\n' }, ['--ioengine=pool,io_uring', 'job.fio']);
  assert.deepEqual(p.jobs.map(j => j.engines), [['pool', 'io_uring'], ['pool', 'io_uring']]);
  assert.equal(p.notes.length, 2);
  assert.match(p.notes[1], /job\.fio:\d+: --ioengine=pool,io_uring on the command line replaces the job file's ioengine=libuv for job 'b'/);
  const own = planFiles({ 'job.fio': '[a]\nioengine=libuv\n' }, ['job.fio']);
  assert.deepEqual(own.jobs[0].engines, ['libuv']);
  assert.equal(own.notes.length, 0);
});

test('the fixtures read as fio reads them', () => {
  const read = (name: string) => fs.readFileSync(new URL(name, FIXTURES), 'utf8');
  const files = { 'bench-seq-rand.fio': read('bench-seq-rand.fio'), 'bench-clones.fio': read('bench-clones.fio'), 'bench-engines.fio': read('bench-engines.fio') };
  const seq = planFiles(files, ['bench-seq-rand.fio']);
  assert.deepEqual(seq.jobs.map(j => [j.name, j.rw, j.groupid, j.fsync]), [['seq-read', 'read', 0, 0], ['rand-read', 'randread', 1, 0], ['seq-write', 'write', 2, 0], ['rand-write', 'randwrite', 3, 32]]);
  for (const j of seq.jobs) assert.deepEqual([j.directory, j.filename, j.size, j.bs, j.iodepth, j.invalidate], ['/tmp/bench-dir', 'seq-rand.dat', 2 ** 21, 4096, 4, false]);
  const clones = planFiles(files, ['bench-clones.fio']);
  assert.deepEqual(clones.jobs.map(j => [j.name, j.numjobs, j.groupid, j.rw, j.rwmixread]), [['readers', 2, 0, 'randread', 50], ['writer', 1, 0, 'randwrite', 50], ['mixed', 2, 1, 'randrw', 70]]);
  const both = planFiles(files, ['bench-seq-rand.fio', 'bench-engines.fio']);
  assert.deepEqual(both.jobs.map(j => j.name), ['seq-read', 'rand-read', 'seq-write', 'rand-write', 'read', 'write'], 'job files in order');
});

test('refusals in job files name the file, the line and the option', () => {
  refuses('bs=4k\n[a]\n', /job\.fio:1: option 'bs=4k' is outside any section/);
  refuses('[a\nbs=4k\n', /job\.fio:1: a section header is \[name\]/);
  refuses('[]\n', /job\.fio:1: a section header/);
  refuses('[a]\n=4k\n', /job\.fio:2: cannot read '=4k' as key=value/);
  refuses('[a]\nbss=4k\n', /job\.fio:2: unknown option 'bss'/, /did you mean 'bs'/);
  refuses('[a]\nrw=randwrte\n', /job\.fio:2: invalid value 'randwrte' for 'rw'/, /randwrite/);
  refuses('[a]\nbs=4k ; comment\n', /job\.fio:2: invalid value '4k ; comment' for 'bs'/);
  refuses('[a]\nfilename=${NOPE}/f\n', /job\.fio:2: environment variable \$\{NOPE\} is not set/);
  refuses('[a]\noutput-format=json\n', /job\.fio:2: option 'output-format' is only for the command line/);
  refuses('[a]\nfio\n', /job\.fio:2: option 'fio' is only for the command line/);
  refuses('[a]\ninclude other.fio\n', /job\.fio:2: cannot read/);
  refuses('[a]\ninclude=other.fio\n', /job\.fio:2: option 'include' is not supported/);
  refuses('[a]\nsize\n', /job\.fio:2: option 'size' needs a value/);
  refuses('[a]\ntime_based\n', /job 'a': time_based needs a runtime/);
  refuses('; nothing\n[global]\nbs=4k\n', /no job defined/);
  assert.throws(() => planFiles({}, ['missing.fio']), /cannot read job file 'missing\.fio'/);
});

// ---- properties (fast-check) ----

const sectionName = fc.stringMatching(/^[A-Za-z0-9_.-][A-Za-z0-9_. -]{0,10}[A-Za-z0-9_.-]$|^[A-Za-z0-9_.-]$/);
const optionName = fc.stringMatching(/^[A-Za-z_][\w-]{0,12}$/);
const optionValue = fc.option(fc.stringMatching(/^[A-Za-z0-9/._:,+=-]([A-Za-z0-9/._:,+= -]{0,16}[A-Za-z0-9/._:,+=-])?$/), { nil: undefined });
const pad = fc.constantFrom('', ' ', '\t', '  ');
const jobFile = fc.array(fc.record({
  name: sectionName,
  options: fc.array(fc.record({ name: optionName, value: optionValue, before: pad, around: pad, comment: fc.boolean() }), { maxLength: 6 }),
}), { maxLength: 6 });

test('property: any job file written out is read back as written (names, order, values, bare flags), whatever the spacing, comments and line ends', () => {
  fc.assert(fc.property(jobFile, fc.constantFrom('\n', '\r\n'), (sections, eol) => {
    const lines: string[] = [];
    for (const s of sections) {
      lines.push(`[${s.name}]`);
      for (const o of s.options) {
        if (o.comment) lines.push(`${o.before}; ${o.name}=not this`, '# nor this');
        lines.push(o.value === undefined ? `${o.before}${o.name}${o.around}` : `${o.before}${o.name}${o.around}=${o.around}${o.value}${o.around}`);
        if (o.comment) lines.push('');
      }
    }
    const read = parseJobFile(lines.join(eol), 'job.fio', {});
    assert.deepEqual(read.map(s => ({ name: s.name, global: s.global, options: s.options.map(o => ({ name: o.name, value: o.value })) })),
      sections.map(s => ({ name: s.name, global: s.name === 'global', options: s.options.map(o => ({ name: o.name, value: o.value })) })));
  }), { numRuns: 300 });
});

test('property: any bytes as a job file give a plan or a BenchUsageError, never another exception; what the CLI prints of the message has no control characters', () => {
  const junk = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.uint8Array({ maxLength: 200 }).map(b => Buffer.from(b).toString('latin1')),
    fc.array(fc.oneof(fc.constantFrom('[a]', '[global]', 'bs=4k', 'rw=randread', 'size=1m', 'iodepth=', '${X}', '\x1b[31m', '\0', '[', '=', 'numjobs=1000', 'bs=-1'),
      fc.string({ maxLength: 12 })), { maxLength: 12 }).map(parts => parts.join('\n')),
  );
  fc.assert(fc.property(junk, text => {
    try {
      planFiles({ 'job.fio': text });
    } catch (err) {
      assert.ok(err instanceof BenchUsageError, `not a usage error: ${(err as Error)?.stack ?? String(err)}`);
      assert.doesNotMatch(printable(err.message), /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/, 'a control character reaches the terminal');
    }
  }), { numRuns: 500 });
});
