#!/usr/bin/env node
// npm install: build the native addon with node-gyp. Its engines are Linux ones (io_uring,
// Linux AIO, statx...): elsewhere nothing is built, and the libuv, workers, sync and null
// engines, which need no native code, are what ioengine offers (engines() says why the others
// are unavailable). On Linux a failed build fails the install, with node-gyp's own message.
import { spawnSync } from 'node:child_process';

if (process.platform !== 'linux') {
  console.log(`ioengine: no native addon on ${process.platform}; the libuv, workers, sync and null engines work without it.`);
  process.exit(0);
}
const r = spawnSync('node-gyp', ['rebuild'], { stdio: 'inherit', shell: process.platform === 'win32' });
if (r.error) {
  console.error(`ioengine: could not run node-gyp (${r.error.message}); it needs python3, make and a C and C++ compiler.`);
  process.exit(1);
}
process.exit(r.status ?? 1);
