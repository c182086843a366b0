import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Env } from './config/env.js';
import type { Orm } from './db/orm.js';
import type { AuditSigner } from './modules/audit/signing.js';
import { createLoaders, type Loaders } from './loaders.js';
import type { CatalogSnapshot } from './modules/catalog/catalog.js';
import type { Classifier } from './modules/routing/classifier.js';
import type { PolicyCache } from './modules/routing/routing.service.js';
import { authenticate, bearerToken, type Viewer } from './modules/tenancy/auth.js';
import type { ApiKeyCache } from './modules/tenancy/key-cache.js';
import type { ProviderRegistry } from './providers/registry.js';
import type { Metrics } from './shared/metrics.js';

/** Long-lived dependencies, built once at start and passed in (never imported as globals). */
export interface AppDeps {
  env: Env;
  orm: Orm;
  providers: ProviderRegistry;
  classifier: Classifier;
  catalog: CatalogSnapshot;
  logger: Logger;
  metrics: Metrics;
  signer: AuditSigner;
  policies: PolicyCache;
  keys: ApiKeyCache;
}

/** Everything request-scoped, built in one place. */
export interface Context {
  deps: AppDeps;
  em: EntityManager;
  viewer: Viewer;
  loaders: Loaders;
  requestId: string;
}

export async function createContext(deps: AppDeps, headers: { authorization?: string; requestId?: string }): Promise<Context> {
  const em = deps.orm.em.fork() as EntityManager;
  const viewer = await authenticate(em, bearerToken(headers.authorization), deps.keys);
  return { deps, em, viewer, loaders: createLoaders(em, viewer.tenantId, deps.catalog), requestId: headers.requestId ?? randomUUID() };
}
