/**
 * The server as `WEB_CONCURRENCY=N npm start` runs it (src/cluster.ts) for the benchmark: a primary
 * and N server processes on one port, production settings (bench/server-env.ts), on the database
 * of the single-process benchmark server (--database-url), so both are measured against the same
 * PostgreSQL and the same floor.
 *
 *   node dist/bench/cluster-server.js --workers N --database-url URL --data-dir DIR --anthropic URL --openai URL
 *
 * Spawned by bench/stack.ts with an IPC channel: sends `{ type: 'ready', pid, port, servers }`
 * (the server processes' pids) once every server listens, then answers `stop`.
 */
import cluster from 'node:cluster';
import { startApp } from '../src/app.js';
import { runCluster } from '../src/cluster.js';
import { createLogger } from '../src/logger.js';
import { arg, benchServerEnv } from './server-env.js';

const env = benchServerEnv({ DATABASE_URL: arg('--database-url'), WEB_CONCURRENCY: arg('--workers') });
const logger = createLogger(env);

if (cluster.isWorker) {
  const app = await startApp(env, logger, { prepared: true });
  process.on('SIGTERM', () => void app.stop().finally(() => process.exit(0)));
} else {
  const servers = await runCluster(env, logger);
  const stop = () => void servers.stop().finally(() => process.exit(0));
  process.on('message', (msg: { id: number; cmd: string }) => {
    if (msg.cmd !== 'stop') return void process.send?.({ id: msg.id, ok: false, error: `unknown command ${msg.cmd}` });
    process.send?.({ id: msg.id, ok: true, result: null });
    setImmediate(stop);
  });
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('disconnect', stop); // the orchestrator died: don't leave servers behind
  process.send?.({ type: 'ready', pid: process.pid, port: servers.port, servers: servers.pids() });
}
