import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';

const post = (t: TestApp, body: unknown, headers: Record<string, string> = {}) =>
  fetch(t.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${t.keys.userKey}`, ...headers }, body: JSON.stringify(body) });

describe('GraphQL limits', () => {
  let t: TestApp;
  let prod: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    const key = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    prod = await startTestApp({ env: { NODE_ENV: 'production', AINFERA_SIMULATOR: '1', AUDIT_SIGNING_KEY: key } });
  });
  afterAll(async () => {
    await t.stop();
    await prod.stop();
  });

  it('lets the deep dashboard queries through', async () => {
    const res = await t.gql(`{ viewer { user { agents { owner { agents { owner { handle } } } } } } inferences(first: 1) { edges { node { model { provider { slug } } agent { owner { handle } } } } } }`, undefined, t.keys.userKey);
    expect(res.errors).toBeUndefined();
  });

  it('rejects queries that are too deep, even through fragments', async () => {
    const deep = `{ viewer { user { agents { owner { agents { owner { agents { owner { agents { owner { agents { owner { handle } } } } } } } } } } } } }`;
    const res = await t.gql(deep, undefined, t.keys.userKey);
    expect(res.errors?.[0].message).toMatch(/depth/i);
    // The 2025 bypass: a fragment first seen shallow, then reused deep.
    const viaFragments = `query { viewer { user { ...A agents { owner { agents { owner { agents { owner { agents { owner { ...A } } } } } } } } } } }
      fragment A on User { agents { owner { agents { owner { handle } } } } }`;
    const res2 = await t.gql(viaFragments, undefined, t.keys.userKey);
    expect(res2.errors?.[0].message).toMatch(/depth/i);
  });

  it('rejects too many aliases and too many tokens', async () => {
    const aliases = `{ ${Array.from({ length: 20 }, (_, i) => `a${i}: viewer { role }`).join(' ')} }`;
    expect((await t.gql(aliases, undefined, t.keys.userKey)).errors?.[0].message).toMatch(/alias/i);
    const tokens = `{ viewer { ${Array.from({ length: 3100 }, () => 'role').join(' ')} } }`;
    expect((await t.gql(tokens, undefined, t.keys.userKey)).errors?.[0].message).toMatch(/token/i);
  });

  it('rejects too many directives and too costly queries', async () => {
    const directives = `{ viewer { role ${Array.from({ length: 35 }, () => '@include(if: true)').join(' ')} } }`;
    expect((await t.gql(directives, undefined, t.keys.userKey)).errors?.[0].message).toMatch(/directive/i);
    // Each alias fans a deep, wide selection out again: cheap to write, expensive to run.
    const wide = 'id status requestedModel routingMode taskType taskTypeSource policyVersion cell constraintBand outputText costUsd latencyMs createdAt';
    const costly = `{ ${Array.from({ length: 14 }, (_, i) => `a${i}: inferences(first: 100) { edges { node { ${wide} model { slug provider { slug name } } provider { slug name } agent { id name owner { id handle agents { id name owner { handle } } } } } } }`).join(' ')} }`;
    const res = await t.gql(costly, undefined, t.keys.userKey);
    expect(res.errors?.[0].message).toMatch(/cost/i);
    expect(res.data ?? null).toBeNull();
  });

  it('refuses batched requests and cross-site simple requests', async () => {
    const batch = await post(t, [{ query: '{ viewer { role } }' }, { query: '{ viewer { role } }' }]);
    expect(batch.status).toBe(400);
    const csrf = await fetch(`${t.url}?query=${encodeURIComponent('{ viewer { role } }')}`, { headers: { authorization: `Bearer ${t.keys.userKey}` } });
    expect(csrf.status).toBe(400);
    expect(await csrf.text()).toMatch(/CSRF|preflight/i);
    const allowed = await fetch(`${t.url}?query=${encodeURIComponent('{ viewer { role } }')}`, { headers: { authorization: `Bearer ${t.keys.userKey}`, 'apollo-require-preflight': '1' } });
    expect(allowed.status).toBe(200);
  });

  it('hides field suggestions in production and keeps introspection for authenticated callers only', async () => {
    const typo = await prod.gql(`{ viewr { role } }`, undefined, prod.keys.userKey);
    expect(typo.errors?.[0].message).not.toMatch(/Did you mean/);
    const typoDev = await t.gql(`{ viewr { role } }`, undefined, t.keys.userKey);
    expect(typoDev.errors?.[0].message).toMatch(/Did you mean "viewer"/);
    const anonymous = await prod.gql(`{ __schema { queryType { name } } }`, undefined, null);
    expect(anonymous.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    const authenticated = await prod.gql(`{ __schema { queryType { name } } }`, undefined, prod.keys.userKey);
    expect(authenticated.data.__schema.queryType.name).toBe('Query');
  });
});
