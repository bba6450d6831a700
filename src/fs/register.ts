// `node --import ioengine/register app.js`: an unchanged program's node:fs/promises (and
// fs.promises) become ioengine's, as graceful-fs does for fs. What ioengine does not run on an
// engine stays node's own (src/fs/promises.ts). Node's FileHandle is replaced by ioengine's, which
// node's fs.createReadStream and fs.createWriteStream do not take as `fd`: given one, they make
// the handle's own stream (handle.createReadStream()), so such programs go on working.
import type fsModule from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { FileHandle } from '../file-handle.js';
import * as ours from './index.js';

const require = createRequire(import.meta.url);
const fs = require('node:fs') as typeof fsModule;
const { createReadStream, createWriteStream } = fs;
/** options.fd, when it is ioengine's handle: the options without it, for the handle's stream. */
const ownHandle = (options: unknown): [FileHandle, object] | undefined => {
  if (typeof options !== 'object' || options === null || !((options as { fd?: unknown }).fd instanceof FileHandle)) return undefined;
  const { fd, ...rest } = options as { fd: FileHandle; fs?: unknown };
  if (rest.fs) { // as node's, which takes no custom fs with a FileHandle
    const err = new Error('The FileHandle with fs method is not implemented') as Error & { code: string };
    err.code = 'ERR_METHOD_NOT_IMPLEMENTED';
    throw err;
  }
  return [fd, rest];
};
fs.createReadStream = function (path: unknown, options?: unknown) {
  const own = ownHandle(options);
  return own ? own[0].createReadStream(own[1]) : createReadStream(path as string, options as never);
} as typeof fs.createReadStream;
fs.createWriteStream = function (path: unknown, options?: unknown) {
  const own = ownHandle(options);
  return own ? own[0].createWriteStream(own[1]) : createWriteStream(path as string, options as never);
} as typeof fs.createWriteStream;
const promises = require('node:fs/promises') as Record<string, unknown>;
for (const name of Object.keys(promises)) {
  if (name !== 'constants' && name in ours) promises[name] = (ours as Record<string, unknown>)[name];
}
syncBuiltinESMExports(); // import 'node:fs/promises' sees them too
