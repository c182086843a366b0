import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planWindow } from '../../src/modules/coverage/coverage.service.js';
import { parseCell, TIER1_CELLS } from '../../src/modules/routing/sixteen.js';
import { generateApiKey } from '../../src/modules/tenancy/auth.js';
import type { TenantKeys } from '../../src/modules/tenancy/tenancy.service.js';
import { startTestApp, type TestApp, uniqueSlug } from '../support/app.js';
import { type MockProvider, startMockProvider } from '../support/mock-provider.js';

const COVERAGE = /* GraphQL */ `
  query Coverage($handle: String!, $since: DateTime) {
    user(handle: $handle) {
      cellCoverage(since: $since) {
        summary { inferences distinctCells tier1Cells tier2Cells tier1CellsPossible tier1Coverage }
        cells { cell taskType constraintBand tier count lastSeenAt }
        coldCells
      }
    }
  }
`;

const TENANT_COVERAGE = /* GraphQL */ `
  query TenantCoverage($since: DateTime) {
    viewer { tenant { cellCoverage(since: $since) {
      summary { inferences distinctCells tier1Cells tier2Cells tier1CellsPossible tier1Coverage }
      cells { cell count lastSeenAt }
      coldCells
    } } }
  }
`;

const TELEMETRY = /* GraphQL */ `
  query Telemetry($since: DateTime, $until: DateTime) {
    viewer { tenant { policyTelemetry(since: $since, until: $until) { policyVersion active inferences firstSeenAt lastSeenAt } } }
  }
`;

const DISPATCH = /* GraphQL */ `
  mutation Dispatch($input: DispatchInferenceInput!) {
    dispatchInference(input: $input) { replayed inference { id status cell policyVersion createdAt } }
  }
`;

const PUBLISH = /* GraphQL */ `mutation P($r: JSON!) { publishRoutingPolicy(input: { ruleset: $r }) { policyVersion } }`;

const DAY = 86_400_000;
const HOUR = 3_600_000;
/** UTC midnight of today: fixtures are placed around day boundaries on purpose. */
const TODAY = new Date(Math.floor(Date.now() / DAY) * DAY);
const at = (ms: number) => new Date(TODAY.getTime() + ms);

const msg = (content: string) => [{ role: 'USER', content }];
const band = (b: 'open' | 'fast' | 'cheap' | 'tight') =>
  ({ open: undefined, fast: { maxLatencyMs: 2000 }, cheap: { maxCostUsd: 0.01 }, tight: { maxLatencyMs: 2000, maxCostUsd: 0.005 } })[b];

interface Fixture {
  tenantId: string;
  agentId: string;
  cell: string | null;
  at: Date;
  policyVersion?: string | null;
  status?: 'succeeded' | 'failed';
}

/** Inference rows written straight to SQL: pre-§16 rows (no cell), past timestamps, bulk and synthetic cells. */
async function insertInferences(t: TestApp, rows: Fixture[]): Promise<void> {
  await t.sql(
    `/* insertCoverageFixtures */ insert into inference (id, created_at, tenant_id, agent_id, requested_model, routing_mode, status, request_payload, request_hash,
       task_type, task_type_source, policy_version, cell, constraint_band)
     select gen_random_uuid(), r.at, r.tenant_id, r.agent_id, 'sim-small', 'direct', r.status, '{}'::jsonb, 'fixture',
       r.task_type::inference_task_type, case when r.cell is null then null else 'caller' end::inference_task_type_source, r.pv, r.cell, r.band
     from unnest($1::timestamptz[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
       as r(at, tenant_id, agent_id, task_type, pv, cell, band, status)`,
    [
      rows.map((r) => r.at),
      rows.map((r) => r.tenantId),
      rows.map((r) => r.agentId),
      rows.map((r) => (r.cell ? (parseCell(r.cell)?.taskType ?? null) : null)),
      rows.map((r) => (r.cell ? (r.policyVersion === undefined ? 'pv-000000000000' : r.policyVersion) : null)),
      rows.map((r) => r.cell),
      rows.map((r) => (r.cell ? (parseCell(r.cell)?.band ?? null) : null)),
      rows.map((r) => r.status ?? 'succeeded'),
    ],
  );
}

const times = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));

