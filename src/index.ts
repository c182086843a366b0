import cluster from 'node:cluster';
import { startApp } from './app.js';
import { runCluster } from './cluster.js';
import { EnvError, type Env, loadEnv } from './config/env.js';
import { takeOverShutdownSignals } from './db/embedded.js';
import { createLogger } from './logger.js';
import type { TenantKeys } from './modules/tenancy/tenancy.service.js';
import { ProviderRegistry } from './providers/registry.js';

/** env → database → ORM → server → listen (or WEB_CONCURRENCY servers, src/cluster.ts); graceful shutdown on SIGINT/SIGTERM. */
let env: Env;
try {
  env = loadEnv();
} catch (err) {
  if (err instanceof EnvError) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}
const logger = createLogger(env);

function printBanner(port: number, demo: TenantKeys | null): void {
  const origin = `http://localhost:${port}`;
  const url = `${origin}/graphql`;
  const configured = ProviderRegistry.slugsIn(env);
  // Never print DATABASE_URL's credentials: host, port and database name only.
  const external = env.databaseUrl ? new URL(env.databaseUrl) : null;
  const lines = [
    '',
    `  Ainfera is running: ${url}  (GraphiQL in a browser, POST for GraphQL)`,
    `  database:   ${external ? `PostgreSQL at ${external.host}${external.pathname} (DATABASE_URL)` : `embedded PostgreSQL in ${env.dataDir}`}`,
    `  processes:  ${env.webConcurrency === 1 ? '1 (WEB_CONCURRENCY=1)' : `${env.webConcurrency} servers on one port (WEB_CONCURRENCY)`}`,
    `  providers:  ${configured.length ? configured.join(', ') : 'none configured'}`,
    `  simulator:  ${env.simulator ? 'on (offline answers from provider "simulator", model sim-small)' : 'off'}`,
    `  classifier: ${env.classifier ? `${env.classifier.model} (timeout ${env.classifier.timeoutMs} ms)` : 'not configured (task type defaults to general)'}`,
    `  metrics:    ${origin}/metrics  ·  health: ${origin}/healthz, ${origin}/readyz`,
  ];
  if (demo) {
    lines.push(
      `  demo tenant "${demo.tenant}" (keys in ${env.dataDir}/demo-keys.json):`,
      `    user key  (admin, handle ${demo.userHandle}): ${demo.userKey}`,
      `    agent key (agent ${demo.agentId}): ${demo.agentKey}`,
      `    try: curl -s ${url} -H 'content-type: application/json' -H 'authorization: Bearer ${demo.agentKey}' -d '{"query":"{ viewer { tenant { slug } role } }"}'`,
    );
  }
  console.log(`${lines.join('\n')}\n`);
}

if (cluster.isPrimary && env.webConcurrency > 1) {
  const servers = await runCluster(env, logger);
  printBanner(servers.port, servers.demo);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      logger.info({ signal }, 'shutting down: draining every server process');
      void servers.stop().then(() => process.exit(0));
    });
  }
} else {
  // A server process of several (cluster.isWorker) serves a database its primary prepared.
  const app = await startApp(env, logger, { prepared: cluster.isWorker });
  // After the embedded database started: its library hooks these signals when it starts one.
  takeOverShutdownSignals();
  if (cluster.isPrimary) printBanner((app.server.http.address() as { port: number }).port, app.demo);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: draining in-flight requests');
    const force = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, 30_000);
    force.unref();
    try {
      await app.stop();
      process.exit(0);
    } catch (err) {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}
