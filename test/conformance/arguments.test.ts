// Property tests (fast-check) of argument handling against node:fs/promises itself: random
// arguments of every type (numbers in and out of range, fractions, NaN, bigints, strings,
// objects, typed arrays and views) given to FileHandle's read, write, readv, writev and truncate
// and to the path functions of ioengine/fs, on each engine and on node, each on its own copy of
// the same file. Every call must end the same way: the same result, bytes and file, or an error of
// the same class and code (a refusal, before any I/O, leaves the file as it was).
//
// Where ioengine departs from node on purpose, a property says so:
// - positions: node 20's FileHandle takes any position that is not a safe integer (1.5, NaN,
//   'x', 2n, 2 ** 53) for "the current position", and reads or writes there; ioengine refuses
//   it, so that a wrong position never reads or writes somewhere else (README, FileHandle);
// - read lengths that are not integers, and a write length of -0: node aborts the process (a
//   CHECK in node_file.cc); ioengine refuses them. They are left out of the comparison with node;
// - where node's own code trips on a value (a TypeError without a code: `1 - 0n` while it fills
//   in a default), ioengine refuses it with ERR_INVALID_ARG_TYPE.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { fsOn } from '../../src/fs/index.js';
import type { Engine } from '../../src/index.js';
import { conformance, outcome, pattern, type Handle } from './engines.js';

const CONTENT = pattern(64, 21);
const RUNS = Number(process.env.IOENGINE_PROPERTY_RUNS ?? 60); // more, to search harder

/** A number or anything else a caller might pass where a number goes. */
const anything = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: -3, max: 80 }) },
  { weight: 1, arbitrary: fc.constantFrom(undefined, null, NaN, Infinity, -Infinity, -0, 1.5, -1, 2 ** 31, 2 ** 53, Number.MAX_SAFE_INTEGER + 2) },
  { weight: 1, arbitrary: fc.bigInt({ min: -2n, max: 80n }) },
  { weight: 1, arbitrary: fc.constantFrom('', '1', 'utf8', 'hex', 'bogus', true, {}, [], () => 0, Symbol('s')) },
);
/** A position both take the same way: none, the current one, or a place in or past the file. */
const position = fc.oneof(fc.constantFrom(undefined, null, -1), fc.integer({ min: 0, max: 80 }));
/** A position node takes for the current one though it names none. */
const strayPosition = fc.oneof(fc.constantFrom(NaN, Infinity, -Infinity, 1.5, -2, -5, 2 ** 53, Number.MAX_SAFE_INTEGER + 2, '', '1', 'x', true, {}, []),
  fc.double({ noInteger: true }));
/** A read length that node does not abort on. */
const readLength = fc.oneof(fc.integer({ min: -3, max: 80 }), fc.constantFrom(undefined, null, 2 ** 31, Infinity, -Infinity));

/** Where data goes or comes from: described, so that node and the engine each get their own. */
const bufferSpec = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constantFrom('Buffer', 'Uint8Array', 'DataView', 'Float32Array', 'Uint16Array'), size: fc.integer({ min: 0, max: 40 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('string', 'null', 'undefined', 'number', 'object', 'ArrayBuffer'), size: fc.integer({ min: 0, max: 8 }) }) },
);
type BufferSpec = { kind: string; size: number };

function make(spec: BufferSpec): unknown {
  const bytes = pattern(spec.size * 4, spec.size + 3);
  switch (spec.kind) {
    case 'Buffer': return Buffer.from(bytes.subarray(0, spec.size));
    case 'Uint8Array': return new Uint8Array(bytes.subarray(0, spec.size));
    case 'DataView': return new DataView(new Uint8Array(bytes.subarray(0, spec.size)).buffer);
    case 'Float32Array': return new Float32Array(new Uint8Array(bytes).buffer, 0, spec.size);
    case 'Uint16Array': return new Uint16Array(new Uint8Array(bytes.subarray(0, spec.size * 2)).buffer);
    case 'ArrayBuffer': return new Uint8Array(bytes.subarray(0, spec.size)).buffer;
    case 'string': return 'abcdefgh'.slice(0, spec.size);
    case 'null': return null;
    case 'number': return spec.size;
    case 'object': return { length: spec.size };
    default: return undefined;
  }
}

/** The bytes a buffer-like holds now, to compare what a read wrote into it. */
function bytesOf(b: unknown): string | undefined {
  if (ArrayBuffer.isView(b)) return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
  if (b instanceof ArrayBuffer) return Buffer.from(b).toString('hex');
  return undefined;
}

