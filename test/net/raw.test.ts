// The lower-level socket interface (rawOn), on every native socket engine: bytes in order both
// ways, writes that wait for a slow peer and the drain that follows, half-close, node's errors,
// and what is refused.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import nodeNet from 'node:net';
import { describe, it } from 'node:test';
import { netEngines, rawOn, type RawConnection, type RawHandlers } from '../../src/net/index.js';
import { pattern } from '../conformance/engines.js';

/** An echo listener on engine: what each connection receives goes back. */
async function echoServer(engine: string) {
  return rawOn(engine).listen({ port: 0 }, { data: (c, bytes) => void c.write(bytes), end: c => c.end() });
}

/** Connects; resolves with the connection, everything it received until the peer's end, and how it closed. */
function client(engine: string, port: number, onOpen: (c: RawConnection) => void, more: Partial<RawHandlers> = {}) {
  const chunks: Buffer[] = [];
  let ended!: () => void;
  const received = new Promise<Buffer>(resolve => { ended = () => resolve(Buffer.concat(chunks)); });
  let closed!: (e?: Error) => void;
  const closing = new Promise<Error | undefined>(resolve => { closed = resolve; });
  const conn = rawOn(engine).connect({ port, host: '127.0.0.1' }, {
    open: onOpen,
    data: (_c, bytes) => void chunks.push(bytes),
    end: c => { ended(); c.close(); },
    close: (_c, e) => closed(e),
    ...more,
  });
  return { conn, received, closing };
}

