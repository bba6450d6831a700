// The server of a network bench job, in a process of its own (started by net.ts as
// `node dist/src/bench/net-server.js ENGINE MODE [BYTES]`): an echo server (rr), a sink (stream) or
// node:http answering every request with BYTES bytes (http), on one socket engine, through
// ioengine/net's node:net-shaped API (or, for ENGINE-raw, its lower-level interface), on 127.0.0.1. It tells the parent its
// port, and on `measure` / `stop` its CPU over the window and how late a 1 ms timer ran meanwhile.
import http from 'node:http';
import { latencyHistogram } from './histogram.js';
import { watchLoop } from './loop-delay.js';
import { netOn, rawOn } from '../net/index.js';
import { RAW } from './net.js';

export interface NetServerReport { cpuMs: { user: number; system: number }; loopDelayNs: { p50: number; p99: number; max: number } }

const [engine, mode, size] = process.argv.slice(2);
const body = Buffer.alloc(Number(size ?? 0), 'x');

/** Listens on 127.0.0.1, an ephemeral port; resolves with the port. */
function serve(): Promise<number> {
  if (engine.endsWith(RAW)) {
    // The lower-level interface: each message as the engine read it, echoed (rr) or dropped (stream).
    return rawOn(engine.slice(0, -RAW.length)).listen({ port: 0, host: '127.0.0.1' }, {
      open: c => c.setNoDelay(true),
      data: mode === 'rr' ? (c, bytes) => void c.write(bytes) : () => {},
      end: c => c.end(),
    }).then(server => server.address.port);
  }
  const net = netOn(engine);
  const web = mode === 'http' ? http.createServer((req, res) => { res.setHeader('content-type', 'text/plain'); res.end(body); }) : undefined;
  const server = net.createServer(socket => {
    socket.setNoDelay(true);
    socket.on('error', () => {}); // the load generator closes its connections as it pleases
    if (web) web.emit('connection', socket);
    else if (mode === 'rr') socket.on('data', (d: Buffer) => socket.write(d));
    else socket.resume();
  });
  return new Promise(resolve => server.listen({ port: 0, host: '127.0.0.1' }, () => resolve((server.address() as { port: number }).port)));
}

const loop = latencyHistogram(false);
const ticker = watchLoop(ns => loop.recordValue(ns));

let cpu0 = process.cpuUsage();
process.on('message', (m: string) => {
  if (m === 'measure') {
    cpu0 = process.cpuUsage();
    loop.reset();
  } else if (m === 'stop') {
    const cpu = process.cpuUsage(cpu0);
    const report: NetServerReport = {
      cpuMs: { user: cpu.user / 1000, system: cpu.system / 1000 },
      loopDelayNs: { p50: loop.getValueAtPercentile(50), p99: loop.getValueAtPercentile(99), max: loop.maxValue },
    };
    clearInterval(ticker);
    process.send!(report, undefined, undefined, () => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));
void serve().then(port => process.send!({ port }));
