// What the engines built on node:fs (sync, libuv, workers) share: how a position and an error
// cross between the engine contract and node:fs.
import { constants } from 'node:os';

export const EINVAL = -constants.errno.EINVAL;

/** The contract's position -1 (the file's current position) is node:fs's null. */
export const positionArg = (position: number): number | null => (position < 0 ? null : position);

/** The negative errno of a node:fs error; EINVAL for an error that has none. */
export const errnoFrom = (err: unknown): number => (err as NodeJS.ErrnoException).errno ?? EINVAL;
