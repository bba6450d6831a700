// `node --import ioengine/register app.js`: an unchanged program's node:fs/promises (and
// fs.promises) become ioengine's, as graceful-fs does for fs. What ioengine does not run on an
// engine stays node's own (src/fs/promises.ts). Node's FileHandle is replaced by ioengine's, which
// node's read and write streams do not take as `fd`: given one, fs.createReadStream, new
// fs.ReadStream (and the write side) make the handle's own stream, so such programs go on working.
import type fsModule from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { nodeError } from '../errors.js';
import { FileHandle } from '../file-handle.js';
import * as ours from './index.js';

const require = createRequire(import.meta.url);
const fs = require('node:fs') as typeof fsModule;
/** options.fd, when it is ioengine's handle: the options without it, for the handle's stream. */
const ownHandle = (options: unknown): [FileHandle, object] | undefined => {
  if (typeof options !== 'object' || options === null || !((options as { fd?: unknown }).fd instanceof FileHandle)) return undefined;
  const { fd, ...rest } = options as { fd: FileHandle; fs?: unknown };
  if (rest.fs) { // as node's, which takes no custom fs with a FileHandle
    throw nodeError('ERR_METHOD_NOT_IMPLEMENTED', 'The FileHandle with fs method is not implemented');
  }
  return [fd, rest];
};

/**
 * node's ReadStream or WriteStream, taking ioengine's FileHandle as `fd` too (its own stream then).
 * Set as fs.ReadStream / fs.WriteStream, as graceful-fs does: node's createReadStream and
 * createWriteStream make theirs through these. Its prototype is node's: instanceof holds.
 */
function taking<T extends abstract new (...args: never[]) => unknown>(Node: T, own: (h: FileHandle, options: object) => unknown): T {
  function Stream(this: unknown, path: unknown, options?: unknown): unknown {
    const mine = ownHandle(options);
    if (mine) return own(mine[0], mine[1]);
    return Reflect.construct(Node, [path, options], new.target ?? Stream);
  }
  Stream.prototype = Node.prototype;
  Object.setPrototypeOf(Stream, Node);
  return Stream as unknown as T;
}
fs.ReadStream = taking(fs.ReadStream, (h, o) => h.createReadStream(o)); // (reading them loads node's first)
fs.WriteStream = taking(fs.WriteStream, (h, o) => h.createWriteStream(o));

const promises = require('node:fs/promises') as Record<string, unknown>;
for (const name of Object.keys(promises)) {
  if (name !== 'constants' && name in ours) promises[name] = (ours as Record<string, unknown>)[name];
}
syncBuiltinESMExports(); // import 'node:fs/promises' sees them too
