// temporary: syscalls per dispatch (not committed)
import { spawn } from 'node:child_process';
import { killChildren } from './proc.js';
import { dispatchTarget, Stack, sleep } from './stack.js';
import type { TenantKeys } from '../src/modules/tenancy/tenancy.service.js';
process.on('exit', killChildren);
const stack = new Stack();
try {
  const mock = await stack.mock(0);
  const server = await stack.startServer(mock);
  const keys = await server.ipc.call<TenantKeys>('newTenant', { label: 'exp' });
  const t = dispatchTarget(server, keys.agentKey);
  await stack.load({ mode: 'closed', target: t, concurrency: 8, durationMs: 4000, timeoutMs: 10000, clients: 8 });
  const st = spawn('strace', ['-c', '-f', '-p', String(server.pid)], { stdio: ['ignore', 'inherit', 'inherit'] });
  await sleep(1000);
  const res = await stack.load({ mode: 'open', target: t, rate: 200, durationMs: 5000, timeoutMs: 2000, clients: 8 });
  st.kill('SIGINT');
  await new Promise((r) => st.on('exit', r));
  console.log('dispatches', res.ok, 'p50', res.latency.p50.toFixed(2));
} finally {
  await stack.close();
  stack.cleanup(false);
}
process.exit(0);
