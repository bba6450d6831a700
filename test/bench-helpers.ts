// What the tests of the bench's plan share: a machine to plan for, and how a refusal is checked.
// (node --test also loads this file: it must stay free of side effects.)
import assert from 'node:assert/strict';
import { BenchUsageError } from '../src/bench/options.js';

/** A machine where linux-aio cannot run: the plan must say why instead of running it. */
export const ENGINES = [
  { name: 'sync', available: true },
  { name: 'pool', available: true },
  { name: 'libuv', available: true },
  { name: 'linux-aio', available: false, reason: 'io_setup: ENOSYS' },
  { name: 'io_uring', available: true },
  { name: 'null', available: true },
];

/** Planning refuses, with a BenchUsageError whose message matches every pattern. */
export function assertRefused(plan: () => unknown, patterns: RegExp[], message?: string): void {
  assert.throws(plan, (err: unknown) => {
    assert.ok(err instanceof BenchUsageError, `expected a BenchUsageError, got ${err}`);
    for (const p of patterns) assert.match(err.message, p);
    return true;
  }, message);
}