async function addAgent(t: TestApp, tenantId: string, ownerId: string): Promise<string> {
  const id = randomUUID();
  await t.sql(`insert into agent (id, created_at, tenant_id, owner_id, name) values ($1, now(), $2, $3, 'extra')`, [id, tenantId, ownerId]);
  return id;
}

async function addUser(t: TestApp, tenantId: string, role: 'member' | 'admin' | null = null): Promise<{ id: string; handle: string; key: string | null }> {
  const id = randomUUID();
  const handle = uniqueSlug('u').slice(0, 39).replace(/-+$/, '');
  await t.sql(`insert into "user" (id, created_at, tenant_id, handle) values ($1, now(), $2, $3)`, [id, tenantId, handle]);
  if (!role) return { id, handle, key: null };
  const key = generateApiKey();
  await t.sql(`insert into api_key (id, created_at, tenant_id, user_id, role, prefix, secret_hash) values ($1, now(), $2, $3, $4, $5, $6)`, [randomUUID(), tenantId, id, role, key.prefix, key.hash]);
  return { id, handle, key: key.secret };
}

/** The coverage a raw GROUP BY over `inference` gives: the reference the API must equal. */
async function rawCoverage(t: TestApp, where: string, params: unknown[]) {
  const rows = await t.sql<{ cell: string; n: number; last: Date }>(
    `select i.cell, count(*)::int as n, max(i.created_at) as last from inference i join agent a on a.id = i.agent_id
     where i.cell is not null and ${where} group by i.cell order by n desc, i.cell collate "C" limit 100`,
    params,
  );
  return rows.map((r) => ({ cell: r.cell, count: r.n, lastSeenAt: new Date(r.last).toISOString() }));
}

/** The rollup tables next to the same aggregates computed raw: they must be equal. */
async function rollupVersusRaw(t: TestApp) {
  const q = (sql: string) => t.sql(sql);
  return {
    day: await q(`select agent_id, day::text, cell, tenant_id, inferences::int as n, last_seen_at from cell_coverage_day order by 1, 2, 3`),
    dayRaw: await q(`select agent_id, (created_at at time zone 'UTC')::date::text as day, cell, tenant_id, count(*)::int as n, max(created_at) as last_seen_at
                     from inference where cell is not null group by 1, 2, 3, 4 order by 1, 2, 3`),
    total: await q(`select agent_id, cell, tenant_id, inferences::int as n, last_seen_at from cell_coverage_total order by 1, 2`),
    totalRaw: await q(`select agent_id, cell, tenant_id, count(*)::int as n, max(created_at) as last_seen_at from inference where cell is not null group by 1, 2, 3 order by 1, 2`),
    policy: await q(`select tenant_id, day::text, policy_version, inferences::int as n, first_seen_at, last_seen_at from policy_version_day order by 1, 2, 3`),
    policyRaw: await q(`select tenant_id, (created_at at time zone 'UTC')::date::text as day, policy_version, count(*)::int as n, min(created_at) as first_seen_at, max(created_at) as last_seen_at
                        from inference where cell is not null and policy_version is not null group by 1, 2, 3 order by 1, 2, 3`),
  };
}

async function expectRollupsExact(t: TestApp) {
  const r = await rollupVersusRaw(t);
  expect(r.day).toEqual(r.dayRaw);
  expect(r.total).toEqual(r.totalRaw);
  expect(r.policy).toEqual(r.policyRaw);
  return r;
}

describe('planWindow (exact windows over UTC day buckets)', () => {
  it('splits a window into whole days and raw edges', () => {
    const since = at(-3 * DAY + 10 * HOUR);
    const until = at(-1 * DAY + 6 * HOUR);
    expect(planWindow(since, until)).toEqual({ days: { from: at(-2 * DAY), to: at(-1 * DAY) }, raw: [{ from: since, to: at(-2 * DAY) }, { from: at(-1 * DAY), to: until }] });
    expect(planWindow(null, null)).toEqual({ days: { from: null, to: null }, raw: [] });
    expect(planWindow(at(-2 * DAY), null)).toEqual({ days: { from: at(-2 * DAY), to: null }, raw: [] });
    expect(planWindow(null, at(-2 * DAY + 1))).toEqual({ days: { from: null, to: at(-2 * DAY) }, raw: [{ from: at(-2 * DAY), to: at(-2 * DAY + 1) }] });
    // Within one day, or across one midnight without a whole day: raw only.
    expect(planWindow(at(HOUR), at(2 * HOUR))).toEqual({ days: null, raw: [{ from: at(HOUR), to: at(2 * HOUR) }] });
    expect(planWindow(at(-HOUR), at(HOUR))).toEqual({ days: null, raw: [{ from: at(-HOUR), to: at(HOUR) }] });
    expect(planWindow(at(HOUR), at(HOUR))).toEqual({ days: null, raw: [] });
  });
});

