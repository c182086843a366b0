import fs from 'node:fs/promises';
import path from 'node:path';
import type { Options } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Env } from './config/env.js';
import type { AppDeps } from './context.js';
import { type Database, openDatabase } from './db/database.js';
import { initOrm, migrateUp, type Orm } from './db/orm.js';
import { pipelinedPool } from './db/sql.js';
import { ChainWriter } from './modules/audit/chain-writer.js';
import { loadSigner } from './modules/audit/signing.js';
import { CatalogSnapshot, upsertCatalog } from './modules/catalog/catalog.js';
import { AnthropicClassifier, type Classifier, noClassifier } from './modules/routing/classifier.js';
import { PolicyCache } from './modules/routing/routing.service.js';
import { ApiKeyCache } from './modules/tenancy/key-cache.js';
import { PgListener } from './db/listener.js';
import { Tenant } from './modules/tenancy/tenant.entity.js';
import { createTenant, type TenantKeys } from './modules/tenancy/tenancy.service.js';
import { ProviderRegistry } from './providers/registry.js';
import { createProviderTransport } from './providers/transport.js';
import { graphiqlRoutes } from './graphiql/graphiql.js';
import { type AppServer, createServer } from './server.js';
import { createMetrics, type PoolStats } from './shared/metrics.js';

export interface App {
  deps: AppDeps;
  server: AppServer;
  database: Database;
  demo: TenantKeys | null;
  stop(): Promise<void>;
}

export const DEMO_TENANT = 'demo';

/** Seed the demo tenant once (embedded database only) and keep its keys in DATA_DIR/demo-keys.json. */
async function seedDemo(orm: Orm, dataDir: string): Promise<TenantKeys | null> {
  const file = path.join(dataDir, 'demo-keys.json');
  const em = orm.em.fork();
  if (await em.count(Tenant, { slug: DEMO_TENANT })) {
    return JSON.parse(await fs.readFile(file, 'utf8').catch(() => 'null')) as TenantKeys | null;
  }
  const keys = await createTenant(em, { slug: DEMO_TENANT, ownerHandle: 'demo', name: 'Demo tenant', agentName: 'demo-agent' });
  await fs.mkdir(dataDir, { recursive: true });
  await fs.writeFile(file, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
  return keys;
}

/** knex's own warnings (a dropped connection) go to our logs, not to the console. */
function ormOptionsFor(logger: Logger, extra: Partial<Options> = {}): Partial<Options> {
  const knexLog = (level: 'warn' | 'error' | 'debug') => (message: unknown) => logger[level]({ component: 'knex' }, String(message));
  return { driverOptions: { log: { warn: knexLog('warn'), error: knexLog('error'), debug: knexLog('debug'), deprecate: knexLog('warn') } }, ...extra };
}

/** What is done once per database before it is served: migrations, the catalog, the demo seed (embedded only by default). */
async function prepareSchema(orm: Orm, env: Env, database: Database, seed: boolean | undefined): Promise<TenantKeys | null> {
  await migrateUp(orm);
  await upsertCatalog(orm.em.fork());
  return (seed ?? database.embedded) ? seedDemo(orm, env.dataDir) : null;
}

/**
 * For several server processes on one database (src/cluster.ts): open it and prepare it once —
 * migrations, catalog, demo seed, the development signing key — before any of them starts, so
 * they never race to do it. The database stays open (and, if embedded, running) for them.
 */
export async function prepareDatabase(env: Env, logger: Logger): Promise<{ database: Database; demo: TenantKeys | null }> {
  const database = await openDatabase(env);
  try {
    const orm = await initOrm(database.url, ormOptionsFor(logger));
    try {
      const demo = await prepareSchema(orm, env, database, undefined);
      await loadSigner({ key: env.auditSigningKey, dataDir: env.dataDir, production: env.nodeEnv === 'production' });
      return { database, demo };
    } finally {
      await orm.close();
    }
  } catch (err) {
    await database.stop();
    throw err;
  }
}

/**
 * Boot: database → migrations → catalog → (demo seed) → server. Used by `npm start`, the tests and
 * the benchmark. `prepared`: a server process of several, whose database prepareDatabase set up.
 */
export async function startApp(env: Env, logger: Logger, opts: { classifier?: Classifier; providers?: ProviderRegistry; seedDemo?: boolean; ormOptions?: Partial<Options>; prepared?: boolean } = {}): Promise<App> {
  const database = await openDatabase(env);
  const orm = await initOrm(database.url, ormOptionsFor(logger, opts.ormOptions));
  const transport = createProviderTransport();
  const listener = new PgListener(database.url, logger);
  let chainPool: ReturnType<typeof pipelinedPool> | null = null;
  try {
    const demo = opts.prepared ? null : await prepareSchema(orm, env, database, opts.seedDemo);
    const catalog = await CatalogSnapshot.load(orm.em.fork());
    const classifier = opts.classifier ?? (env.classifier ? new AnthropicClassifier({ ...env.classifier, fetch: transport.fetch }) : noClassifier);
    const providers = opts.providers ?? ProviderRegistry.fromEnv(env, transport);
    const signer = await loadSigner({ key: env.auditSigningKey, dataDir: env.dataDir, production: env.nodeEnv === 'production' });
    const metrics = createMetrics({ pool: () => orm.em.getConnection().getKnex().client.pool as PoolStats | undefined });
    const keys = new ApiKeyCache(listener, env.apiKeyCacheTtlMs);
    if (env.apiKeyCacheTtlMs > 0) await listener.start();
    // Its own pipelining connections (up to one per chain being written), beside the ORM's pool of 10.
    chainPool = pipelinedPool(database.url, { max: 8, onConnectionError: (err) => logger.warn({ err }, 'audit writer: database connection lost') });
    const chains = new ChainWriter(chainPool, {
      onWrite: (appends) => metrics.chainCommitAppends.observe(appends),
      onStatement: (query, took, results) => orm.config.getLogger().logQuery({ query, took: Math.round(took), results, level: 'info' }),
    });
    const deps: AppDeps = { env, orm, providers, classifier, catalog, logger, signer, metrics, policies: new PolicyCache(), keys, chains };
    const server = await createServer(deps, { extraRoutes: (req, res, url) => graphiqlRoutes(req, res, { endpoint: '/graphql' }, url) });
    await new Promise<void>((resolve, reject) => {
      server.http.once('error', reject);
      server.http.listen(env.port, env.host, () => resolve());
    });
    return {
      deps,
      server,
      database,
      demo,
      async stop() {
        await server.close();
        await transport.close();
        await listener.close();
        await chainPool?.end();
        await orm.close();
        await database.stop();
      },
    };
  } catch (err) {
    await transport.close();
    await listener.close();
    await chainPool?.end();
    await orm.close();
    await database.stop();
    throw err;
  }
}
