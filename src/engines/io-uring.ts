// The `io_uring` engine: shared submission and completion rings over the raw syscalls
// (native/io_uring.c): batching, inline completion of cached reads, registered files and buffers.
import type { EngineOptions } from './backend.js';
import type { EngineDescriptor } from './descriptor.js';
import { NativeBackend, probeNative } from './native.js';

/** The public options, as native/io_uring.c reads them. */
function nativeOptions(o: EngineOptions): object {
  const sqpoll = o.sqpoll === true ? {} : o.sqpoll || undefined;
  // Registered files are on by default: they spare the kernel a file lookup per operation.
  const files = o.registerFiles === false ? 0 : o.registerFiles === true ? 1024 : o.registerFiles;
  return {
    entries: o.entries,
    sqpollIdle: sqpoll ? sqpoll.idle ?? 1000 : 0,
    fileSlots: files,
    bufferCount: o.registeredBuffers?.count ?? 0,
    bufferSize: o.registeredBuffers?.size ?? 0,
    inline: o.inline === true,
  };
}

export const ioUring: EngineDescriptor = {
  name: 'io_uring',
  fioNames: ['io_uring'],
  fioReference: 'io_uring',
  color: '#e15759',
  autoRank: 1,
  kernelQueue: true,
  defaults: { entries: 256, registerFiles: true, sqpoll: false, registeredBuffers: undefined, inline: false },
  probe: () => probeNative(ioUring),
  // The completion queue has twice the entries: that many operations may be in flight.
  create: (o, fallback) => new NativeBackend('io_uring', nativeOptions(o), 2 * o.entries!, fallback, 'io_uring_setup'),
  reasons: {
    ENOSYS: 'this kernel has no io_uring (it needs Linux 5.6 or later, built with CONFIG_IO_URING)',
    EPERM: 'io_uring is not permitted here: a seccomp profile (Docker\'s default blocks it) or the sysctl kernel.io_uring_disabled; run with a profile that allows io_uring_setup/enter/register, or set kernel.io_uring_disabled=0',
    EACCES: 'io_uring is restricted to a group by the sysctl kernel.io_uring_group/io_uring_disabled=1',
    ENOMEM: 'not enough locked memory for the ring and its registered buffers: raise `ulimit -l` (RLIMIT_MEMLOCK), or use fewer entries or fewer registeredBuffers',
    EMFILE: 'the open-file limit is reached: raise `ulimit -n` (RLIMIT_NOFILE) or close files',
  },
};
