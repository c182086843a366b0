import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { initOrm } from '../../src/db/orm.js';
import { migrationsList } from '../../migrations/index.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { createTestDatabase, sqlClient } from '../support/database.js';

const PAGE = /* GraphQL */ `
  query Page($first: Int, $after: String, $filter: InferenceFilter) {
    inferences(first: $first, after: $after, filter: $filter) {
      nodes { id status model { slug } provider { slug } agent { id } taskType cell createdAt }
      pageInfo { hasNextPage endCursor }
    }
  }
`;

const DISPATCH = /* GraphQL */ `
  mutation D($input: DispatchInferenceInput!) {
    dispatchInference(input: $input) { replayed inference { id status model { slug } provider { slug } taskType taskTypeSource cell policyVersion } }
  }
`;

describe('migrations', () => {
  it('run all up, all down, all up again, and agree with the entities', async () => {
    const url = await createTestDatabase(inject('pgUrl'), { empty: true });
    const orm = await initOrm(url);
    const db = await sqlClient(url);
    const tables = async () =>
      (await db.query(`select table_name from information_schema.tables where table_schema = 'public' and table_name <> 'mikro_orm_migrations' order by 1`)).rows.map((r) => r.table_name);
    try {
      const migrator = orm.getMigrator();
      expect((await migrator.up()).map((m) => m.name)).toEqual(migrationsList.map((m) => m.name));
      expect(await tables()).toEqual(['agent', 'api_key', 'audit_chain_head', 'audit_event', 'cell_coverage_day', 'cell_coverage_total', 'inference', 'model', 'policy_version_day', 'provider', 'routing_policy', 'tenant', 'user']);
      const enums = async () => (await db.query(`select typname from pg_type where typname like 'inference_task_type%' order by 1`)).rows.map((r) => r.typname);
      expect(await enums()).toEqual(['inference_task_type', 'inference_task_type_source']);

      expect((await migrator.down({ to: 0 })).length).toBe(migrationsList.length);
      expect(await tables()).toEqual([]);
      expect(await enums()).toEqual([]);
      expect((await db.query(`select 1 from pg_proc where proname = 'audit_event_refuse_change'`)).rowCount).toBe(0);

      await migrator.up();
      expect((await tables()).length).toBe(13);
      const diff = await orm.getSchemaGenerator().getUpdateSchemaSQL({ wrap: false });
      expect(diff.trim()).toBe('');
    } finally {
      await db.end();
      await orm.close();
    }
  });

  it('keeps pre-§16 rows as permanent gaps that read as null', async () => {
    const url = await createTestDatabase(inject('pgUrl'), { empty: true });
    const orm = await initOrm(url);
    await orm.getMigrator().up({ to: migrationsList[0].name });
    await orm.close();
    // A row written before the §16 schema lock, through the base schema only.
    const db = await sqlClient(url);
    const t = await startTestApp({ dbUrl: url });
    try {
      await db.query(
        `insert into inference (id, created_at, tenant_id, agent_id, requested_model, routing_mode, status, request_payload, request_hash, output_text)
         values ('00000000-0000-4000-8000-000000000001', now() - interval '1 day', $1, $2, 'sim-small', 'direct', 'succeeded', '{}', 'h', 'old')`,
        [t.keys.tenantId, t.keys.agentId],
      );
      const res = await t.gql(`{ inference(id: "00000000-0000-4000-8000-000000000001") { id outputText taskType taskTypeSource policyVersion cell constraintBand model { slug } provider { slug } } }`);
      expect(res.errors).toBeUndefined();
      expect(res.data.inference).toEqual({
        id: '00000000-0000-4000-8000-000000000001',
        outputText: 'old',
        taskType: null,
        taskTypeSource: null,
        policyVersion: null,
        cell: null,
        constraintBand: null,
        model: null,
        provider: null,
      });
    } finally {
      await db.end();
      await t.stop();
    }
  });
});

