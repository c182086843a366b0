/**
 * WEB_CONCURRENCY > 1: several server processes on one port (node:cluster). This process — the
 * primary — prepares the database once (src/app.ts prepareDatabase: it starts the embedded one,
 * migrates, seeds), then forks the servers and hands incoming connections to them. Each server
 * is a whole Ainfera (its own pool, key cache with its own revocation listener, policy cache), as
 * instances behind a load balancer would be; nothing is shared in memory, and everything that
 * must be one — the audit chains, idempotency keys — is decided in PostgreSQL.
 *
 * A server that dies is replaced. One that dies before it ever listened stops everything (a
 * configuration or database problem that a restart would only repeat). stop() drains every
 * server, then stops the embedded database; src/index.ts calls it on SIGTERM or SIGINT.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { prepareDatabase } from './app.js';
import type { Env } from './config/env.js';
import { takeOverShutdownSignals } from './db/embedded.js';
import type { TenantKeys } from './modules/tenancy/tenancy.service.js';

const RESTART_DELAY_MS = 1_000;
const DRAIN_TIMEOUT_MS = 30_000;

export interface ClusterHandle {
  /** The port every server listens on. */
  port: number;
  demo: TenantKeys | null;
  /** The server processes running now. */
  pids(): number[];
  /** Drain every server (SIGTERM, then SIGKILL after 30 s), then stop the database. */
  stop(): Promise<void>;
}

/** Prepare the database, start env.webConcurrency servers; resolves once all of them listen. */
export async function runCluster(env: Env, logger: Logger): Promise<ClusterHandle> {
  const { database, demo } = await prepareDatabase(env, logger);
  // stop() stops the embedded database itself, after the servers (src/db/embedded.ts).
  takeOverShutdownSignals();
  // Every server connects to the prepared database, embedded or not, and prepares nothing itself.
  const workerEnv = { DATABASE_URL: database.url };
  const listening = new Set<Worker>();
  let stopping: Promise<void> | null = null;
  const alive = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && !w.isDead());

  const stop = () =>
    (stopping ??= (async () => {
      const workers = alive();
      const exited = Promise.all(workers.map((w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once('exit', () => resolve())))));
      for (const w of workers) w.process.kill('SIGTERM');
      const timer = setTimeout(() => {
        logger.error('servers did not drain in time; stopping them');
        for (const w of workers) if (!w.isDead()) w.process.kill('SIGKILL');
      }, DRAIN_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
      await database.stop().catch((err) => logger.error({ err }, 'stopping the database failed'));
    })());

  const fork = () => cluster.fork(workerEnv);
  // Resolves when every server listens; a server that dies before it listened ends the process instead.
  const ready = new Promise<number>((resolve) => {
    cluster.on('listening', (worker, address) => {
      listening.add(worker);
      if (listening.size === env.webConcurrency) resolve(address.port);
    });
    cluster.on('exit', (worker, code, signal) => {
      const served = listening.delete(worker);
      if (stopping) return;
      if (!served) {
        logger.error({ pid: worker.process.pid, code, signal }, 'a server process exited before it listened; stopping');
        void stop().then(() => process.exit(1));
        return;
      }
      logger.error({ pid: worker.process.pid, code, signal }, 'a server process exited; starting another');
      setTimeout(() => {
        if (!stopping) fork();
      }, RESTART_DELAY_MS);
    });
  });
  for (let i = 0; i < env.webConcurrency; i++) fork();
  const port = await ready;
  return { port, demo, pids: () => alive().map((w) => w.process.pid!), stop };
}
