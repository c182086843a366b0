import fs from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Options } from '@mikro-orm/postgresql';
import pino, { type Logger } from 'pino';
import { inject } from 'vitest';
import { type App, startApp } from '../../src/app.js';
import { loadEnv } from '../../src/config/env.js';
import { createTenant, type TenantKeys } from '../../src/modules/tenancy/tenancy.service.js';
import { createTestDatabase, sqlClient } from './database.js';
import type { MockProvider } from './mock-provider.js';

export interface GqlResult<T = any> {
  status: number;
  data: T;
  errors?: Array<{ message: string; extensions?: Record<string, any>; path?: unknown[] }>;
}

export interface TestApp {
  app: App;
  /** `http://127.0.0.1:PORT` */
  baseUrl: string;
  /** `http://127.0.0.1:PORT/graphql` */
  url: string;
  dbUrl: string;
  /** The app's DATA_DIR (its audit signing key lives there). */
  dataDir: string;
  /** A fresh tenant of this app: keys for its owner (admin) and its agent. */
  keys: TenantKeys;
  gql<T = any>(query: string, variables?: Record<string, unknown>, key?: string | null): Promise<GqlResult<T>>;
  newTenant(slug?: string): Promise<TenantKeys>;
  sql<R = any>(text: string, params?: unknown[]): Promise<R[]>;
  stop(): Promise<void>;
}

let tenantCounter = 0;
export function uniqueSlug(prefix = 't'): string {
  tenantCounter++;
  return `${prefix}-${process.pid}-${tenantCounter}-${Math.random().toString(36).slice(2, 7)}`;
}

/**
 * The real server on a random loopback port, its own database cloned from the migrated template,
 * and providers pointed at the loopback mock (when given) through the real SDKs.
 */
export async function startTestApp(opts: { mock?: MockProvider; classifier?: boolean; env?: Record<string, string>; dbUrl?: string; ormOptions?: Partial<Options>; logger?: Logger } = {}): Promise<TestApp> {
  const dbUrl = opts.dbUrl ?? (await createTestDatabase(inject('pgUrl')));
  const providerEnv: Record<string, string> = opts.mock
    ? {
        ANTHROPIC_API_KEY: 'test-anthropic-key',
        ANTHROPIC_BASE_URL: opts.mock.anthropicBaseUrl,
        OPENAI_API_KEY: 'test-openai-key',
        OPENAI_BASE_URL: opts.mock.openaiBaseUrl,
        AINFERA_SIMULATOR: '0',
      }
    : { AINFERA_SIMULATOR: '1' };
  if (opts.mock && opts.classifier === false) providerEnv.CLASSIFIER_API_KEY = '';
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ainfera-test-data-'));
  const env = loadEnv({ NODE_ENV: 'test', PORT: '0', HOST: '127.0.0.1', DATABASE_URL: dbUrl, DATA_DIR: dataDir, LOG_LEVEL: 'silent', ...providerEnv, ...opts.env });
  if (opts.mock && opts.classifier === false) env.classifier = null;
  const app = await startApp(env, opts.logger ?? pino({ level: 'silent' }), { seedDemo: false, ormOptions: opts.ormOptions });
  const port = (app.server.http.address() as AddressInfo).port;
  const baseUrl = `http://127.0.0.1:${port}`;
  const url = `${baseUrl}/graphql`;
  const db = await sqlClient(dbUrl);
  const newTenant = (slug = uniqueSlug()) => createTenant(app.deps.orm.em.fork(), { slug, ownerHandle: `${slug}-owner`.slice(0, 39).replace(/-+$/, '') });
  const keys = await newTenant();
  return {
    app,
    baseUrl,
    url,
    dbUrl,
    dataDir,
    keys,
    newTenant,
    async gql(query, variables, key = keys.agentKey) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await res.json()) as { data: any; errors?: GqlResult['errors'] };
      return { status: res.status, data: body.data, errors: body.errors };
    },
    async sql(text, params) {
      return (await db.query(text, params as unknown[])).rows;
    },
    async stop() {
      await db.end();
      await app.stop();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}