/** A call's end, as data: thrown synchronously, or its promise's outcome; results reduced to numbers and bytes. */
async function ending(call: () => unknown): Promise<unknown> {
  let p: unknown;
  try {
    p = call();
  } catch (err) {
    return { threw: { name: (err as Error).name, code: (err as { code?: unknown }).code } };
  }
  const o = await outcome(Promise.resolve(p));
  if (!('value' in o)) return o;
  const v = o.value as { bytesRead?: number; bytesWritten?: number; buffer?: unknown; buffers?: unknown[] } | undefined;
  if (ArrayBuffer.isView(v)) return { value: bytesOf(v) };
  if (v === undefined || typeof v !== 'object') return { value: v };
  return { value: { bytesRead: v.bytesRead, bytesWritten: v.bytesWritten, buffer: bytesOf(v.buffer), buffers: v.buffers?.map(bytesOf) } };
}

/** The file's size and first bytes (a write far out makes a sparse file: not read whole). */
function fileState(p: string): string {
  const fd = fs.openSync(p, 'r');
  try {
    const head = Buffer.alloc(256);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    return `${fs.fstatSync(fd).size} ${head.subarray(0, n).toString('hex')}`;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Runs call on a handle of node:fs/promises and on one of the engine, each on its own copy of
 * the file, with its own copies of the arguments (made by args); the ends, the arguments' bytes
 * afterwards and the files must be the same.
 */
async function sameEnd(engine: Engine, dir: string, args: () => unknown[], call: (fh: Handle, args: unknown[]) => unknown): Promise<void> {
  const run = async (name: string, open: (p: string) => Promise<Handle>) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, CONTENT);
    const fh = await open(p);
    const a = args();
    try {
      const end = await ending(() => call(fh, a));
      return { end, args: a.map(bytesOf), file: fileState(p) };
    } finally {
      await fh.close();
    }
  };
  const node = await run('node', p => fsp.open(p, 'r+'));
  const ours = await run('engine', p => engine.open(p, 'r+') as unknown as Promise<Handle>);
  if (accident(node.end) && refusedType(ours.end)) ours.end = node.end;
  assert.deepStrictEqual(ours, node);
}

/**
 * A TypeError without a code: not one of node's checks but its own code tripping on the value
 * (`1 - 0n`, `null.byteLength` while it fills in defaults). ioengine refuses such a value with
 * ERR_INVALID_ARG_TYPE, which counts as the same end.
 */
function accident(end: unknown): boolean {
  const e = (end as { error?: { name: string; code?: unknown } }).error;
  return e !== undefined && e.name === 'TypeError' && e.code === undefined;
}
function refusedType(end: unknown): boolean {
  const e = (end as { error?: { name: string; code?: unknown } }).error;
  return e !== undefined && e.name === 'TypeError' && e.code === 'ERR_INVALID_ARG_TYPE';
}

