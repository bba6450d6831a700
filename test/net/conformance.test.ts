// The socket conformance suite: every test runs on every socket engine (netEngines()), node:net
// itself (`libuv`) included, so a reader sees node's own behaviour pass the same checks. Where a
// result must be node's exactly (errors, the order of events), the test runs the scenario on
// node:net too and compares. Loopback only; every wait is bounded by the test's timeout.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import http from 'node:http';
import nodeNet from 'node:net';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { netEngines, netOn, type NetModule } from '../../src/net/index.js';
import { pattern } from '../conformance/engines.js';

type AnySocket = nodeNet.Socket;
type AnyServer = nodeNet.Server;

/** A server on 127.0.0.1 (or ::1) of net, with handler; resolves its port once listening. */
async function listening(net: NetModule, handler: (s: AnySocket) => void, host = '127.0.0.1', options: object = {}): Promise<{ server: AnyServer; port: number }> {
  const server = (net.createServer as unknown as (o: object, l: (s: AnySocket) => void) => AnyServer)(options, handler);
  server.listen(0, host);
  await once(server, 'listening');
  return { server, port: (server.address() as nodeNet.AddressInfo).port };
}

function connected(net: NetModule, port: number, host = '127.0.0.1', options: object = {}): Promise<AnySocket> {
  const socket = (net.connect as (o: object) => AnySocket)({ port, host, ...options });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Everything the socket reads until its end. */
async function readAll(socket: AnySocket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  await once(socket, 'end');
  return Buffer.concat(chunks);
}

/** A server that writes in its first 'data' handler: each of `times` connections that says 'go' reads exactly `expected`. */
async function repliesAre(net: NetModule, write: (s: AnySocket) => void, expected: string, times = 10): Promise<void> {
  const { server, port } = await listening(net, s => s.once('data', () => write(s)));
  for (let i = 0; i < times; i++) {
    const c = await connected(net, port);
    const back = readAll(c);
    c.write('go');
    assert.equal((await back).toString(), expected);
    c.destroy();
  }
  await closeServer(server);
}

function closeServer(server: AnyServer): Promise<void> {
  return new Promise(resolve => server.close(() => resolve()));
}

const echo = (s: AnySocket) => s.pipe(s);

/** An error reduced to what must be node's. */
const shape = (err: unknown) => {
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  return { name: e.name, message: e.message, code: e.code, errno: e.errno, syscall: e.syscall, address: e.address, port: e.port };
};

for (const info of netEngines()) {
  describe(`sockets [${info.name}]`, { skip: info.available ? false : info.reason, timeout: 60_000 }, () => {
    const net = () => netOn(info.name);

    it('echoes 1 byte to 16 MiB, every byte back in order', async () => {
      const { server, port } = await listening(net(), echo);
      for (const size of [1, 1000, 65536, 1 << 20, 16 << 20]) {
        const c = await connected(net(), port);
        const data = pattern(size, size);
        const back = readAll(c);
        c.end(data);
        const got = await back;
        assert.equal(got.length, size, `${size} bytes echoed`);
        assert.ok(got.equals(data), `the ${size} bytes came back as sent`);
        await once(c, 'close');
        assert.equal(c.bytesWritten, size);
        assert.equal(c.bytesRead, size);
      }
      await closeServer(server);
    });

    it('zero-copy sends (setZeroCopy): every byte arrives, each write\'s callback once the kernel let go; refused where the engine cannot', async () => {
      const probe = (net().connect as (o: object) => AnySocket)({ port: 9, host: '127.0.0.1' });
      probe.on('error', () => {});
      const zc = probe as unknown as { setZeroCopy?: (on?: boolean) => unknown };
      const can = typeof zc.setZeroCopy === 'function' && (() => { try { zc.setZeroCopy!(); return true; } catch (e) { assert.equal((e as { code?: string }).code, 'ERR_IOENGINE_UNSUPPORTED'); return false; } })();
      probe.destroy();
      if (info.name === 'io_uring') assert.ok(can, 'io_uring sends without copying on this kernel');
      if (!can) return;
      const { server, port } = await listening(net(), s => { s.on('error', () => {}); s.pipe(s); }); // the last client goes mid-write
      const c = await connected(net(), port, '127.0.0.1', { zeroCopy: true });
      const data = pattern(8 << 20, 5);
      const back = readAll(c);
      let called = 0;
      for (let at = 0; at < data.length; at += 1 << 20) c.write(data.subarray(at, at + (1 << 20)), () => { called++; });
      c.end();
      const got = await back;
      assert.ok(got.equals(data), '8 MiB back in order');
      assert.equal(called, 8, 'every write heard back');
      await once(c, 'close');
      // destroyed with zero-copy writes in flight: the buffers stay the kernel's until it is done
      const d = await connected(net(), port, '127.0.0.1', { zeroCopy: true });
      for (let i = 0; i < 16; i++) d.write(pattern(1 << 20, i), () => {});
      d.on('error', () => {});
      d.destroy();
      await once(d, 'close');
      await closeServer(server);
    });

    it('a worker streaming over the engine is terminated mid-stream: this process goes on', async () => {
      const index = new URL('../../src/net/index.js', import.meta.url).href;
      const code = `
        const { parentPort } = require('node:worker_threads');
        import(${JSON.stringify(index)}).then(({ netOn }) => {
          const net = netOn(${JSON.stringify(info.name)});
          const server = net.createServer(s => s.resume());
          server.listen(0, '127.0.0.1', () => {
            const c = net.connect(server.address().port, '127.0.0.1', () => {
              const b = Buffer.alloc(1 << 20, 7);
              const go = () => { while (c.write(b)); };
              c.on('drain', go);
              go();
              parentPort.postMessage('streaming');
            });
          });
        });`;
      for (let i = 0; i < 3; i++) {
        const worker = new Worker(code, { eval: true });
        await new Promise((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject); });
        await new Promise(resolve => setTimeout(resolve, 30 + 20 * i));
        await worker.terminate();
      }
      // still serving here
      const { server, port } = await listening(net(), echo);
      const c = await connected(net(), port);
      const back = readAll(c);
      c.end('after the workers');
      assert.equal(String(await back), 'after the workers');
      await closeServer(server);
    });

    it('connects destroyed at once, to a listener that answers no SYN: each closes, nothing of them stays', async () => {
      // A listener whose queue is full (backlog 0, never accepting) drops the SYNs that follow.
      const py = spawn('python3', ['-c', [
        'import socket, sys',
        "l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(0)",
        'f = [socket.socket() for i in range(4)]',
        '[s.setblocking(False) or s.connect_ex(l.getsockname()) for s in f]',
        'print(l.getsockname()[1], flush=True); sys.stdin.read()',
      ].join('\n')], { stdio: ['pipe', 'pipe', 'inherit'] });
      try {
        const [line] = await once(py.stdout!, 'data') as [Buffer];
        const port = Number(String(line).trim());
        const threads = () => fs.readdirSync('/proc/self/task').length;
        const before = threads();
        const closed = Array.from({ length: 20 }, () => {
          const s = (net().connect as (o: object) => AnySocket)({ port, host: '127.0.0.1' });
          s.on('error', () => {});
          process.nextTick(() => s.destroy()); // right after the connect went to the engine
          return once(s, 'close');
        });
        await Promise.all(closed);
        // (the thread engine's connect threads get no SYN-ACK: they must notice the close)
        for (let i = 0; i < 100 && threads() > before; i++) await new Promise(resolve => setTimeout(resolve, 20));
        assert.ok(threads() <= before, `threads back to ${before} (now ${threads()})`);
      } finally {
        py.kill();
      }
    });

    it('1,000 connections at once, each gets its own message back', async () => {
      const { server, port } = await listening(net(), echo);
      const replies = await Promise.all(Array.from({ length: 1000 }, async (_, i) => {
        const c = await connected(net(), port);
        const back = readAll(c);
        c.end(`message ${i}`);
        return (await back).toString();
      }));
      replies.forEach((r, i) => assert.equal(r, `message ${i}`));
      await closeServer(server);
    });

    it('a reply written in a \'data\' handler, the socket destroyed right after: the peer gets the reply, as from node:net', async () => {
      const { server, port } = await listening(net(), s => s.once('data', d => { s.write(`reply to ${d}`); s.destroy(); }));
      for (let i = 0; i < 20; i++) {
        const c = await connected(net(), port);
        const back = readAll(c);
        c.write(`request ${i}`);
        assert.equal((await back).toString(), `reply to request ${i}`);
      }
      await closeServer(server);
    });

    it('several writes in a \'data\' handler, the socket destroyed right after: the peer gets them all, in order, and each callback hears no error, as from node:net', async () => {
      const heard: unknown[] = [];
      const counted: number[] = [];
      const big = Buffer.alloc(10_000, 'z');
      const { server, port } = await listening(net(), s => s.once('data', d => {
        s.write(`a${d}`, err => heard.push(err));
        s.write('b', err => heard.push(err));
        s.write(big, err => { heard.push(err); counted.push(s.bytesWritten); });
        s.destroy();
      }));
      for (let i = 0; i < 20; i++) {
        const c = await connected(net(), port);
        const back = readAll(c);
        c.write(`${i}`);
        assert.equal((await back).toString(), `a${i}b${big}`);
      }
      await closeServer(server);
      assert.equal(heard.length, 60);
      assert.ok(heard.every(err => err === null), `the callbacks heard ${heard.filter(e => e !== null).join(', ')}`);
      // As node's, bytesWritten counts a write from the moment the socket took it.
      counted.forEach((n, i) => assert.equal(n, 1 + String(i).length + 1 + big.length));
    });

    it('a buffer written in a \'data\' handler and changed once its callback came: the peer gets what was written, as from node:net', async () => {
      const sizes = [1000, 40_000, 16_384, 3];
      await repliesAre(net(), s => {
        for (const [i, size] of sizes.entries()) {
          const buf = Buffer.alloc(size, String.fromCharCode(97 + i));
          s.write(buf, () => buf.fill('X')); // the write is done: the buffer is the caller's again
        }
        s.end();
      }, sizes.map((size, i) => String.fromCharCode(97 + i).repeat(size)).join(''));
    });

    it('a dozen writes in a \'data\' handler and then end(): the peer gets them all, in order, then its end', async () => {
      // Small enough to be taken at once on io_uring (one send carries them): end() must wait for them.
      const piece = (i: number) => (i % 4 === 3 ? String(i % 10).repeat(5000) : `${i},`);
      await repliesAre(net(), s => {
        for (let i = 0; i < 12; i++) s.write(piece(i));
        s.end('bye');
      }, Array.from({ length: 12 }, (_, i) => piece(i)).join('') + 'bye');
    });

    for (const [how, end] of [['process.exit()', 'process.exit(3)'], ['an uncaught throw', 'throw new Error("boom")']]) {
      it(`a reply written in a 'data' handler that then ends the process with ${how}: the peer gets the reply, as from node:net`, async () => {
        const script = `
          const { netOn } = await import(${JSON.stringify(new URL('../../src/net/index.js', import.meta.url).href)});
          const server = netOn(${JSON.stringify(info.name)}).createServer(s => s.on('data', () => { s.write('last words'); ${end}; }));
          server.listen(0, '127.0.0.1', () => console.log('port', server.address().port));
        `;
        const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d));
        child.stderr.resume();
        const exited = once(child, 'exit');
        try {
          while (!/^port \d+$/m.test(out)) await new Promise(r => setTimeout(r, 5));
          const c = await connected(nodeNet as unknown as NetModule, Number(/^port (\d+)$/m.exec(out)![1]));
          c.on('error', () => {});
          const heard = readAll(c);
          c.write('bye?');
          assert.equal((await heard).toString(), 'last words');
          const [code] = await exited;
          assert.equal(code, how === 'process.exit()' ? 3 : 1);
        } finally {
          child.kill();
        }
      });
    }

    it('one message makes the server write to 600 sockets at once, more than a ring holds: each gets its own, in order', async () => {
      const sockets: AnySocket[] = [];
      const { server, port } = await listening(net(), s => {
        sockets.push(s);
        s.on('data', d => {
          if (String(d) !== 'go') return;
          // Two writes each, in one handler: they arrive, and in the order written.
          sockets.forEach((t, i) => { t.write(`hello ${i}, `); t.end(`bye ${i}`); });
        });
      });
      const clients = await Promise.all(Array.from({ length: 600 }, () => connected(net(), port)));
      while (sockets.length < clients.length) await new Promise(r => setImmediate(r));
      // The server's sockets in the order it accepted them: each client learns its index from what it gets.
      const heard = await Promise.all(clients.map((c, i) => {
        const all = readAll(c);
        if (i === 0) c.write('go');
        return all.then(b => b.toString());
      }));
      const got = heard.map(h => Number(/^hello (\d+), bye (\d+)$/.exec(h)?.[1] ?? -1));
      heard.forEach((h, i) => assert.match(h, /^hello (\d+), bye \1$/, `client ${i} heard ${JSON.stringify(h)}`));
      assert.deepEqual([...got].sort((a, b) => a - b), Array.from({ length: 600 }, (_, i) => i));
      for (const c of clients) c.end();
      await closeServer(server);
    });

    it('half-close both ways with allowHalfOpen: the side that ended still reads, the other still writes', async () => {
      // The client ends first; the server answers after its 'end', then ends.
      const { server, port } = await listening(net(), s => {
        const chunks: Buffer[] = [];
        s.on('data', d => chunks.push(d));
        s.on('end', () => s.end(`got ${Buffer.concat(chunks)}`));
      }, '127.0.0.1', { allowHalfOpen: true });
      const c = await connected(net(), port, '127.0.0.1', { allowHalfOpen: true });
      const answer = readAll(c);
      c.end('question');
      assert.equal((await answer).toString(), 'got question');
      await closeServer(server);

      // The server ends first; the client goes on writing, and the server reads it all.
      let heard: Promise<Buffer> | undefined;
      const { server: s2, port: p2 } = await listening(net(), s => {
        heard = readAll(s);
        s.end('bye');
      }, '127.0.0.1', { allowHalfOpen: true });
      const c2 = await connected(net(), p2, '127.0.0.1', { allowHalfOpen: true });
      assert.equal((await readAll(c2)).toString(), 'bye');
      c2.write('still ');
      c2.end('here');
      assert.equal((await heard!).toString(), 'still here');
      await closeServer(s2);
    });

    it('without allowHalfOpen, the end of the peer ends this side too', async () => {
      const { server, port } = await listening(net(), s => s.end('x'));
      const c = await connected(net(), port);
      c.resume();
      await once(c, 'finish'); // the socket ended its own side when the peer's end came
      await once(c, 'close');
      await closeServer(server);
    });

    it('a peer reset mid-write: the writer fails with ECONNRESET or EPIPE, then closes with hadError', async () => {
      const { server, port } = await listening(net(), s => { s.once('data', () => (s as AnySocket & { resetAndDestroy(): void }).resetAndDestroy()); });
      const c = await connected(net(), port);
      const chunk = Buffer.alloc(1 << 20);
      const failed = once(c, 'error');
      const write = () => { while (c.write(chunk)); };
      write();
      c.on('drain', write);
      const [err] = await failed as [NodeJS.ErrnoException];
      assert.ok(['ECONNRESET', 'EPIPE'].includes(err.code!), `the writer's error: ${err.message}`);
      assert.ok(['read', 'write'].includes(err.syscall!), `its syscall: ${err.syscall}`);
      assert.match(err.message, new RegExp(`^${err.syscall} ${err.code}$`));
      const [hadError] = await once(c, 'close');
      assert.equal(hadError, true);
      await closeServer(server);
    });

    it('write after end fails as node\'s (ERR_STREAM_WRITE_AFTER_END), and the socket goes on to close', async () => {
      const { server, port } = await listening(net(), s => s.resume());
      const c = await connected(net(), port);
      c.end('last');
      const err = await new Promise<Error & { code?: string }>(resolve => c.write('more', e => resolve(e as Error)));
      assert.equal(err.code, 'ERR_STREAM_WRITE_AFTER_END');
      c.resume();
      await once(c, 'close');
      await closeServer(server);
    });

    it('server.close() with connections open: no new connections, \'close\' once the last one has gone', async () => {
      const sockets: AnySocket[] = [];
      const { server, port } = await listening(net(), s => { sockets.push(s); s.resume(); });
      const clients = await Promise.all([1, 2, 3].map(() => connected(net(), port)));
      while (sockets.length < 3) await new Promise(r => setImmediate(r));
      let closed = false;
      server.close(() => { closed = true; });
      assert.equal(server.listening, false);
      const refused = await connected(net(), port).then(() => undefined, (e: NodeJS.ErrnoException) => e.code);
      assert.equal(refused, 'ECONNREFUSED', 'a connection after close() is refused');
      for (const c of clients.slice(0, 2)) { c.destroy(); await once(c, 'close'); }
      await new Promise(r => setTimeout(r, 50));
      assert.equal(closed, false, '\'close\' waits for the connection still open');
      clients[2].end();
      clients[2].resume();
      await once(clients[2], 'close');
      while (!closed) await new Promise(r => setTimeout(r, 5));
    });

    it('backpressure: write() says false while the peer does not read, memory stays bounded, \'drain\' comes when it reads', async () => {
      let peer: AnySocket | undefined;
      const { server, port } = await listening(net(), s => { peer = s; s.pause(); });
      const c = await connected(net(), port);
      const chunk = Buffer.alloc(64 * 1024, 1);
      let written = 0;
      while (c.write(chunk)) {
        written += chunk.length;
        assert.ok(written < 256 << 20, 'write() kept saying true: nothing holds the writer back');
      }
      // What waits in the writer is its highWaterMark and one chunk, not everything asked for.
      assert.ok(c.writableLength <= c.writableHighWaterMark + chunk.length, `${c.writableLength} bytes wait in the writer`);
      const drained = once(c, 'drain');
      while (!peer) await new Promise(r => setImmediate(r));
      peer.resume();
      await drained;
      c.destroy();
      await closeServer(server);
    });

    it('destroy() with writes the kernel has not taken: each callback hears an error, the peer sees the end', async () => {
      let peerEnded: Promise<unknown> | undefined;
      const { server, port } = await listening(net(), s => { s.pause(); peerEnded = once(s, 'close'); setTimeout(() => s.resume(), 100); });
      const c = await connected(net(), port);
      const results: (Error | null | undefined)[] = [];
      const chunk = Buffer.alloc(1 << 20, 2);
      for (let i = 0; i < 32; i++) c.write(chunk, err => results.push(err));
      c.destroy();
      await once(c, 'close');
      await new Promise(r => setTimeout(r, 20));
      assert.ok(results.some(e => e instanceof Error), 'the writes not done were told so');
      while (!peerEnded) await new Promise(r => setImmediate(r));
      await peerEnded;
      await closeServer(server);
    });

    it('more than 1,024 chunks written at once (corked) all arrive, in order', async () => {
      let heard: Promise<Buffer> | undefined;
      const { server, port } = await listening(net(), s => { heard = readAll(s); });
      const c = await connected(net(), port);
      c.cork();
      const chunks = Array.from({ length: 3000 }, (_, i) => Buffer.from(`${i},`));
      for (const chunk of chunks) c.write(chunk);
      c.uncork();
      c.end();
      while (!heard) await new Promise(r => setImmediate(r));
      assert.equal((await heard).toString(), Buffer.concat(chunks).toString());
      await closeServer(server);
    });

    it('a write and end() waiting for the connection hear node\'s error when the socket is destroyed first', async () => {
      const { server, port } = await listening(net(), s => s.resume());
      const outcome = async (m: NetModule) => {
        const c = (m.connect as (p: number, h: string) => AnySocket)(port, '127.0.0.1');
        const wrote = new Promise<unknown>(resolve => c.write('x', err => resolve((err as NodeJS.ErrnoException | undefined)?.code)));
        c.destroy();
        return wrote;
      };
      assert.deepEqual(await outcome(net()), await outcome(netOn('libuv')));
      await closeServer(server);
    });

    it('out of descriptors: the server sheds connections silently, as node:net\'s, and goes on listening (a server under ulimit -n 40)', { skip: process.platform !== 'linux' && 'needs bash\'s ulimit' }, async () => {
      // The server in a child under a low open-file limit; the clients here, where descriptors are plenty.
      const script = `
        const { netOn } = await import(${JSON.stringify(new URL('../../src/net/index.js', import.meta.url).href)});
        const server = netOn(${JSON.stringify(info.name)}).createServer(s => s.end('hello'));
        server.on('error', e => console.log('error', e.code, e.syscall, e.message));
        server.listen(0, '127.0.0.1', () => console.log('port', server.address().port));
      `;
      const file = path.join(os.tmpdir(), `emfile-${process.pid}-${info.name}.mjs`);
      fs.writeFileSync(file, script);
      const child = spawn('bash', ['-c', `ulimit -n 40 && exec "${process.execPath}" "${file}"`], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d));
      const seen = async (re: RegExp) => {
        for (let m; ; await new Promise(r => setTimeout(r, 5))) if ((m = re.exec(out))) return m;
      };
      const clients: AnySocket[] = [];
      try {
        const port = Number((await seen(/^port (\d+)$/m))[1]);
        // The child keeps each connection open until we end it; past ~30 it runs out of descriptors.
        for (let i = 0; i < 60; i++) {
          const c = nodeNet.connect(port, '127.0.0.1');
          c.on('error', () => {});
          clients.push(c);
          await new Promise(r => setTimeout(r, 5));
        }
        const shed = await Promise.all(clients.map(c => new Promise(r => (c.closed ? r(true) : (c.once('close', () => r(true)), setTimeout(() => r(false), 500))))));
        assert.ok(shed.some(Boolean), 'connections beyond the limit were closed by the server');
        assert.doesNotMatch(out, /^error/m, 'and nothing reported, as node:net');
        for (const c of clients) c.destroy();
        await new Promise(r => setTimeout(r, 200)); // the child closes its ends
        const c = nodeNet.connect(port, '127.0.0.1');
        assert.equal((await readAll(c)).toString(), 'hello', 'the server took a connection again once descriptors were free');
      } finally {
        for (const c of clients) c.destroy();
        const closed = once(child, 'close');
        child.kill();
        await closed;
        fs.rmSync(file, { force: true });
      }
    });

    it('ECONNREFUSED: code, errno, syscall, address, port and message as node:net\'s', async () => {
      const { server, port } = await listening(netOn('libuv'), () => {});
      await closeServer(server); // a port nobody listens on now
      const refusal = (m: NetModule) => connected(m, port).then(() => assert.fail('connected'), shape);
      const ours = await refusal(net());
      assert.deepEqual(ours, await refusal(netOn('libuv')));
      assert.equal(ours.code, 'ECONNREFUSED');
    });

    it('EADDRINUSE: listening on a port in use fails as node:net\'s, for a host and for none', async () => {
      const { server, port } = await listening(netOn('libuv'), () => {});
      for (const host of ['127.0.0.1', undefined]) {
        const failure = async (m: NetModule) => {
          const s = (m.createServer as () => AnyServer)();
          s.listen(port, host);
          const [err] = await once(s, 'error');
          return shape(err);
        };
        const ours = await failure(net());
        assert.deepEqual(ours, await failure(netOn('libuv')), `host ${host}`);
        assert.equal(ours.code, 'EADDRINUSE');
      }
      await closeServer(server);
    });

    it('IPv4 and IPv6 loopback: address(), remoteAddress, remoteFamily, localPort', async () => {
      for (const [host, family] of [['127.0.0.1', 'IPv4'], ['::1', 'IPv6']]) {
        let accepted: AnySocket | undefined;
        const { server, port } = await listening(net(), s => { accepted = s; s.resume(); }, host);
        assert.deepEqual(server.address(), { address: host, family, port });
        const c = await connected(net(), port, host);
        assert.equal(c.remoteAddress, host);
        assert.equal(c.remoteFamily, family);
        assert.equal(c.remotePort, port);
        while (!accepted) await new Promise(r => setImmediate(r));
        assert.equal(accepted.remotePort, c.localPort);
        assert.equal(accepted.localPort, port);
        c.destroy();
        await closeServer(server);
      }
    });

    it('events come in node:net\'s order: connect, ready, data, end, finish, close', async () => {
      const events = async (m: NetModule) => {
        const { server, port } = await listening(m, s => s.end('hello'));
        const seen: string[] = [];
        const c = (m.connect as (p: number, h: string) => AnySocket)(port, '127.0.0.1');
        for (const e of ['connect', 'ready', 'end', 'finish', 'close']) c.on(e, () => seen.push(e));
        c.on('data', () => { if (seen.at(-1) !== 'data') seen.push('data'); });
        await once(c, 'close');
        await closeServer(server);
        return seen;
      };
      assert.deepEqual(await events(net()), await events(netOn('libuv')));
    });

    it('node:http serves over the socket: bodies both ways, keep-alive, many requests', async () => {
      const web = http.createServer((req, res) => {
        let n = 0;
        req.on('data', d => (n += d.length));
        req.on('end', () => res.end(`${req.method} ${req.url} ${n}`));
      });
      const { server, port } = await listening(net(), s => web.emit('connection', s));
      const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
      const ask = (i: number) => new Promise<string>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, path: `/r${i}`, method: 'POST', agent }, res => {
          let body = '';
          res.setEncoding('utf8').on('data', d => (body += d)).on('end', () => resolve(body));
        });
        req.on('error', reject);
        req.end(Buffer.alloc(i * 1000, 'b'));
      });
      const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => ask(i)));
      answers.forEach((a, i) => assert.equal(a, `POST /r${i} ${i * 1000}`));
      agent.destroy();
      web.close();
      await closeServer(server);
    });
  });
}

describe('ioengine/net', () => {
  it('names its engines, with a reason for any that cannot run', () => {
    const all = netEngines();
    assert.deepEqual(all.map(e => e.name), ['io_uring', 'epoll', 'thread', 'libuv']);
    for (const e of all) if (!e.available) assert.ok(e.reason, `${e.name} says why not`);
    assert.throws(() => netOn('bogus'), { code: 'ERR_IOENGINE_UNKNOWN' });
  });
});
