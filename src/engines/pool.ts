// The `pool` engine: pre-spawned native threads with a bounded queue (native/pool.c), the
// classic server design. It also runs, one by one, what another native engine cannot do.
import type { EngineDescriptor } from './descriptor.js';
import { NativeBackend, nativeReason, THREAD_REASONS } from './native.js';

export const pool: EngineDescriptor = {
  name: 'pool',
  color: '#f28e2b',
  autoRank: 3,
  defaults: { threads: 4, queueDepth: 64, inline: false },
  probe: nativeReason,
  create: (o, fallback) => new NativeBackend('pool', o, o.threads! + o.queueDepth!, fallback),
  reasons: THREAD_REASONS,
};