conformance('arguments as node:fs/promises takes them (properties)', test => {
  test('read(buffer, offset, length, position), read(buffer, options) and read(options)', { timeout: 120_000 }, async ({ engine, dir }) => {
    await fc.assert(fc.asyncProperty(bufferSpec, anything, readLength, position, fc.integer({ min: 0, max: 2 }), async (spec, offset, length, at, form) => {
      await sameEnd(engine, dir, () => [make(spec)], (fh, [buffer]) =>
        form === 0 ? fh.read(buffer as Buffer, offset as number, length as number, at)
          : form === 1 ? fh.read(buffer as Buffer, { offset, length, position: at } as never)
            : fh.read({ buffer, offset, length, position: at } as never));
    }), { numRuns: RUNS, includeErrorInReport: true });
  });

  test('write(buffer, offset, length, position), write(buffer, options) and write(string, position, encoding)', { timeout: 120_000 }, async ({ engine, dir }) => {
    // A length of -0 aborts node (its native side wants an int32): left out.
    const length = anything.filter(v => !Object.is(v, -0));
    await fc.assert(fc.asyncProperty(bufferSpec, anything, length, position, fc.integer({ min: 0, max: 2 }), async (spec, a, b, at, form) => {
      // A string goes the string form's way, with its position in the second place.
      await sameEnd(engine, dir, () => [form === 2 || spec.kind === 'string' ? 'héllo wörld'.slice(0, spec.size) : make(spec)], (fh, [data]) =>
        typeof data === 'string' ? fh.write(data, at, b as BufferEncoding) :
          form === 0 ? fh.write(data as Buffer, a as number, b as number, at)
            : fh.write(data as Buffer, { offset: a, length: b, position: at } as never));
    }), { numRuns: RUNS, includeErrorInReport: true });
  });

  test('readv, writev and truncate', { timeout: 120_000 }, async ({ engine, dir }) => {
    const op = fc.constantFrom('readv', 'writev', 'truncate');
    await fc.assert(fc.asyncProperty(op, fc.array(bufferSpec, { maxLength: 4 }), fc.boolean(), position, anything, async (name, specs, asArray, at, len) => {
      await sameEnd(engine, dir, () => [asArray ? specs.map(make) : make(specs[0] ?? { kind: 'undefined', size: 0 })], (fh, [buffers]) =>
        name === 'truncate' ? fh.truncate(len as number)
          : name === 'readv' ? fh.readv(buffers as Buffer[], at as number) : fh.writev(buffers as Buffer[], at as number));
    }), { numRuns: RUNS, includeErrorInReport: true });
  });

  test('a position that names no place is refused, where node would use the current one: nothing read or written', { timeout: 120_000 }, async ({ engine, dir }) => {
    const op = fc.constantFrom('read', 'write', 'write string', 'readv', 'writev');
    await fc.assert(fc.asyncProperty(op, strayPosition, async (name, at) => {
      const p = path.join(dir, 'stray');
      fs.writeFileSync(p, CONTENT);
      const fh = await engine.open(p, 'r+');
      try {
        const into = Buffer.alloc(8, 0xee);
        const call = name === 'read' ? () => fh.read(into, 0, 8, at as number)
          : name === 'write' ? () => fh.write(Buffer.from('written!'), 0, 8, at as number)
            : name === 'write string' ? () => fh.write('written!', at as number)
              : name === 'readv' ? () => fh.readv([into], at as number) : () => fh.writev([Buffer.from('written!')], at as number);
        const end = await ending(call);
        assert.ok(typeof end === 'object' && end !== null && 'error' in end, `${name} at ${String(at)}: not refused: ${JSON.stringify(end)}`);
        const { error } = end as { error: { name: string; code: string; message?: string } };
        assert.ok(['TypeError', 'RangeError'].includes(error.name) && ['ERR_INVALID_ARG_TYPE', 'ERR_OUT_OF_RANGE'].includes(error.code), `${name} at ${String(at)}: ${JSON.stringify(error)}`);
        assert.ok(into.equals(Buffer.alloc(8, 0xee)), 'nothing was read');
        assert.ok((await fh.read(Buffer.alloc(64), 0, 64, null)).buffer.equals(CONTENT), 'nothing was written, and the position is still 0');
      } finally {
        await fh.close();
      }
    }), { numRuns: RUNS, includeErrorInReport: true });
  });

  test('readFile, writeFile, appendFile, open and truncate by path, with options of any shape', { timeout: 120_000 }, async ({ engine, dir }) => {
    const ours = fsOn(engine);
    // -0 and modes of 2 ** 31 and more abort node (its native side wants int32s): left out.
    const sane = (v: unknown) => !Object.is(v, -0) && !(typeof v === 'number' && v >= 2 ** 31 && v <= 0xffffffff);
    const flags = fc.oneof(fc.constantFrom('r', 'r+', 'w', 'wx', 'a', 'as+', 'rs', 'x', 'bogus', 0, 2, 0o1102, -1, 1.5), anything).filter(sane);
    const options = fc.oneof(anything, fc.record({ encoding: fc.oneof(fc.constantFrom('utf8', 'hex', 'base64', 'latin1', 'bogus', null), anything), flag: flags, mode: anything.filter(sane) }, { requiredKeys: [] }));
    const op = fc.constantFrom('readFile', 'writeFile', 'appendFile', 'open', 'truncate');
    await fc.assert(fc.asyncProperty(op, options, flags, anything.filter(sane), async (name, opts, flag, mode) => {
      const run = async (tag: string, fsx: typeof fsp) => {
        const p = path.join(dir, tag);
        fs.writeFileSync(p, CONTENT);
        const end = await ending(async () => {
          switch (name) {
            case 'readFile': return fsx.readFile(p, opts as never);
            case 'writeFile': return fsx.writeFile(p, 'dätä', opts as never);
            case 'appendFile': return fsx.appendFile(p, 'dätä', opts as never);
            case 'truncate': return fsx.truncate(p, mode as number);
            default: {
              const fh = await fsx.open(p, flag as never, mode as never);
              await fh.close();
              return undefined;
            }
          }
        });
        const file = fs.existsSync(p) ? fileState(p) : 'absent';
        return { end: JSON.parse(JSON.stringify(end).split(p).join('<path>')), file };
      };
      assert.deepStrictEqual(await run('engine', ours as unknown as typeof fsp), await run('node', fsp));
    }), { numRuns: RUNS, includeErrorInReport: true });
  });
});
