// The close that ends a path operation's own file (src/fs/closing.ts), as node's fs/promises ends
// its own (handleFdClose with aggregateTwoErrors): a failed close is never lost.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { closing } from '../src/fs/closing.js';

const coded = (message: string, code: string) => Object.assign(new Error(message), { code });
const handle = (closeError?: Error) => {
  const h = { closed: 0, close: async () => { h.closed++; if (closeError) throw closeError; } };
  return h;
};

it('gives the result after a good close, and closes once', async () => {
  const h = handle();
  assert.equal(await closing(h, Promise.resolve(42)), 42);
  assert.equal(h.closed, 1);
});

it("a failed close after a good operation is the close's error", async () => {
  const closeError = coded('close failed', 'EIO');
  await assert.rejects(closing(handle(closeError), Promise.resolve(1)), closeError);
});

it("a failed operation with a good close is the operation's error", async () => {
  const opError = coded('read failed', 'EISDIR');
  const h = handle();
  await assert.rejects(closing(h, Promise.reject(opError)), opError);
  assert.equal(h.closed, 1);
});

it("both failed: one AggregateError with the operation's message and code, both errors in order", async () => {
  const opError = coded('read failed', 'EIO'), closeError = coded('close failed', 'EBADF');
  const err = await closing(handle(closeError), Promise.reject(opError)).then(() => undefined, (e: unknown) => e) as AggregateError & { code?: string };
  assert.ok(err instanceof AggregateError);
  assert.equal(err.message, 'read failed');
  assert.equal(err.code, 'EIO');
  assert.deepEqual(err.errors, [opError, closeError]);
});

it('an operation that failed with an AggregateError gets the close error added to it', async () => {
  const first = coded('first', 'EIO');
  const opError = Object.assign(new AggregateError([first], 'several'), { code: 'EIO' });
  const closeError = coded('close failed', 'EBADF');
  const err = await closing(handle(closeError), Promise.reject(opError)).then(() => undefined, (e: unknown) => e);
  assert.equal(err, opError);
  assert.deepEqual(opError.errors, [first, closeError]);
});
