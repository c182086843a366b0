/**
 * A page of inferences is read off the (tenant, created_at, id) index, newest first, and stops
 * after first + 1 rows — also for a tenant the planner's statistics have not seen yet (a new
 * tenant, or one that grew since the last ANALYZE). PostgreSQL estimates one row for such a
 * tenant; with another index leading on tenant_id in reach, it used to scan all of the tenant's
 * rows through that index and sort them (found in the benchmark: ~11 ms per page at 2,000 rows,
 * growing with the tenant), and the prepared statement kept that plan.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { positional } from '../../src/db/sql.js';
import { CatalogSnapshot } from '../../src/modules/catalog/catalog.js';
import { inferencePageStatement } from '../../src/modules/inference/inference.service.js';
import { createTestDatabase, sqlClient } from '../support/database.js';

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Actual Rows'?: number;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

let db: pg.Client;
const seen = { tenant: randomUUID(), agent: randomUUID() };
const unseen = { tenant: randomUUID(), agent: randomUUID() };

async function addTenant(t: { tenant: string; agent: string }): Promise<void> {
  const user = randomUUID();
  await db.query(`insert into tenant (id, created_at, slug, name) values ($1, now(), $2, 'plan test')`, [t.tenant, `plan-${t.tenant.slice(0, 8)}`]);
  await db.query(`insert into "user" (id, created_at, tenant_id, handle) values ($1, now(), $2, $3)`, [user, t.tenant, `plan-${t.tenant.slice(0, 8)}`]);
  await db.query(`insert into agent (id, created_at, tenant_id, owner_id, name) values ($1, now(), $2, $3, 'plan agent')`, [t.agent, t.tenant, user]);
}

/** `rows` finished inferences, one a second back from `newest` seconds ago, some with idempotency keys. */
async function addInferences(t: { tenant: string; agent: string }, rows: number, newest: number): Promise<void> {
  await db.query(
    `insert into inference (id, created_at, tenant_id, agent_id, requested_model, routing_mode, status, request_payload, request_hash, idempotency_key, completed_at)
     select gen_random_uuid(), now() - make_interval(secs => $3 + g), $1, $2, 'claude-haiku-4-5', 'direct', 'succeeded', '{}'::jsonb, md5(g::text),
            case when g % 10 = 0 then 'key-' || g end, now()
       from generate_series(1, $4::int) g`,
    [t.tenant, t.agent, newest, rows],
  );
}

beforeAll(async () => {
  db = await sqlClient(await createTestDatabase(inject('pgUrl')));
  await addTenant(seen);
  await addTenant(unseen);
  await addInferences(seen, 20_000, 10_000);
  // The statistics know one tenant; the other's rows arrive after.
  await db.query('analyze inference');
  await addInferences(unseen, 3_000, 0);
}, 60_000);

afterAll(async () => {
  await db?.end();
});

describe('inference page plan', () => {
  it('reads a page of a tenant the statistics have not seen off the tenant index, without sorting its rows', async () => {
    const catalog = new CatalogSnapshot(new Map());
    const firstPage = inferencePageStatement(unseen.tenant, catalog, { first: 100 })!;
    const newest = await db.query(`select created_at, id from inference where tenant_id = $1 order by created_at desc, id desc offset 99 limit 1`, [unseen.tenant]);
    const cursor = Buffer.from(`${newest.rows[0].created_at.toISOString()}|${newest.rows[0].id}`).toString('base64url');
    const nextPage = inferencePageStatement(unseen.tenant, catalog, { first: 100, after: cursor })!;

    for (const [name, statement] of [['first_page', firstPage], ['next_page', nextPage]] as const) {
      // Prepared as the server prepares it, and run more than five times, so PostgreSQL has
      // chosen between its custom and generic plans as it would on a pool connection.
      await db.query(`prepare ${name} as ${positional(statement.sql)}`);
      const literal = (v: unknown) => (v instanceof Date ? `'${v.toISOString()}'` : typeof v === 'number' ? String(v) : `'${String(v)}'`);
      const execute = `execute ${name}(${statement.params.map(literal).join(', ')})`;
      for (let i = 0; i < 8; i++) expect((await db.query(execute)).rowCount).toBe(101);
      const [{ 'QUERY PLAN': [{ Plan: plan }] }] = (await db.query(`explain (analyze, format json) ${execute}`)).rows as { 'QUERY PLAN': [{ Plan: PlanNode }] }[];
      const all = nodes(plan);
      const scans = all.filter((n) => n['Index Name'] !== undefined || /Scan/.test(n['Node Type']));
      expect(all.map((n) => n['Node Type']), name).not.toContain('Sort');
      expect(scans.map((n) => [n['Node Type'], n['Index Name']]), name).toEqual([['Index Scan', 'inference_tenant_created_idx']]);
      expect(scans[0]['Actual Rows'], name).toBeLessThanOrEqual(101);
    }
  });
});
