// `ioengine/fs`: a drop-in for node:fs/promises. Change the import, keep the program:
//   import { readFile, writeFile, stat } from 'ioengine/fs';
// These use one shared `auto` engine, made on first use; fsOn('io_uring') (or an Engine) gives
// the same functions on the engine you choose. See src/fs/promises.ts for what runs on the engine.
import { fsOn } from './promises.js';

export { fsOn };
export { FileHandle } from '../file-handle.js';

const fs = fsOn();

export const {
  access, appendFile, chmod, chown, constants, copyFile, cp, lchmod, lchown, link, lstat, lutimes, mkdir,
  mkdtemp, open, opendir, readFile, readdir, readlink, realpath, rename, rm, rmdir, stat, statfs, symlink,
  truncate, unlink, utimes, watch, writeFile,
} = fs;

export default fs;
