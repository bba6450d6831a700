// io_uring's sockets as on a kernel before 6.0 (no multishot receive: each receive armed again
// as it completes), forced with IOENGINE_NET_RECV=single: the whole socket conformance suite on
// io_uring, in a process of its own.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { netEngines } from '../../src/net/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const uring = netEngines().find(e => e.name === 'io_uring')!;

test('io_uring with single-shot receive passes the socket conformance suite', { skip: uring.available ? false : uring.reason, timeout: 180_000 }, () => {
  const env: NodeJS.ProcessEnv = { ...process.env, IOENGINE_NET_RECV: 'single' };
  delete env.NODE_TEST_CONTEXT; // the child's runner then reports in TAP, not to this runner
  const index = path.join(here, '..', '..', 'src', 'net', 'index.js');
  const said = spawnSync(process.execPath, ['--input-type=module', '-e', `import { netEngines } from ${JSON.stringify(index)}; console.log(netEngines().find(e => e.name === 'io_uring').detail)`], { env, encoding: 'utf8' });
  assert.match(said.stdout, /^single-shot receive/, said.stderr);
  assert.match(uring.detail ?? '', /receive/, 'netEngines() says how io_uring receives here');
  const run = spawnSync(process.execPath, ['--expose-gc', '--test', '--test-name-pattern=\\[io_uring\\]', path.join(here, 'conformance.test.js')], { env, encoding: 'utf8', timeout: 170_000 });
  const summary = run.stdout.split('\n').filter(l => /^# (pass|fail)/.test(l)).join(', ');
  assert.equal(run.status, 0, `${summary}\n${run.stdout.split('\n').filter(l => /not ok|error:/.test(l)).join('\n')}`);
  assert.match(summary, /# pass [1-9]/, 'tests ran');
  assert.match(summary, /# fail 0/);
});
