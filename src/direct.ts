// Direct I/O (O_DIRECT): aligned buffers, and the check that refuses a misaligned operation
// before it reaches the kernel, naming the alignment it needs.
import { binding, bindingError } from './binding.js';
import { addonMissing, errnoOf, outOfRange, systemError, type SystemError } from './errors.js';
import { validateInteger, type Bytes } from './validate.js';

const EINVAL = errnoOf('EINVAL');
const DEFAULT_ALIGNMENT = 4096;

/**
 * A Buffer of `size` zeroed bytes whose memory starts at a multiple of `alignment` (a power of
 * two), as O_DIRECT needs; the memory is freed when the Buffer is garbage-collected.
 */
export function allocAligned(size: number, alignment = DEFAULT_ALIGNMENT): Buffer {
  validateInteger(size, 'size', 0, 2 ** 31 - 1);
  validateInteger(alignment, 'alignment', 1, 1 << 30);
  if ((alignment & (alignment - 1)) !== 0 || alignment < 8) throw outOfRange('alignment', 'a power of two >= 8', alignment);
  const native = binding();
  if (!native) throw addonMissing('allocAligned()', bindingError()!);
  // An aligned slice of a V8 ArrayBuffer, not memory of our own behind an external Buffer: Node
  // frees external memory in a worker's environment cleanup, before engines have waited for the
  // kernel to finish writing into it (heap corruption); V8 frees its own only after that.
  const memory = new ArrayBuffer(size + alignment - 1);
  const pad = (alignment - native.misalignment(new Uint8Array(memory), 0, alignment)) % alignment;
  return Buffer.from(memory, pad, size);
}

/** What O_DIRECT requires of one file: from statx (stx_dio_*_align) where the kernel says, else 4096. */
export interface DirectAlignment {
  memory: number;
  offset: number;
}

export function directAlignment(memAlign: number, offsetAlign: number): DirectAlignment {
  return { memory: memAlign || DEFAULT_ALIGNMENT, offset: offsetAlign || DEFAULT_ALIGNMENT };
}

/** undefined when the operation is aligned, else the EINVAL error to reject it with. */
export function misaligned(a: DirectAlignment, syscall: string, buffers: Bytes[], offset: number, length: number, position: number): SystemError | undefined {
  const native = binding();
  let problem: string | undefined;
  if (position >= 0 && position % a.offset !== 0) problem = `the file position (${position})`;
  else if (length % a.offset !== 0) problem = `the length (${length})`;
  else {
    for (const b of buffers) {
      const at = buffers.length === 1 ? offset : 0;
      if (native && native.misalignment(b, at, a.memory) !== 0) { problem = 'the buffer address'; break; }
      if (buffers.length > 1 && b.byteLength % a.offset !== 0) { problem = `a buffer's length (${b.byteLength})`; break; }
    }
  }
  if (!problem) return undefined;
  const err = systemError(EINVAL, syscall);
  err.message += `: O_DIRECT needs the buffer address aligned to ${a.memory} bytes and the file position and length to ${a.offset}; ${problem} is not. Allocate buffers with allocAligned()`;
  err.stack = `Error: ${err.message}${err.stack?.slice(err.stack.indexOf('\n')) ?? ''}`;
  return err;
}