for (const info of netEngines().filter(e => e.name !== 'libuv')) {
  describe(`raw sockets [${info.name}]`, { skip: info.available ? false : info.reason, timeout: 60_000 }, () => {
    it('echoes 1 byte to 4 MiB, as one buffer or a list of buffers, every byte in order', async () => {
      const server = await echoServer(info.name);
      for (const size of [1, 1000, 65536, 4 << 20]) {
        const data = pattern(size, size);
        const parts = [data.subarray(0, size >> 1), data.subarray(size >> 1)];
        const { conn, received, closing } = client(info.name, server.address.port, c => { c.write(size > 1000 ? parts : data); c.end(); });
        const got = await received;
        assert.equal(got.length, size);
        assert.ok(got.equals(data), `${size} bytes back in order`);
        assert.equal(await closing, undefined);
        assert.equal(conn.bytesWritten, size);
        assert.equal(conn.bytesRead, size);
      }
      server.close();
    });

    it('small reads share arenas never written twice: 3,000 kept messages intact; an arena cannot be transferred away', async () => {
      const server = await echoServer(info.name);
      const sent: Buffer[] = [];
      const chunks: Buffer[] = [];
      let got = 0, want = 0;
      let next!: () => void;
      const { conn, closing } = client(info.name, server.address.port, () => next(), { data: (_c, bytes) => { chunks.push(bytes); got += bytes.length; if (got === want) next(); } });
      await new Promise<void>(resolve => {
        let i = 0;
        // One message at a time, each echoed before the next: each arrives as a read of its own.
        next = () => {
          if (i === 3000) return resolve();
          const m = pattern(100 + (i * 37) % 1400, i++);
          sent.push(m);
          want += m.length;
          conn.write(m);
        };
      });
      assert.ok(Buffer.concat(chunks).equals(Buffer.concat(sent)), 'every byte, in order, in the kept Buffers');
      const arenas = new Set(chunks.map(c => c.buffer));
      assert.ok(arenas.size < chunks.length / 10, `${chunks.length} reads in ${arenas.size} arenas`);
      // Transferring one read's memory would take the others' with it: it stays (node 20 ignores
      // an untransferable ArrayBuffer in a transfer list; later nodes throw).
      const { port1, port2 } = new MessageChannel();
      try { port1.postMessage(chunks[0].buffer, [chunks[0].buffer as ArrayBuffer]); } catch { /* refused */ }
      port1.close(); port2.close();
      assert.ok(Buffer.concat(chunks).equals(Buffer.concat(sent)), 'still intact after a transfer was asked');
      conn.end();
      await closing;
      server.close();
    });

    it('a peer that does not read: write() says false, drain comes once it reads, nothing lost', async () => {
      let peer!: RawConnection;
      let opened!: () => void;
      const peerOpen = new Promise<void>(resolve => { opened = resolve; });
      const got: Buffer[] = [];
      const server = await rawOn(info.name).listen({ port: 0 }, {
        open: c => { peer = c; c.pause(); opened(); },
        data: (_c, b) => void got.push(b),
      });
      let drained!: () => void;
      const drain = new Promise<void>(resolve => { drained = resolve; });
      const chunk = pattern(1 << 20, 3);
      const answers: boolean[] = [];
      const { conn } = client(info.name, server.address.port, c => { for (let i = 0; i < 32; i++) answers.push(c.write(chunk)); }, { drain: () => drained() });
      await peerOpen;
      await new Promise(resolve => setTimeout(resolve, 50));
      assert.ok(answers.includes(false), 'the kernel did not take 32 MiB at once');
      peer.resume();
      await drain;
      while (got.reduce((n, b) => n + b.length, 0) < 32 << 20) await new Promise(resolve => setTimeout(resolve, 10));
      const all = Buffer.concat(got);
      for (let i = 0; i < 32; i++) assert.ok(all.subarray(i << 20, (i + 1) << 20).equals(chunk), `chunk ${i} intact`);
      conn.close();
      peer.close();
      server.close();
    });

    it('replies written in a handler to a peer that reads: write() says true each time, and no drain comes', { timeout: 20_000 }, async () => {
      const answers: boolean[] = [];
      let drains = 0;
      const server = await rawOn(info.name).listen({ port: 0 }, {
        data: (c, bytes) => { answers.push(c.write(bytes)); if (answers.length === 100) c.end(); },
        drain: () => { drains++; },
      });
      let got = 0;
      let next!: () => void;
      const { conn, received } = client(info.name, server.address.port, () => next(), { data: () => { got++; next(); } });
      let sent = 0;
      next = () => { if (sent < 100 && got === sent) conn.write(Buffer.from(`message ${sent++}`)); };
      await received;
      assert.equal(answers.length, 100);
      assert.deepEqual(answers.filter(a => !a), [], 'no reply waited for the peer');
      await new Promise(resolve => setTimeout(resolve, 20));
      assert.equal(drains, 0, 'no drain without a false');
      conn.close();
      server.close();
    });

    it('40 writes in one handler, small and large, to a peer that reads late: every byte arrives, in order, and each write is counted', { timeout: 20_000 }, async () => {
      const parts = Array.from({ length: 40 }, (_, i) => pattern(i % 3 === 0 ? 100_000 + i : 1 + i * 25, i));
      let written = 0;
      const server = await rawOn(info.name).listen({ port: 0 }, {
        data: c => {
          for (const p of parts) c.write(i2list(p));
          c.end();
        },
        close: c => { written = c.bytesWritten; },
      });
      // Half the writes as a list of two pieces, so that sends carry pieces of several writes.
      function i2list(p: Buffer): Buffer | Buffer[] { return p.length % 2 === 0 ? [p.subarray(0, p.length >> 1), p.subarray(p.length >> 1)] : p; }
      const { conn, received } = client(info.name, server.address.port, c => {
        c.write(Buffer.from('go'));
        c.pause();
        setTimeout(() => c.resume(), 50);
      });
      const got = await received;
      const want = Buffer.concat(parts);
      assert.equal(got.length, want.length);
      assert.ok(got.equals(want), 'every byte, in the order written');
      conn.close();
      while (written === 0) await new Promise(resolve => setTimeout(resolve, 5));
      assert.equal(written, want.length, 'the server counted every byte written');
      server.close();
    });

    it('errors are node\'s: ECONNREFUSED on close, EADDRINUSE from listen, write after end, bad data', async () => {
      const taken = nodeNet.createServer().listen(0, '127.0.0.1');
      await once(taken, 'listening');
      const port = (taken.address() as nodeNet.AddressInfo).port;
      await assert.rejects(rawOn(info.name).listen({ port, host: '127.0.0.1' }, { data: () => {} }), { code: 'EADDRINUSE', syscall: 'listen', port });
      taken.close();
      await once(taken, 'close');
      const { closing } = client(info.name, port, () => assert.fail('no one listens there'));
      const err = await closing as NodeJS.ErrnoException;
      assert.equal(err.code, 'ECONNREFUSED');
      assert.equal(err.message, `connect ECONNREFUSED 127.0.0.1:${port}`);
      const server = await echoServer(info.name);
      const { conn, closing: done } = client(info.name, server.address.port, c => {
        assert.throws(() => c.write('text' as never), { code: 'ERR_INVALID_ARG_TYPE' });
        c.end();
        assert.throws(() => c.write(Buffer.from('x')), { code: 'ERR_STREAM_WRITE_AFTER_END' });
      });
      assert.equal(await done, undefined);
      assert.throws(() => conn.write(Buffer.from('x')), { code: 'ERR_SOCKET_CLOSED' });
      server.close();
      assert.throws(() => rawOn('libuv'), { code: 'ERR_IOENGINE_UNAVAILABLE' });
      // end() before the connection is open: FIN once it is; the peer ends, both sides close
      const again = await echoServer(info.name);
      const early = client(info.name, again.address.port, () => {});
      early.conn.end();
      assert.equal((await early.received).length, 0);
      assert.equal(await early.closing, undefined);
      again.close();
    });
  });
}
