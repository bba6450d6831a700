// What the main thread and a `workers` engine thread share: one control block per worker.
// i32[STATE] moves IDLE -> REQUEST (main) -> DONE (worker) -> IDLE (main), with Atomics.
export const STATE = 0;
export const IDLE = 0, REQUEST = 1, DONE = 2;
// i32[READY] becomes 1 once the worker has loaded its modules (terminated while loading them, a
// worker was seen to leave their files open).
export const READY = 1;
export const CONTROL_BYTES = 128;
// Float64 slots of the control block (index into a Float64Array over the same memory).
export const F = { op: 1, fd: 2, position: 3, length: 4, a: 5, b: 6, result: 7, newData: 8 } as const;

/**
 * The data block a worker reads into and writes from: a SharedArrayBuffer used from `offset`,
 * where its memory is aligned for O_DIRECT (DATA_ALIGN) when the addon can say where it lies.
 */
export interface DataBlock { buffer: SharedArrayBuffer; offset: number; size: number }
export const DATA_ALIGN = 4096;

/** The block's usable bytes. */
export const dataView = (b: DataBlock, length = b.size): Uint8Array => new Uint8Array(b.buffer, b.offset, length);
