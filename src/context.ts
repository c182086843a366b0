import type { HTTPGraphQLRequest } from '@apollo/server';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Env } from './config/env.js';
import type { Orm } from './db/orm.js';
import type { ChainWriter } from './modules/audit/chain-writer.js';
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
  /** Appends to the audit chains, with one write in flight per chain (group commit). */
  chains: ChainWriter;
}

/** What the HTTP layer knows of a request before GraphQL runs it (also for requests that fail before any resolver). */
export interface RequestScope {
  requestId: string;
  startedAt: number;
  http: HTTPGraphQLRequest;
  /** Set when Apollo's request pipeline starts: from then on the logging plugin logs the request. */
  reachedPipeline: boolean;
}

/** Everything request-scoped, built in one place. */
export interface Context {
  deps: AppDeps;
  em: EntityManager;
  viewer: Viewer;
  loaders: Loaders;
  scope: RequestScope;
}

/**
 * The entity manager fork and the DataLoaders are made on first use: many requests need neither
 * (`{ __typename }`, every request that fails validation). Plain properties, not
 * #private fields, because Apollo copies the context object's own properties for each operation.
 */
class RequestContext implements Context {
  private forked: EntityManager | null = null;
  private built: Loaders | null = null;

  constructor(
    readonly deps: AppDeps,
    readonly viewer: Viewer,
    readonly scope: RequestScope,
  ) {}

  get em(): EntityManager {
    return (this.forked ??= this.deps.orm.em.fork() as EntityManager);
  }

  get loaders(): Loaders {
    return (this.built ??= createLoaders(() => this.em, this.viewer.tenantId, this.deps.catalog));
  }
}

export async function createContext(deps: AppDeps, scope: RequestScope, authorization: string | undefined): Promise<Context> {
  // Authentication reads at most one row with a prepared statement on the pool (no entity, no identity map).
  const viewer = await authenticate(deps.orm.em as EntityManager, bearerToken(authorization), deps.keys);
  return new RequestContext(deps, viewer, scope);
}