describe('cell coverage', () => {
  let t: TestApp;
  const queries: string[] = [];

  beforeAll(async () => {
    t = await startTestApp({ ormOptions: { debug: ['query'], logger: (m: string) => queries.push(m) } });
  });
  afterAll(async () => {
    await t.stop();
  });

  const dispatch = (input: Record<string, unknown>, key: string) => t.gql(DISPATCH, { input: { model: 'sim-small', messages: msg('hello'), ...input } }, key);
  const coverage = (handle: string, since?: Date, key?: string) => t.gql(COVERAGE, { handle, since: since?.toISOString() }, key);

  it('gives an empty fleet zeros, an empty list and every Tier-1 cell cold', async () => {
    const tenant = await t.newTenant();
    const res = await coverage(tenant.userHandle, undefined, tenant.userKey);
    expect(res.errors).toBeUndefined();
    expect(res.data.user.cellCoverage).toEqual({
      summary: { inferences: 0, distinctCells: 0, tier1Cells: 0, tier2Cells: 0, tier1CellsPossible: 16, tier1Coverage: 0 },
      cells: [],
      coldCells: [...TIER1_CELLS],
    });
    const since = await coverage(tenant.userHandle, at(-DAY + HOUR), tenant.userKey);
    expect(since.data.user.cellCoverage.summary.inferences).toBe(0);
    const whole = await t.gql(TENANT_COVERAGE, {}, tenant.userKey);
    expect(whole.data.viewer.tenant.cellCoverage).toMatchObject({ summary: { inferences: 0, distinctCells: 0 }, cells: [], coldCells: [...TIER1_CELLS] });
  });

  describe('a mixed fleet', () => {
    let a: TenantKeys;
    let b: TenantKeys;
    let agent2: string;
    let other: { id: string; handle: string };
    let otherAgent: string;
    const reasoningAt = new Date(Date.now() - HOUR);

    beforeAll(async () => {
      a = await t.newTenant();
      b = await t.newTenant();
      agent2 = await addAgent(t, a.tenantId, a.userId);
      other = await addUser(t, a.tenantId);
      otherAgent = await addAgent(t, a.tenantId, other.id);

      // Real dispatches through the API (the simulator answers offline).
      const sent = [
        await dispatch({ taskType: 'CODE' }, a.agentKey),
        await dispatch({ taskType: 'CODE' }, a.agentKey),
        await dispatch({ taskType: 'CODE', constraints: band('fast') }, a.agentKey),
        await dispatch({}, a.agentKey), // no task type, no classifier → general/open
        await dispatch({ taskType: 'CHAT', constraints: band('tight'), agentId: agent2 }, a.userKey),
        await dispatch({ taskType: 'SUMMARIZATION', constraints: band('cheap'), agentId: agent2 }, a.userKey),
        await dispatch({ taskType: 'CODE', agentId: otherAgent }, a.userKey), // another user's agent
        await dispatch({ taskType: 'CODE' }, b.agentKey), // another tenant
      ];
      for (const r of sent) expect(r.errors).toBeUndefined();
      expect(sent.map((r) => r.data.dispatchInference.inference.cell)).toEqual(['code/open', 'code/open', 'code/fast', 'general/open', 'chat/tight', 'summarization/cheap', 'code/open', 'code/open']);

      await insertInferences(t, [
        ...times(3, () => ({ tenantId: a.tenantId, agentId: a.agentId, cell: null, at: new Date() })), // pre-§16 rows
        ...times(2, () => ({ tenantId: a.tenantId, agentId: agent2, cell: 'reasoning/open', at: reasoningAt })),
        { tenantId: a.tenantId, agentId: agent2, cell: 'translation/fast', at: new Date(Date.now() - 2 * HOUR), status: 'failed' },
        ...times(5, () => ({ tenantId: a.tenantId, agentId: otherAgent, cell: 'chat/open', at: new Date() })),
        ...times(4, () => ({ tenantId: b.tenantId, agentId: b.agentId, cell: 'reasoning/open', at: new Date() })),
      ]);
    });

    it('counts every inference of every agent of the user, and nothing else', async () => {
      const res = await coverage(a.userHandle, undefined, a.agentKey);
      expect(res.errors).toBeUndefined();
      const cov = res.data.user.cellCoverage;
      expect(cov.summary).toEqual({ inferences: 9, distinctCells: 7, tier1Cells: 4, tier2Cells: 3, tier1CellsPossible: 16, tier1Coverage: 0.25 });
      // By count descending, ties by cell name.
      expect(cov.cells.map((c: { cell: string; count: number }) => [c.cell, c.count])).toEqual([
        ['code/open', 2],
        ['reasoning/open', 2],
        ['chat/tight', 1],
        ['code/fast', 1],
        ['general/open', 1],
        ['summarization/cheap', 1],
        ['translation/fast', 1],
      ]);
      expect(cov.cells[0]).toMatchObject({ taskType: 'CODE', constraintBand: 'OPEN', tier: 'TIER1' });
      expect(cov.cells[1]).toMatchObject({ taskType: 'REASONING', constraintBand: 'OPEN', tier: 'TIER1', lastSeenAt: reasoningAt.toISOString() });
      expect(cov.cells[5]).toMatchObject({ taskType: 'SUMMARIZATION', constraintBand: 'CHEAP', tier: 'TIER2' });
      expect(cov.coldCells).toEqual(TIER1_CELLS.filter((c) => !['code/open', 'code/fast', 'chat/tight', 'reasoning/open'].includes(c)));
      // The reference: a raw GROUP BY over the user's agents.
      expect(cov.cells.map(({ cell, count, lastSeenAt }: { cell: string; count: number; lastSeenAt: string }) => ({ cell, count, lastSeenAt }))).toEqual(await rawCoverage(t, 'a.owner_id = $1', [a.userId]));
    });

    it('finds the user by handle in any case; another tenant’s user is null', async () => {
      const upper = await coverage(a.userHandle.toUpperCase(), undefined, a.userKey);
      expect(upper.data.user.cellCoverage.summary.inferences).toBe(9);
      const foreign = await coverage(b.userHandle, undefined, a.userKey);
      expect(foreign.errors).toBeUndefined();
      expect(foreign.data.user).toBeNull();
      const otherUser = await coverage(other.handle, undefined, a.userKey);
      expect(otherUser.data.user.cellCoverage.summary).toMatchObject({ inferences: 6, distinctCells: 2 });
    });

    it('gives admins the tenant-wide coverage with its cold cells, and refuses other keys', async () => {
      const res = await t.gql(TENANT_COVERAGE, {}, a.userKey);
      expect(res.errors).toBeUndefined();
      const cov = res.data.viewer.tenant.cellCoverage;
      expect(cov.summary).toEqual({ inferences: 15, distinctCells: 8, tier1Cells: 5, tier2Cells: 3, tier1CellsPossible: 16, tier1Coverage: 5 / 16 });
      expect(cov.cells.slice(0, 3).map((c: { cell: string; count: number }) => [c.cell, c.count])).toEqual([
        ['chat/open', 5],
        ['code/open', 3],
        ['reasoning/open', 2],
      ]);
      expect(cov.coldCells).toEqual(TIER1_CELLS.filter((c) => !['code/open', 'code/fast', 'chat/tight', 'chat/open', 'reasoning/open'].includes(c)));
      expect(cov.cells.map(({ cell, count, lastSeenAt }: { cell: string; count: number; lastSeenAt: string }) => ({ cell, count, lastSeenAt }))).toEqual(await rawCoverage(t, 'a.tenant_id = $1', [a.tenantId]));

      const member = await addUser(t, a.tenantId, 'member');
      for (const key of [a.agentKey, member.key!]) {
        const refused = await t.gql(TENANT_COVERAGE, {}, key);
        expect(refused.errors?.[0].extensions?.code).toBe('FORBIDDEN');
        expect(refused.data).toBeNull();
      }
    });
  });

  it('honours `since` exactly, across day boundaries', async () => {
    const tenant = await t.newTenant();
    const agent2 = await addAgent(t, tenant.tenantId, tenant.userId);
    const fx = (agentId: string, cell: string, ms: number): Fixture => ({ tenantId: tenant.tenantId, agentId, cell, at: at(ms) });
    await insertInferences(t, [
      fx(tenant.agentId, 'code/open', -3 * DAY + 10 * HOUR),
      fx(tenant.agentId, 'code/open', -2 * DAY - 1), // 23:59:59.999
      fx(agent2, 'chat/open', -2 * DAY), // midnight sharp
      fx(agent2, 'chat/open', -2 * DAY + 12 * HOUR),
      fx(tenant.agentId, 'code/fast', -2 * DAY + 12 * HOUR + 1),
      fx(agent2, 'reasoning/tight', -DAY + 6 * HOUR),
      fx(tenant.agentId, 'extraction/cheap', -DAY + 23 * HOUR),
      fx(tenant.agentId, 'creative/open', -10 * DAY),
    ]);
    const check = async (since: Date) => {
      const res = await coverage(tenant.userHandle, since, tenant.userKey);
      expect(res.errors).toBeUndefined();
      const cov = res.data.user.cellCoverage;
      const expected = await rawCoverage(t, 'a.owner_id = $1 and i.created_at >= $2', [tenant.userId, since]);
      expect(cov.cells.map(({ cell, count, lastSeenAt }: { cell: string; count: number; lastSeenAt: string }) => ({ cell, count, lastSeenAt }))).toEqual(expected);
      expect(cov.summary.inferences).toBe(expected.reduce((s, c) => s + c.count, 0));
      return cov;
    };
    expect((await check(at(-3 * DAY + 10 * HOUR))).summary.inferences).toBe(7); // inclusive
    expect((await check(at(-3 * DAY + 10 * HOUR + 1))).summary.inferences).toBe(6);
    expect((await check(at(-2 * DAY - 1))).summary.inferences).toBe(6);
    const midnight = await check(at(-2 * DAY));
    expect(midnight.summary).toMatchObject({ inferences: 5, distinctCells: 4 });
    expect((await check(at(-2 * DAY + 1))).summary.inferences).toBe(4);
    expect((await check(at(-2 * DAY + 12 * HOUR + 1))).cells.map((c: { cell: string }) => c.cell)).toEqual(['code/fast', 'extraction/cheap', 'reasoning/tight']);
    expect((await check(at(-DAY + 6 * HOUR + 1))).summary.inferences).toBe(1);
    expect((await check(at(-30 * DAY))).summary).toMatchObject({ inferences: 8, distinctCells: 6, tier1Cells: 5, tier2Cells: 1 });
    expect((await check(at(DAY))).summary.inferences).toBe(0);
    const all = await coverage(tenant.userHandle, undefined, tenant.userKey);
    expect(all.data.user.cellCoverage.summary.inferences).toBe(8);
  });

  it('caps `cells` at the top 100 in the SQL itself, while the summary counts every cell', async () => {
    const tenant = await t.newTenant();
    // 150 distinct synthetic cells (cell is text: the day the vocabulary grows), cell k seen k % 7 + 1 times.
    const synthetic = times(150, (k) => `synthetic-${String(k).padStart(3, '0')}/open`);
    await insertInferences(t, synthetic.flatMap((cell, k) => times((k % 7) + 1, () => ({ tenantId: tenant.tenantId, agentId: tenant.agentId, cell, at: new Date() }))));
    queries.length = 0;
    const res = await t.gql(`query C($h: String!) { user(handle: $h) { cellCoverage { summary { inferences distinctCells tier1Cells tier2Cells } cells { cell count tier } coldCells } } }`, { h: tenant.userHandle }, tenant.userKey);
    expect(res.errors).toBeUndefined();
    const cov = res.data.user.cellCoverage;
    const total = synthetic.reduce((s, _c, k) => s + (k % 7) + 1, 0);
    expect(cov.summary).toEqual({ inferences: total, distinctCells: 150, tier1Cells: 0, tier2Cells: 150 });
    expect(cov.cells).toHaveLength(100);
    const expected = synthetic
      .map((cell, k) => ({ cell, count: (k % 7) + 1 }))
      .sort((x, y) => y.count - x.count || (x.cell < y.cell ? -1 : 1))
      .slice(0, 100);
    expect(cov.cells.map((c: { cell: string; count: number }) => ({ cell: c.cell, count: c.count }))).toEqual(expected);
    expect(cov.coldCells).toHaveLength(16);
    // The cap is the statement's LIMIT, not a slice in JavaScript.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the ORM logger colours its output
    const statement = queries.map((q) => q.replace(/\u001b\[[0-9;]*m/g, '')).find((q) => q.includes('/* cellCoverage */'));
    expect(statement).toBeDefined();
    // …and the database itself returned 100 rows for 150 cells.
    expect(statement).toMatch(/order by n desc, cell collate "C"\s*limit 100 \[took \d+ ms, 100 results\]$/);
  });
});

describe('policy telemetry', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t.stop();
  });

  it('counts inferences per policy version in a window, most recently seen first', async () => {
    const tenant = await t.newTenant();
    const other = await t.newTenant();
    const dispatch = (key = tenant.agentKey) => t.gql(DISPATCH, { input: { model: 'sim-small', taskType: 'CHAT', messages: msg('hi') } }, key);
    const first = [await dispatch(), await dispatch()];
    const pv0 = first[0].data.dispatchInference.inference.policyVersion;
    await dispatch(other.agentKey);
    const published = await t.gql(PUBLISH, { r: { rules: [{ when: { taskTypes: ['code'] }, route: ['sim-large'] }], fallback: ['sim-small'] } }, tenant.userKey);
    const pv1 = published.data.publishRoutingPolicy.policyVersion;
    expect(pv1).not.toBe(pv0);
    const second = [await dispatch(), await dispatch(), await dispatch()];
    expect(second.map((r) => r.data.dispatchInference.inference.policyVersion)).toEqual([pv1, pv1, pv1]);
    // Older traffic under the default policy, around day boundaries, and a pre-§16 row.
    await insertInferences(t, [
      { tenantId: tenant.tenantId, agentId: tenant.agentId, cell: 'chat/open', policyVersion: pv0, at: at(-5 * DAY + 3 * HOUR) },
      { tenantId: tenant.tenantId, agentId: tenant.agentId, cell: 'chat/open', policyVersion: pv0, at: at(-4 * DAY) },
      { tenantId: tenant.tenantId, agentId: tenant.agentId, cell: 'code/fast', policyVersion: pv0, at: at(-4 * DAY + 20 * HOUR), status: 'failed' },
      { tenantId: tenant.tenantId, agentId: tenant.agentId, cell: null, at: at(-4 * DAY + 21 * HOUR) },
    ]);
    const member = await addUser(t, tenant.tenantId, 'member');

    const all = await t.gql(TELEMETRY, {}, member.key);
    expect(all.errors).toBeUndefined();
    const rows = all.data.viewer.tenant.policyTelemetry;
    expect(rows.map((r: { policyVersion: string; active: boolean; inferences: number }) => [r.policyVersion, r.active, r.inferences])).toEqual([
      [pv1, true, 3],
      [pv0, false, 5],
    ]);
    expect(rows[1].firstSeenAt).toBe(at(-5 * DAY + 3 * HOUR).toISOString());
    expect(rows[1].lastSeenAt).toBe(first[1].data.dispatchInference.inference.createdAt);

    const raw = async (since: Date | null, until: Date | null) =>
      (
        await t.sql<{ policy_version: string; n: number; first: Date; last: Date }>(
          `select policy_version, count(*)::int as n, min(created_at) as first, max(created_at) as last from inference
           where tenant_id = $1 and cell is not null and policy_version is not null and ($2::timestamptz is null or created_at >= $2) and ($3::timestamptz is null or created_at < $3)
           group by policy_version order by max(created_at) desc, policy_version collate "C"`,
          [tenant.tenantId, since, until],
        )
      ).map((r) => ({ policyVersion: r.policy_version, inferences: r.n, firstSeenAt: new Date(r.first).toISOString(), lastSeenAt: new Date(r.last).toISOString() }));
    const windows: Array<[Date | null, Date | null]> = [
      [at(-5 * DAY + 3 * HOUR), null],
      [at(-5 * DAY + 3 * HOUR + 1), null],
      [at(-4 * DAY), at(-4 * DAY + 20 * HOUR)],
      [at(-4 * DAY), at(-4 * DAY + 20 * HOUR + 1)],
      [at(-6 * DAY), at(-4 * DAY)],
      [null, at(-3 * DAY)],
      [at(-4 * DAY + 1), at(DAY)],
      [at(-30 * DAY), at(-20 * DAY)],
    ];
    for (const [since, until] of windows) {
      const res = await t.gql(TELEMETRY, { since: since?.toISOString(), until: until?.toISOString() }, tenant.userKey);
      expect(res.errors).toBeUndefined();
      expect(res.data.viewer.tenant.policyTelemetry.map(({ active: _a, ...r }: { active: boolean }) => r)).toEqual(await raw(since, until));
    }
    const oldWindow = await t.gql(TELEMETRY, { since: at(-6 * DAY).toISOString(), until: at(-3 * DAY).toISOString() }, tenant.userKey);
    expect(oldWindow.data.viewer.tenant.policyTelemetry).toEqual([
      { policyVersion: pv0, active: false, inferences: 3, firstSeenAt: at(-5 * DAY + 3 * HOUR).toISOString(), lastSeenAt: at(-4 * DAY + 20 * HOUR).toISOString() },
    ]);

    const empty = await t.gql(TELEMETRY, { since: at(-4 * DAY).toISOString(), until: at(-4 * DAY).toISOString() }, tenant.userKey);
    expect(empty.errors).toBeUndefined();
    expect(empty.data.viewer.tenant.policyTelemetry).toEqual([]);
    const backwards = await t.gql(TELEMETRY, { since: at(0).toISOString(), until: at(-DAY).toISOString() }, tenant.userKey);
    expect(backwards.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    const asAgent = await t.gql(TELEMETRY, {}, tenant.agentKey);
    expect(asAgent.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  });
});

