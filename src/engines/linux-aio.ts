// The `linux-aio` engine: io_setup/io_submit/io_getevents (native/linux_aio.c). Asynchronous only
// with O_DIRECT: on the page cache io_submit does the whole read or write before it returns.
import type { EngineDescriptor } from './descriptor.js';
import { NativeBackend, probeNative } from './native.js';

export const linuxAio: EngineDescriptor = {
  name: 'linux-aio',
  fioNames: ['libaio'],
  fioReference: 'libaio',
  color: '#c9a227',
  defaults: { entries: 256 },
  probe: () => probeNative(linuxAio),
  create: (o, fallback) => new NativeBackend('linux-aio', { entries: o.entries }, o.entries!, fallback, 'io_setup'),
  reasons: {
    ENOSYS: 'this kernel was built without Linux AIO (CONFIG_AIO)',
    EPERM: 'Linux AIO is not permitted here (a seccomp profile refuses io_setup)',
    EAGAIN: 'the system-wide limit of AIO events is reached: raise the sysctl fs.aio-max-nr',
    EMFILE: 'the open-file limit is reached: raise `ulimit -n` (RLIMIT_NOFILE) or close files',
  },
};
