// The `posix-aio` engine: glibc's aio_read/aio_write/aio_fsync (native/posix_aio.c), which glibc
// runs on user-space threads of its own.
import type { EngineDescriptor } from './descriptor.js';
import { NativeBackend, probeNative, THREAD_REASONS } from './native.js';

export const posixAio: EngineDescriptor = {
  name: 'posix-aio',
  fioNames: ['posixaio'],
  fioReference: 'posixaio',
  color: '#76b7b2',
  defaults: { queueDepth: 256 },
  probe: () => probeNative(posixAio),
  create: (o, fallback) => new NativeBackend('posix-aio', {}, o.queueDepth!, fallback),
  reasons: THREAD_REASONS,
};
