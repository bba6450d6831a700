// The `thread` engine: a new native thread for every operation (native/thread.c): concurrency
// bought with a thread's creation each time.
import type { EngineDescriptor } from './descriptor.js';
import { NativeBackend, nativeReason, THREAD_REASONS } from './native.js';

export const thread: EngineDescriptor = {
  name: 'thread',
  color: '#9c755f',
  defaults: { threads: 64 },
  probe: nativeReason,
  create: (o, fallback) => new NativeBackend('thread', o, o.threads!, fallback),
  reasons: THREAD_REASONS,
};
