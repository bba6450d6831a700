// All argument checking, done before any I/O starts (as lib/internal/validators.js does in Node).
import { fileURLToPath } from 'node:url';
import { invalidArgType, invalidArgValue, invalidUrlScheme, outOfRange } from './errors.js';

export type Bytes = NodeJS.ArrayBufferView;

export function validateBuffer(buffer: unknown, name = 'buffer'): asserts buffer is Bytes {
  if (!ArrayBuffer.isView(buffer)) throw invalidArgType(name, 'an instance of Buffer, TypedArray, or DataView', buffer);
}

export function validateBufferArray(buffers: unknown, name = 'buffers'): asserts buffers is Bytes[] {
  if (!Array.isArray(buffers)) throw invalidArgType(name, 'an instance of ArrayBufferView[]', buffers);
  for (let i = 0; i < buffers.length; i++)
    if (!ArrayBuffer.isView(buffers[i])) throw invalidArgType(name, 'an instance of ArrayBufferView[]', buffers);
  if (buffers.length > 1024) throw outOfRange(`${name}.length`, '<= 1024 (IOV_MAX)', buffers.length);
}

/** The bytes a list of buffers holds. */
export function byteLengthOf(buffers: Bytes[]): number {
  let n = 0;
  for (const b of buffers) n += b.byteLength;
  return n;
}

export function validateInteger(value: unknown, name: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value)) throw outOfRange(name, 'an integer', value);
  if (value < min || value > max) throw outOfRange(name, `>= ${min} && <= ${max}`, value);
  return value;
}

/** null/undefined/-1 mean "the current file position", returned as -1. */
export function validatePosition(position: unknown, name = 'position'): number {
  if (position === null || position === undefined) return -1;
  if (typeof position === 'bigint') {
    if (position < -1n || position > BigInt(Number.MAX_SAFE_INTEGER)) throw outOfRange(name, `>= -1 && <= ${Number.MAX_SAFE_INTEGER}`, position);
    return Number(position);
  }
  if (typeof position !== 'number') throw invalidArgType(name, 'of type number or bigint', position);
  return validateInteger(position, name, -1);
}

/** offset and length inside buffer, as validateOffsetLengthRead/Write do. */
export function validateRange(buffer: Bytes, offset: unknown, length: unknown): [number, number] {
  const size = buffer.byteLength;
  const off = offset === undefined || offset === null ? 0 : validateInteger(offset, 'offset', 0);
  if (off > size) throw outOfRange('offset', `>= 0 && <= ${size}`, off);
  const len = length === undefined || length === null ? size - off : validateInteger(length, 'length', 0);
  if (off + len > size) throw outOfRange('length', `<= ${size - off}`, len);
  return [off, len];
}

/**
 * offset and length of filehandle.read(), checked in node's order (lib/internal/fs/promises.js
 * read): offset; a length of 0 is a read of nothing, even into an empty buffer; an empty buffer;
 * then the range. Where node would go on with a length that is not an integer (its native side
 * then aborts the process) it is refused. Returns undefined for a read of nothing.
 */
export function readRange(buffer: Bytes, offset: unknown, length: unknown): [number, number] | undefined {
  const size = buffer.byteLength;
  const off = offset === undefined || offset === null ? 0 : validateInteger(offset, 'offset', 0);
  const len = length ?? size - off;
  if (len === 0) return undefined;
  if (size === 0) throw invalidArgValue('buffer', buffer, 'is empty and cannot be written');
  if (typeof len !== 'number') throw invalidArgType('length', 'of type number', len);
  if (len < 0) throw outOfRange('length', '>= 0', len);
  if (off + len > size) throw outOfRange('length', `<= ${size - off}`, len);
  return [off, validateInteger(len, 'length', 0)];
}

/**
 * offset and length of filehandle.write(buffer, …), as node checks them (validateOffsetLengthWrite):
 * a length that is not a number means the rest of the buffer.
 */
export function writeRange(buffer: Bytes, offset: unknown, length: unknown): [number, number] {
  const size = buffer.byteLength;
  const off = offset === undefined || offset === null ? 0 : validateInteger(offset, 'offset', 0);
  const len = typeof length === 'number' ? length : size - off;
  if (off > size) throw outOfRange('offset', `<= ${size}`, off);
  if (len > size - off) throw outOfRange('length', `<= ${size - off}`, len);
  if (len < 0) throw outOfRange('length', '>= 0', len);
  return [off, validateInteger(len, 'length', 0, 2 ** 31 - 1)];
}

export function validatePath(path: unknown, name = 'path'): string {
  if (path instanceof URL) {
    if (path.protocol !== 'file:') throw invalidUrlScheme('file');
    path = fileURLToPath(path);
  } else if (path instanceof Uint8Array) {
    path = Buffer.from(path.buffer, path.byteOffset, path.byteLength).toString();
  }
  if (typeof path !== 'string') throw invalidArgType(name, 'of type string or an instance of Buffer or URL', path);
  if (path.includes('\u0000')) throw invalidArgValue(name, path, 'must be a string, Uint8Array, or URL without null bytes');
  return path;
}

export function validateObject(value: unknown, name: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw invalidArgType(name, 'of type object', value);
  return value as Record<string, unknown>;
}

export function validateSignal(signal: unknown, name = 'options.signal'): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) throw invalidArgType(name, 'an instance of AbortSignal', signal);
  return signal;
}

/** Engine options: every name one of the engines reads (`known`), every value in range; nothing silently ignored. */
export function validateEngineOptions(options: unknown, known: readonly string[]): void {
  const o = validateObject(options, 'options');
  for (const key of Object.keys(o)) {
    if (!known.includes(key)) throw invalidArgValue(`options.${key}`, o[key], `is not an engine option (known: ${known.join(', ')})`);
  }
  const count = (key: string, value: unknown, max: number) => {
    if (value !== undefined) validateInteger(value, key, 1, max);
  };
  count('options.threads', o.threads, 1024);
  count('options.queueDepth', o.queueDepth, 1 << 20);
  count('options.entries', o.entries, 32768);
  if (o.sqpoll !== undefined && typeof o.sqpoll !== 'boolean') {
    const sq = validateObject(o.sqpoll, 'options.sqpoll');
    count('options.sqpoll.idle', sq.idle, 60_000);
  }
  if (o.inline !== undefined && typeof o.inline !== 'boolean') throw invalidArgType('options.inline', 'of type boolean', o.inline);
  if (o.registerFiles !== undefined && typeof o.registerFiles !== 'boolean') count('options.registerFiles', o.registerFiles, 65536);
  if (o.registeredBuffers !== undefined) {
    const rb = validateObject(o.registeredBuffers, 'options.registeredBuffers');
    validateInteger(rb.count, 'options.registeredBuffers.count', 1, 16384);
    validateInteger(rb.size, 'options.registeredBuffers.size', 1, 1 << 30);
  }
}
