import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { revokeKey } from '../../src/modules/tenancy/tenancy.service.js';
import { startTestApp, type TestApp } from '../support/app.js';

const VIEWER = '{ viewer { role } }';

/**
 * The API-key cache: a known key costs no statement, and a revocation made anywhere (another
 * process, plain SQL) stops the key at once on every server — the NOTIFY fan-out, not the TTL,
 * which is set to ten minutes here so it cannot be what ends an entry.
 */
describe('API-key cache', () => {
  let t: TestApp;
  const statements: string[] = [];
  const authStatements = () => statements.filter((s) => s.includes('authenticateApiKey')).length;

  beforeAll(async () => {
    t = await startTestApp({ env: { API_KEY_CACHE_TTL_MS: '600000' }, ormOptions: { debug: ['query'], logger: (m: string) => statements.push(m) } });
    await vi.waitFor(() => expect(t.app.deps.keys.enabled).toBe(true));
  });
  afterAll(() => t?.stop());

  it('authenticates a known key without a statement', async () => {
    const tenant = await t.newTenant();
    const before = authStatements();
    for (let i = 0; i < 5; i++) expect((await t.gql(VIEWER, undefined, tenant.agentKey)).data.viewer.role).toBe('AGENT');
    expect(authStatements() - before).toBe(1);
  });

  it('drops a key revoked by SQL on another connection within milliseconds', async () => {
    const tenant = await t.newTenant();
    expect((await t.gql(VIEWER, undefined, tenant.userKey)).data.viewer.role).toBe('ADMIN');
    expect((await t.gql(VIEWER, undefined, tenant.userKey)).status).toBe(200);
    const revokedAt = performance.now();
    await t.sql(`update api_key set revoked_at = now() where user_id = $1`, [tenant.userId]);
    await vi.waitFor(async () => expect((await t.gql(VIEWER, undefined, tenant.userKey)).status).toBe(401), { timeout: 2000, interval: 5 });
    expect(performance.now() - revokedAt).toBeLessThan(2000);
    const res = await t.gql(VIEWER, undefined, tenant.userKey);
    expect(res.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    // The tenant's other key is untouched.
    expect((await t.gql(VIEWER, undefined, tenant.agentKey)).data.viewer.role).toBe('AGENT');
  });

  it('drops a key revoked by the admin service (as the CLI does) and a deleted one', async () => {
    const tenant = await t.newTenant();
    expect((await t.gql(VIEWER, undefined, tenant.agentKey)).status).toBe(200);
    await revokeKey(t.app.deps.orm.em.fork(), { prefix: tenant.agentKey.slice(0, 12) });
    await vi.waitFor(async () => expect((await t.gql(VIEWER, undefined, tenant.agentKey)).status).toBe(401), { timeout: 2000, interval: 5 });

    expect((await t.gql(VIEWER, undefined, tenant.userKey)).status).toBe(200);
    await t.sql(`delete from api_key where user_id = $1`, [tenant.userId]);
    await vi.waitFor(async () => expect((await t.gql(VIEWER, undefined, tenant.userKey)).status).toBe(401), { timeout: 2000, interval: 5 });
  });

  it('serves nothing from the cache while its listener is down, and comes back by itself', async () => {
    const tenant = await t.newTenant();
    expect((await t.gql(VIEWER, undefined, tenant.agentKey)).status).toBe(200);
    const pid = t.app.deps.keys.listenerPid;
    expect(pid).not.toBeNull();
    const [killed] = await t.sql(`select pg_terminate_backend($1) as ok`, [pid]);
    expect(killed.ok).toBe(true);
    await vi.waitFor(() => expect(t.app.deps.keys.enabled).toBe(false), { timeout: 2000, interval: 1 });

    // A revocation while nobody listens: the very next request must already see it.
    await t.sql(`update api_key set revoked_at = now() where agent_id = $1`, [tenant.agentId]);
    const before = authStatements();
    expect((await t.gql(VIEWER, undefined, tenant.agentKey)).status).toBe(401);
    expect((await t.gql(VIEWER, undefined, tenant.userKey)).status).toBe(200);
    expect(authStatements() - before).toBe(2);

    await vi.waitFor(() => expect(t.app.deps.keys.enabled).toBe(true), { timeout: 5000, interval: 20 });
    expect(t.app.deps.keys.listenerPid).not.toBe(pid);
    expect((await t.gql(VIEWER, undefined, tenant.agentKey)).status).toBe(401);
    const cached = authStatements();
    expect((await t.gql(VIEWER, undefined, tenant.userKey)).status).toBe(200);
    expect((await t.gql(VIEWER, undefined, tenant.userKey)).status).toBe(200);
    expect(authStatements() - cached).toBe(1);
  });

  it('is off with API_KEY_CACHE_TTL_MS=0: every request authenticates with a statement', async () => {
    const off: string[] = [];
    const u = await startTestApp({ env: { API_KEY_CACHE_TTL_MS: '0' }, ormOptions: { debug: ['query'], logger: (m: string) => off.push(m) } });
    try {
      for (let i = 0; i < 3; i++) expect((await u.gql(VIEWER)).status).toBe(200);
      expect(u.app.deps.keys.enabled).toBe(false);
      expect(off.filter((s) => s.includes('authenticateApiKey')).length).toBe(3);
    } finally {
      await u.stop();
    }
  });
});
