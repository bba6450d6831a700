#!/usr/bin/env node
// The soak: a mixed load on every engine at once, in one process, for a long while (10 minutes
// by default), reporting its RSS, open descriptors and threads over time. Not part of `npm test`:
//
//   node tools/soak.mjs [--minutes 10] [--every 30] [--dir D]
//
// Each engine gets its own file and lanes doing random reads and writes (each lane owns a region
// and knows its bytes: every read is checked), readMany/writeMany batches, aborts, open/close of
// handles, readFile/writeFile/stat/readdir through ioengine/fs, and every minute its engine is
// closed with work in flight and made again. A wrong byte or an error the situation does not
// allow ends the run with status 1; so does growth of descriptors or threads between the first
// and the last minute. RSS is reported, not judged (V8 sizes its heap as it likes).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setImmediate as turn } from 'node:timers/promises';
import { createEngine, engines } from '../dist/src/index.js';
import { fsOn } from '../dist/src/fs/index.js';

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : dflt; };
const minutes = Number(opt('minutes', '10'));
const every = Number(opt('every', '30')) * 1000;
const dir = opt('dir', fs.mkdtempSync(path.join(os.tmpdir(), 'ioengine-soak-')));
const LANES = 4, REGION = 256 * 1024, BLOCK = 4096;

let failures = 0;
const fail = (what, err) => {
  failures++;
  console.error(`FAIL ${what}: ${err?.stack ?? err}`);
};

const fds = () => fs.readdirSync('/proc/self/fd').length;
const threads = () => Number(/^Threads:\s+(\d+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]);
const mib = n => (n / 2 ** 20).toFixed(0);

/** mulberry32 */
function random(s) {
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const stats = { ops: 0, aborted: 0, reopened: 0 };
/** What an operation may answer when its engine is closed under it. */
const CLOSED = new Set(['ERR_IOENGINE_CLOSED', 'ECANCELED', 'EBADF']);
let stopping = false;

/** One engine's load until the run ends: its lanes, its fs work, its periodic close and remake. */
async function load(name, seed) {
  const file = path.join(dir, `${name}.dat`);
  const files = path.join(dir, `${name}.files`);
  fs.mkdirSync(files, { recursive: true });
  const image = Buffer.alloc(LANES * REGION); // what the file holds, as the lanes wrote it
  fs.writeFileSync(file, image);
  const rnd = random(seed);
  while (!stopping) {
    const engine = createEngine(name);
    const until = Math.min(Date.now() + 60_000, start + minutes * 60_000);
    const f = fsOn(engine);
    const lane = async i => {
      const fh = await engine.open(file, 'r+');
      const base = i * REGION;
      try {
        for (let n = 0; !stopping && Date.now() < until; n++) {
          const block = Math.floor(rnd() * (REGION / BLOCK)), at = base + block * BLOCK;
          const pick = rnd();
          if (pick < 0.35) {
            const data = Buffer.alloc(BLOCK, (n + i) & 0xff);
            await fh.write(data, 0, BLOCK, at);
            data.copy(image, at);
          } else if (pick < 0.7) {
            const into = Buffer.alloc(BLOCK);
            const { bytesRead } = await fh.read(into, 0, BLOCK, at);
            if (bytesRead !== BLOCK || !into.equals(image.subarray(at, at + BLOCK))) fail(`${name} read at ${at}`, 'wrong bytes');
          } else if (pick < 0.8) {
            const reqs = Array.from({ length: 8 }, (_, k) => ({ buffer: Buffer.alloc(BLOCK), position: base + ((block + k) % (REGION / BLOCK)) * BLOCK }));
            const res = await fh.readMany(reqs);
            reqs.forEach((r, k) => {
              if (res[k] instanceof Error && CLOSED.has(res[k].code)) return; // the engine closed under it
              if (res[k] !== BLOCK || !r.buffer.equals(image.subarray(r.position, r.position + BLOCK))) fail(`${name} readMany`, res[k]);
            });
          } else if (pick < 0.88) {
            // An aborted read: AbortError, or done before it could be taken back.
            const ac = new AbortController();
            const reading = fh.read({ buffer: Buffer.alloc(BLOCK), position: at, signal: ac.signal });
            ac.abort();
            await reading.then(() => {}, err => { if (err.name === 'AbortError') stats.aborted++; else fail(`${name} aborted read`, err); });
          } else if (pick < 0.96) {
            const p = path.join(files, `f${i}-${block % 16}`);
            const text = `lane ${i} block ${block} op ${n}`;
            await f.writeFile(p, text);
            if ((await f.readFile(p, 'utf8')) !== text) fail(`${name} readFile`, 'wrong text');
            await f.stat(p);
          } else {
            await f.readdir(files);
          }
          stats.ops++;
          if (n % 64 === 63) await turn(); // the sync engine never lets the loop run by itself
        }
      } catch (err) {
        if (!CLOSED.has(err.code)) fail(`${name} lane`, err);
      } finally {
        await fh.close().catch(err => { if (!CLOSED.has(err.code)) fail(`${name} close`, err); });
      }
    };
    const lanes = Array.from({ length: LANES }, (_, i) => lane(i));
    await new Promise(resolve => setTimeout(resolve, Math.max(0, until - Date.now())));
    const closing = engine.close(); // with the lanes' last operations in flight
    await Promise.all(lanes);
    await closing.catch(err => fail(`${name} engine close`, err));
    stats.reopened++;
    const onDisk = fs.readFileSync(file);
    if (!onDisk.equals(image)) fail(`${name} file`, 'the file differs from the acknowledged writes');
  }
}

const names = [...engines().filter(e => e.available && e.name !== 'null').map(e => e.name), 'auto']; // null does no I/O; auto chooses per operation
console.log(`soak: ${names.join(', ')} for ${minutes} min in ${dir}; a sample every ${every / 1000} s`);
console.log('   min      RSS MiB   fds   threads        ops   aborted  engines made');
const samples = [];
const sample = () => {
  const s = { t: (Date.now() - start) / 60000, rss: process.memoryUsage().rss, fds: fds(), threads: threads(), ...stats };
  samples.push(s);
  console.log(`${s.t.toFixed(2).padStart(6)} ${mib(s.rss).padStart(12)} ${String(s.fds).padStart(5)} ${String(s.threads).padStart(9)} ${String(s.ops).padStart(10)} ${String(s.aborted).padStart(9)} ${String(s.reopened).padStart(13)}`);
};
const start = Date.now();
const loads = names.map((name, i) => load(name, 1000 + i));
sample();
const timer = setInterval(sample, every);
await new Promise(resolve => setTimeout(resolve, minutes * 60_000));
stopping = true;
await Promise.all(loads);
clearInterval(timer);
sample();
fs.rmSync(dir, { recursive: true, force: true });

// Growth between the end of the first minute and the end: descriptors and threads must not leak.
const warm = samples.find(s => s.t >= 1) ?? samples[0], last = samples.at(-1);
const peak = Math.max(...samples.map(s => s.rss));
console.log(`RSS ${mib(warm.rss)} MiB after the first minute, ${mib(last.rss)} at the end, ${mib(peak)} at most; fds ${warm.fds} -> ${last.fds}; threads ${warm.threads} -> ${last.threads}; ${last.ops} operations, ${failures} failures`);
if (last.fds > warm.fds + 4) fail('descriptors', `${warm.fds} -> ${last.fds}`);
if (last.threads > warm.threads + 4) fail('threads', `${warm.threads} -> ${last.threads}`);
process.exit(failures > 0 ? 1 : 0);
