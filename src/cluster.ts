/**
 * WEB_CONCURRENCY > 1: several server processes on one port (node:cluster). This process — the
 * primary — prepares the database once (src/app.ts prepareDatabase: it starts the embedded one,
 * migrates, seeds), then forks the servers and hands incoming connections to them. Each server
 * is a whole Ainfera (its own pool, key cache with its own revocation listener, policy cache), as
 * instances behind a load balancer would be; nothing is shared in memory, and everything that
 * must be one — the audit chains, idempotency keys — is decided in PostgreSQL.
 *
 * A server that dies is replaced. One that dies before it ever listened stops everything (a
 * configuration or database problem that a restart would only repeat). SIGTERM or SIGINT drains
 * every server, then stops the embedded database.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { prepareDatabase } from './app.js';
import type { Env } from './config/env.js';
import { takeOverShutdownSignals } from './db/embedded.js';
import type { TenantKeys } from './modules/tenancy/tenancy.service.js';

const RESTART_DELAY_MS = 1_000;
const DRAIN_TIMEOUT_MS = 30_000;

export async function runCluster(env: Env, logger: Logger, onListening: (port: number, demo: TenantKeys | null) => void): Promise<void> {
  const { database, demo } = await prepareDatabase(env, logger);
  // The drain below stops the embedded database itself, after the servers (src/db/embedded.ts).
  takeOverShutdownSignals();
  // Every server connects to the prepared database, embedded or not, and prepares nothing itself.
  const workerEnv = { DATABASE_URL: database.url };
  const listening = new Set<Worker>();
  let stopping = false;
  let announced = false;

  const fork = () => cluster.fork(workerEnv);

  async function stopAll(code: number): Promise<never> {
    stopping = true;
    const alive = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && !w.isDead());
    const exited = Promise.all(alive.map((w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once('exit', () => resolve())))));
    for (const w of alive) w.process.kill('SIGTERM');
    const timer = setTimeout(() => {
      logger.error('servers did not drain in time; stopping them');
      for (const w of alive) if (!w.isDead()) w.process.kill('SIGKILL');
    }, DRAIN_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
    await database.stop().catch((err) => logger.error({ err }, 'stopping the database failed'));
    process.exit(code);
  }

  cluster.on('listening', (worker, address) => {
    listening.add(worker);
    if (!announced && listening.size === env.webConcurrency) {
      announced = true;
      onListening(address.port, demo);
    }
  });
  cluster.on('exit', (worker, code, signal) => {
    const served = listening.delete(worker);
    if (stopping) return;
    if (!served) {
      logger.error({ pid: worker.process.pid, code, signal }, 'a server process exited before it listened; stopping');
      void stopAll(1);
      return;
    }
    logger.error({ pid: worker.process.pid, code, signal }, 'a server process exited; starting another');
    setTimeout(() => {
      if (!stopping) fork();
    }, RESTART_DELAY_MS);
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      logger.info({ signal }, 'shutting down: draining every server process');
      void stopAll(0);
    });
  }
  for (let i = 0; i < env.webConcurrency; i++) fork();
}
