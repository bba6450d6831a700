// A worker whose io_uring sockets have zero-copy sends in flight to a peer that does not read is
// terminated: the engine's teardown waits for the kernel's notifications, which for an orphaned
// socket would come only when the peer ACKs (minutes). Open sockets are reset at teardown; one
// the program destroyed earlier is waited for at most 2 s (then left to the kernel). Each case
// must end well within the test's timeout.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { netEngines } from '../../src/net/index.js';

const uring = netEngines().find(e => e.name === 'io_uring')!;
const index = new URL('../../src/net/index.js', import.meta.url).href;

for (const destroyed of [false, true]) {
  test(`a worker terminated with zero-copy sends in flight to a peer that does not read (${destroyed ? 'socket destroyed first' : 'socket open'})`, { skip: uring.available ? false : uring.reason, timeout: 30_000 }, async () => {
    const held: net.Socket[] = [];
    const server = net.createServer({ pauseOnConnect: true }, s => void held.push(s)).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as net.AddressInfo).port;
    const worker = new Worker(`
      const { parentPort } = require('node:worker_threads');
      import(${JSON.stringify(index)}).then(({ netOn }) => {
        const c = netOn('io_uring').connect({ port: ${port}, host: '127.0.0.1', zeroCopy: true }, () => {
          const b = Buffer.alloc(1 << 20, 7);
          for (let i = 0; i < 64; i++) c.write(b, () => {});
          c.on('error', () => {});
          setTimeout(() => { ${destroyed ? 'c.destroy();' : ''} parentPort.postMessage('writing'); }, 200);
        });
      });`, { eval: true });
    await new Promise((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject); });
    // (a worker whose socket was destroyed may have ended by itself: its teardown is the same)
    const code = await worker.terminate();
    assert.ok(code === 0 || code === 1, `the worker ended (${code})`);
    for (const s of held) s.destroy();
    server.close();
  });
}
