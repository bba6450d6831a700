// The batch form: many reads (or writes) of one handle handed over together, one promise for
// all of them. Each request still is its own operation on the engine (they go native in the
// same submit() as everything else started in this turn), but there is no promise, result
// object or stack per request: one closure each, and one array of results. Programs that know
// their reads up front (a multi-get, an index lookup, a scatter read) pay ~0.4 µs less each.
import type { Backend, Done } from './engines/backend.js';
import { abortError, errnoOf, invalidArgType, invalidArgValue, systemError } from './errors.js';
import type { InFlight } from './operation.js';
import { validateBuffer, validateObject, validatePosition, validateRange, type Bytes } from './validate.js';

const ECANCELED = errnoOf('ECANCELED');

/** One request of readMany/writeMany: `position` is required (the batch runs in no order). */
export interface ManyRequest<T extends Bytes = Bytes> { buffer: T; offset?: number; length?: number; position: number | bigint }

/** The requests, checked before any of them runs, as columns. */
export interface Requests { buffers: Bytes[]; offsets: number[]; lengths: number[]; positions: number[] }

export function validateRequests(requests: unknown): Requests {
  if (!Array.isArray(requests)) throw invalidArgType('requests', 'an instance of Array', requests);
  const n = requests.length;
  const out: Requests = { buffers: new Array(n), offsets: new Array(n), lengths: new Array(n), positions: new Array(n) };
  for (let i = 0; i < n; i++) {
    const r = requests[i];
    // The usual request, checked without naming it (a name per request costs more than its read);
    // anything else goes through the checks that name what is wrong.
    if (typeof r === 'object' && r !== null && !Array.isArray(r) && ArrayBuffer.isView(r.buffer) && Number.isSafeInteger(r.position) && r.position >= 0) {
      const [offset, length] = validateRange(r.buffer, r.offset, r.length);
      out.buffers[i] = r.buffer; out.offsets[i] = offset; out.lengths[i] = length; out.positions[i] = r.position;
      continue;
    }
    const o = validateObject(r, `requests[${i}]`);
    validateBuffer(o.buffer, `requests[${i}].buffer`);
    const [offset, length] = validateRange(o.buffer, o.offset, o.length);
    const position = validatePosition(o.position, `requests[${i}].position`);
    if (position < 0) throw invalidArgValue(`requests[${i}].position`, o.position, 'must be a position: the requests of a batch run in no order');
    out.buffers[i] = o.buffer; out.offsets[i] = offset; out.lengths[i] = length; out.positions[i] = position;
  }
  return out;
}

/**
 * Runs every request on backend, each counted in inflight. Resolves with one entry per request,
 * in order: the bytes transferred, or that request's error. With a signal that aborts, what can
 * be taken back is, and the promise rejects with an AbortError once the engine has let go of
 * every buffer (it resolves if every request was done before any could be taken back).
 */
export function many(backend: Backend, inflight: InFlight, write: boolean, fd: number, r: Requests, signal: AbortSignal | undefined): Promise<(number | Error)[]> {
  const n = r.buffers.length;
  const results: (number | Error)[] = new Array(n);
  if (n === 0) return Promise.resolve(results);
  if (signal?.aborted) return Promise.reject(abortError(signal.reason));
  return new Promise((resolve, reject) => {
    let left = n, aborted = false, takenBack = false;
    // With a signal: the requests not yet settled, so that an abort asks only for those back.
    const pending: Set<Done> | undefined = signal ? new Set() : undefined;
    const onAbort = () => {
      aborted = true;
      for (const done of [...pending!]) backend.abort?.(done);
    };
    const settle = () => {
      signal?.removeEventListener('abort', onAbort);
      if (takenBack) reject(abortError(signal!.reason));
      else resolve(results); // all done before the abort could take any back
    };
    // Listening before any request starts: one that completes at once (sync) may settle the batch here.
    signal?.addEventListener('abort', onAbort, { once: true });
    const syscall = write ? 'write' : 'read';
    for (let i = 0; i < n; i++) {
      inflight.begin();
      const done: Done = result => {
        inflight.end();
        pending?.delete(done);
        if (result === ECANCELED && aborted) takenBack = true;
        results[i] = result >= 0 ? result : systemError(result, syscall);
        if (--left === 0) settle();
      };
      pending?.add(done);
      try {
        if (write) backend.write(fd, r.buffers[i], r.offsets[i], r.lengths[i], r.positions[i], done);
        else backend.read(fd, r.buffers[i], r.offsets[i], r.lengths[i], r.positions[i], done);
      } catch (err) {
        pending?.delete(done);
        inflight.end(); // not started (no memory for a fallback engine): its error is its result
        results[i] = err as Error;
        if (--left === 0) settle();
      }
    }
  });
}