describe('the read API', () => {
  let t: TestApp;
  let statements = 0;
  beforeAll(async () => {
    t = await startTestApp({
      // Key cache off: every request pays its authentication statement, the worst case counted below.
      env: { API_KEY_CACHE_TTL_MS: '0' },
      ormOptions: {
        debug: ['query'],
        logger: (message: string) => {
          // Each executed statement is logged once as "[query] <sql> [took …]".
          if (/^\[query\] /.test(message.replace(/\u001b\[[0-9;]*m/g, ''))) statements++;
        },
      },
    });
  });
  afterAll(() => t.stop());

  it('answers health and readiness', async () => {
    expect((await fetch(`${t.baseUrl}/healthz`)).status).toBe(200);
    const ready = await fetch(`${t.baseUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
  });

  it('rejects missing, malformed, unknown and revoked keys with UNAUTHENTICATED', async () => {
    const other = await t.newTenant();
    await t.sql(`update api_key set revoked_at = now() where agent_id = $1`, [other.agentId]);
    for (const key of [null, 'not-a-key', 'ainf_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', other.agentKey]) {
      const res = await t.gql('{ viewer { role } }', undefined, key);
      expect(res.status).toBe(401);
      expect(res.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
      expect(res.data ?? null).toBeNull();
    }
    const malformedHeader = await fetch(t.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Basic abc' }, body: '{"query":"{ viewer { role } }"}' });
    expect(malformedHeader.status).toBe(401);
  });

  it('marks every GraphQL answer, success or error, as not cacheable', async () => {
    for (const key of [t.keys.agentKey, null]) {
      const res = await fetch(t.url, { method: 'POST', headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) }, body: '{"query":"{ viewer { role } }"}' });
      expect([res.status, res.headers.get('cache-control')]).toEqual([key ? 200 : 401, 'no-store']);
    }
  });

  it('stores keys as hashes only', async () => {
    const rows = await t.sql(`select * from api_key where tenant_id = $1`, [t.keys.tenantId]);
    expect(rows.length).toBe(2);
    const dump = JSON.stringify(rows);
    expect(dump).not.toContain(t.keys.agentKey);
    expect(dump).not.toContain(t.keys.userKey);
  });

  it('resolves viewer, user(handle) case-insensitively with agents, models and providers', async () => {
    const res = await t.gql(
      `query($h: String!) { viewer { role tenant { slug } agent { id owner { handle } } } user(handle: $h) { handle agents { id } } models { slug provider { slug } } providers { slug configured } }`,
      { h: t.keys.userHandle.toUpperCase() },
    );
    expect(res.errors).toBeUndefined();
    expect(res.data.viewer).toEqual({ role: 'AGENT', tenant: { slug: t.keys.tenant }, agent: { id: t.keys.agentId, owner: { handle: t.keys.userHandle } } });
    expect(res.data.user).toEqual({ handle: t.keys.userHandle, agents: [{ id: t.keys.agentId }] });
    expect(res.data.models.map((m: { slug: string }) => m.slug)).toEqual(['claude-haiku-4-5', 'claude-opus-4-1', 'claude-sonnet-4-5', 'gpt-4.1', 'gpt-4.1-mini', 'sim-large', 'sim-small']);
    expect(res.data.providers).toEqual([
      { slug: 'anthropic', configured: false },
      { slug: 'openai', configured: false },
      { slug: 'simulator', configured: true },
    ]);
  });

  it('resolves the provider of an inference through its model', async () => {
    const d = await t.gql(DISPATCH, { input: { model: 'sim-large', taskType: 'CODE', messages: [{ role: 'USER', content: 'print hello' }] } });
    expect(d.errors).toBeUndefined();
    const id = d.data.dispatchInference.inference.id;
    const res = await t.gql(`query($id: ID!) { inference(id: $id) { id model { slug provider { slug } } provider { slug } routingMode taskType cell } }`, { id });
    expect(res.data.inference).toEqual({ id, model: { slug: 'sim-large', provider: { slug: 'simulator' } }, provider: { slug: 'simulator' }, routingMode: 'DIRECT', taskType: 'CODE', cell: 'code/open' });
  });

  it('isolates tenants: another tenant’s inference and user look absent', async () => {
    const other = await t.newTenant();
    const d = await t.gql(DISPATCH, { input: { model: 'ainfera-auto', taskType: 'CHAT', messages: [{ role: 'USER', content: 'hi' }] } }, other.agentKey);
    const id = d.data.dispatchInference.inference.id;
    const mine = await t.gql(`query($id: ID!, $h: String!) { inference(id: $id) { id } user(handle: $h) { id } }`, { id, h: other.userHandle });
    expect(mine.errors).toBeUndefined();
    expect(mine.data).toEqual({ inference: null, user: null });
    const list = await t.gql(PAGE, { first: 100 });
    expect(list.data.inferences.nodes.map((n: { id: string }) => n.id)).not.toContain(id);
    const theirs = await t.gql(`query($id: ID!) { inference(id: $id) { id } }`, { id }, other.agentKey);
    expect(theirs.data.inference).toEqual({ id });
  });

  it('paginates newest first with cursors and filters', async () => {
    const tenant = await t.newTenant();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const d = await t.gql(DISPATCH, { input: { model: i % 2 ? 'sim-small' : 'sim-large', taskType: i % 2 ? 'CODE' : 'CHAT', messages: [{ role: 'USER', content: `n${i}` }] } }, tenant.agentKey);
      ids.push(d.data.dispatchInference.inference.id);
    }
    const p1 = await t.gql(PAGE, { first: 2 }, tenant.agentKey);
    expect(p1.data.inferences.nodes.map((n: { id: string }) => n.id)).toEqual([ids[4], ids[3]]);
    expect(p1.data.inferences.pageInfo.hasNextPage).toBe(true);
    const p2 = await t.gql(PAGE, { first: 2, after: p1.data.inferences.pageInfo.endCursor }, tenant.agentKey);
    expect(p2.data.inferences.nodes.map((n: { id: string }) => n.id)).toEqual([ids[2], ids[1]]);
    const p3 = await t.gql(PAGE, { first: 2, after: p2.data.inferences.pageInfo.endCursor }, tenant.agentKey);
    expect(p3.data.inferences.nodes.map((n: { id: string }) => n.id)).toEqual([ids[0]]);
    expect(p3.data.inferences.pageInfo.hasNextPage).toBe(false);

    const code = await t.gql(PAGE, { first: 10, filter: { taskType: 'CODE' } }, tenant.agentKey);
    expect(code.data.inferences.nodes.map((n: { id: string }) => n.id)).toEqual([ids[3], ids[1]]);
    const byModel = await t.gql(PAGE, { first: 10, filter: { model: 'sim-large', status: 'SUCCEEDED', agentId: tenant.agentId } }, tenant.agentKey);
    expect(byModel.data.inferences.nodes.map((n: { id: string }) => n.id)).toEqual([ids[4], ids[2], ids[0]]);
    const future = await t.gql(PAGE, { first: 10, filter: { createdAfter: new Date(Date.now() + 60_000).toISOString() } }, tenant.agentKey);
    expect(future.data.inferences.nodes).toEqual([]);

    const bad = await t.gql(PAGE, { first: 101 }, tenant.agentKey);
    expect(bad.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    const badCursor = await t.gql(PAGE, { first: 1, after: 'nope' }, tenant.agentKey);
    expect(badCursor.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('reads a page of inferences with model, provider and agent in a constant number of statements (≤ 4)', async () => {
    const tenant = await t.newTenant();
    const agents = [tenant.agentId];
    // More agents, so the agent loader batches several ids.
    for (let i = 0; i < 3; i++) {
      const [{ id }] = await t.sql(`insert into agent (id, created_at, tenant_id, owner_id, name) values (gen_random_uuid(), now(), $1, $2, $3) returning id`, [tenant.tenantId, tenant.userId, `a${i}`]);
      agents.push(id);
    }
    const query = `query($n: Int) { inferences(first: $n) { nodes { id model { slug } provider { slug } agent { id } } } }`;
    const counts: Record<number, number> = {};
    for (const n of [10, 100]) {
      await t.sql(
        `insert into inference (id, created_at, tenant_id, agent_id, requested_model, routing_mode, model_id, status, request_payload, request_hash)
         select gen_random_uuid(), now() - (g || ' ms')::interval, $1, ($2::uuid[])[1 + g % 4], m.slug, 'direct', m.id, 'succeeded', '{}', 'h'
         from generate_series(1, $3) g join model m on m.slug = (array['sim-small','sim-large','gpt-4.1','claude-haiku-4-5'])[1 + g % 4]`,
        [tenant.tenantId, agents, n],
      );
      statements = 0;
      const res = await t.gql(query, { n }, tenant.userKey);
      counts[n] = statements;
      expect(res.errors).toBeUndefined();
      expect(res.data.inferences.nodes.length).toBe(n);
      expect(new Set(res.data.inferences.nodes.map((x: { agent: { id: string } }) => x.agent.id)).size).toBe(4);
      expect(res.data.inferences.nodes.every((x: { provider: { slug: string } | null }) => x.provider?.slug)).toBe(true);
    }
    expect(counts[10]).toBeGreaterThanOrEqual(3); // the logger saw them: auth, page, agents (models come from the catalog)
    expect(counts[10]).toBe(counts[100]);
    expect(counts[100]).toBeLessThanOrEqual(4);
  });

  it('refuses UPDATE, DELETE and TRUNCATE of audit events in the database itself', async () => {
    await t.gql(DISPATCH, { input: { model: 'ainfera-auto', taskType: 'CHAT', messages: [{ role: 'USER', content: 'audit me' }] } });
    const [{ n }] = await t.sql(`select count(*)::int as n from audit_event where chain = $1`, [t.keys.tenantId]);
    expect(n).toBeGreaterThan(0);
    await expect(t.sql(`update audit_event set type = 'x' where chain = $1`, [t.keys.tenantId])).rejects.toThrow(/append-only/);
    await expect(t.sql(`delete from audit_event where chain = $1`, [t.keys.tenantId])).rejects.toThrow(/append-only/);
    await expect(t.sql(`truncate audit_event`)).rejects.toThrow(/append-only/);
    const [{ m }] = await t.sql(`select count(*)::int as m from audit_event where chain = $1`, [t.keys.tenantId]);
    expect(m).toBe(n);
  });

  it('masks unexpected errors and rejects oversized and malformed bodies', async () => {
    const big = await fetch(t.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${t.keys.agentKey}` }, body: JSON.stringify({ query: `{ viewer { role } }`, pad: 'x'.repeat(1_100_000) }) });
    expect(big.status).toBe(413);
    const broken = await fetch(t.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${t.keys.agentKey}` }, body: '{"query": ' });
    expect(broken.status).toBe(400);
  });
});
