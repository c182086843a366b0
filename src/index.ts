import { startApp } from './app.js';
import { EnvError, loadEnv } from './config/env.js';
import { takeOverShutdownSignals } from './db/embedded.js';
import { createLogger } from './logger.js';

/** env → database → ORM → server → listen; graceful shutdown on SIGINT/SIGTERM. */
let env;
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
const app = await startApp(env, logger);
const origin = `http://localhost:${(app.server.http.address() as { port: number }).port}`;
const url = `${origin}/graphql`;
const configured = app.deps.providers.configuredSlugs();
// Never print DATABASE_URL's credentials: host, port and database name only.
const external = env.databaseUrl ? new URL(env.databaseUrl) : null;
const lines = [
  '',
  `  Ainfera is running: ${url}  (GraphiQL in a browser, POST for GraphQL)`,
  `  database:   ${external ? `PostgreSQL at ${external.host}${external.pathname} (DATABASE_URL)` : `embedded PostgreSQL in ${env.dataDir}`}`,
  `  providers:  ${configured.length ? configured.join(', ') : 'none configured'}`,
  `  simulator:  ${env.simulator ? 'on (offline answers from provider "simulator", model sim-small)' : 'off'}`,
  `  classifier: ${env.classifier ? `${env.classifier.model} (timeout ${env.classifier.timeoutMs} ms)` : 'not configured (task type defaults to general)'}`,
  `  metrics:    ${origin}/metrics  ·  health: ${origin}/healthz, ${origin}/readyz`,
];
if (app.demo) {
  lines.push(
    `  demo tenant "${app.demo.tenant}" (keys in ${env.dataDir}/demo-keys.json):`,
    `    user key  (admin, handle ${app.demo.userHandle}): ${app.demo.userKey}`,
    `    agent key (agent ${app.demo.agentId}): ${app.demo.agentKey}`,
    `    try: curl -s ${url} -H 'content-type: application/json' -H 'authorization: Bearer ${app.demo.agentKey}' -d '{"query":"{ viewer { tenant { slug } role } }"}'`,
  );
}
console.log(`${lines.join('\n')}\n`);

let stopping = false;
async function shutdown(signal: string) {
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
}
takeOverShutdownSignals();
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