describe('the rollups equal the raw aggregate', () => {
  let mock: MockProvider;
  let t: TestApp;
  beforeAll(async () => {
    mock = await startMockProvider();
    t = await startTestApp({ mock, classifier: false });
  });
  afterAll(async () => {
    await t.stop();
    await mock.close();
  });

  it('after succeeded, failed and replayed dispatches, and after updates and deletes', async () => {
    const tenant = await t.newTenant();
    const dispatch = (input: Record<string, unknown>) => t.gql(DISPATCH, { input: { model: 'claude-haiku-4-5', messages: msg('hi'), ...input } }, tenant.agentKey);
    const coverage = async () => (await t.gql(COVERAGE, { handle: tenant.userHandle }, tenant.userKey)).data.user.cellCoverage;

    // Succeeded: with and without an idempotency key (the keyed one goes pending → succeeded).
    expect((await dispatch({ taskType: 'CODE' })).data.dispatchInference.inference.status).toBe('SUCCEEDED');
    const keyed = await dispatch({ taskType: 'CODE', idempotencyKey: 'ok-1' });
    expect(keyed.data.dispatchInference).toMatchObject({ replayed: false, inference: { status: 'SUCCEEDED', cell: 'code/open' } });
    await expectRollupsExact(t);

    // Failed (direct mode never substitutes): recorded, and counted — the cell was exercised.
    mock.script({ kind: 'completion', behavior: { type: 'status', status: 500 } });
    const failed = await dispatch({ taskType: 'CHAT', constraints: band('fast') });
    expect(failed.errors?.[0].extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
    const failedKeyed = await dispatch({ taskType: 'CHAT', constraints: band('fast'), idempotencyKey: 'bad-1' });
    expect(failedKeyed.errors?.[0].extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
    await expectRollupsExact(t);
    mock.reset();

    // Replays add no row and no count.
    const replay = await dispatch({ taskType: 'CODE', idempotencyKey: 'ok-1' });
    expect(replay.data.dispatchInference).toMatchObject({ replayed: true, inference: { id: keyed.data.dispatchInference.inference.id } });
    const failedReplay = await dispatch({ taskType: 'CHAT', constraints: band('fast'), idempotencyKey: 'bad-1' });
    expect(failedReplay.errors?.[0].extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', replayed: true });
    expect(mock.callCount({ kind: 'completion' })).toBe(0);
    const r = await expectRollupsExact(t);
    expect(r.total.filter((x: { tenant_id: string }) => x.tenant_id === tenant.tenantId).map((x: { cell: string; n: number }) => [x.cell, x.n])).toEqual([
      ['chat/fast', 2],
      ['code/open', 2],
    ]);
    const cov = await coverage();
    expect(cov.summary).toMatchObject({ inferences: 4, distinctCells: 2, tier1Cells: 2 });
    expect((await t.sql(`select status, count(*)::int as n from inference where tenant_id = $1 group by status order by status`, [tenant.tenantId]))).toEqual([
      { status: 'failed', n: 2 },
      { status: 'succeeded', n: 2 },
    ]);

    // Rows changed or removed behind the API's back are recounted from `inference`.
    await insertInferences(t, times(3, (i) => ({ tenantId: tenant.tenantId, agentId: tenant.agentId, cell: 'extraction/tight', at: at(-2 * DAY + i * HOUR) })));
    await expectRollupsExact(t);
    // One row per statement takes the trigger's single-row path: onto a counted day (later than its
    // last sighting, then between), onto a new day and then earlier on it (its first sighting moves),
    // a day without a policy version, and a row with no cell, which counts nowhere.
    const one = (f: Partial<Fixture>) => insertInferences(t, [{ tenantId: tenant.tenantId, agentId: tenant.agentId, cell: 'extraction/tight', at: at(-2 * DAY + 5 * HOUR), ...f }]);
    await one({});
    await one({ at: at(-2 * DAY + 30 * 60_000), status: 'failed' });
    await one({ at: at(-6 * DAY + 5 * HOUR) });
    await one({ at: at(-6 * DAY + HOUR) });
    await one({ at: at(-7 * DAY), policyVersion: null });
    await one({ cell: null, at: at(-2 * DAY + 6 * HOUR) });
    const single = await expectRollupsExact(t);
    const mine = <R extends { tenant_id: string }>(rows: R[]) => rows.filter((x) => x.tenant_id === tenant.tenantId);
    expect(mine(single.total).find((x: { cell: string }) => x.cell === 'extraction/tight')?.n).toBe(8);
    expect(mine(single.policy).find((x: { day: string }) => x.day === at(-6 * DAY).toISOString().slice(0, 10))).toMatchObject({ n: 2, first_seen_at: at(-6 * DAY + HOUR), last_seen_at: at(-6 * DAY + 5 * HOUR) });
    expect(mine(single.policy).some((x: { day: string }) => x.day === at(-7 * DAY).toISOString().slice(0, 10))).toBe(false);
    await t.sql(`update inference set cell = 'extraction/open', constraint_band = 'open' where tenant_id = $1 and cell = 'extraction/tight' and created_at = $2`, [tenant.tenantId, at(-2 * DAY)]);
    await expectRollupsExact(t);
    await t.sql(`update inference set created_at = created_at - interval '3 days' where tenant_id = $1 and cell = 'extraction/tight' and created_at = $2`, [tenant.tenantId, at(-2 * DAY + HOUR)]);
    await expectRollupsExact(t);
    await t.sql(`update inference set output_text = 'touched' where tenant_id = $1`, [tenant.tenantId]);
    await expectRollupsExact(t);
    await t.sql(`delete from inference where tenant_id = $1 and cell like 'extraction/%'`, [tenant.tenantId]);
    const afterDelete = await expectRollupsExact(t);
    expect(afterDelete.day.some((x: { cell: string }) => x.cell.startsWith('extraction/'))).toBe(false);
    expect((await coverage()).summary.inferences).toBe(4);

    await t.sql(`truncate inference`);
    const empty = await expectRollupsExact(t);
    expect([empty.day.length, empty.total.length, empty.policy.length]).toEqual([0, 0, 0]);
    expect((await coverage()).summary.inferences).toBe(0);
  });
});
