// `node --import ioengine/register app.js`: an unchanged program's node:fs/promises (and
// fs.promises) become ioengine's, as graceful-fs does for fs. What ioengine does not run on an
// engine stays node's own (src/fs/promises.ts). Node's FileHandle is replaced by ioengine's: a
// program that hands a handle from open() to node's fs.createReadStream({ fd }) must use
// handle.createReadStream() instead.
import { createRequire, syncBuiltinESMExports } from 'node:module';
import * as ours from './index.js';

const require = createRequire(import.meta.url);
const promises = require('node:fs/promises') as Record<string, unknown>;
for (const name of Object.keys(promises)) {
  if (name !== 'constants' && name in ours) promises[name] = (ours as Record<string, unknown>)[name];
}
syncBuiltinESMExports(); // import 'node:fs/promises' sees them too
