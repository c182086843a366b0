/**
 * Cell coverage at scale: `npx tsx bench/coverage.bench.ts [--quick]`.
 *
 * Seeds 1M inferences with generate_series into its own embedded PostgreSQL, twice:
 *   A. 10k of them the user's (the rest: other users of the tenant and another tenant),
 *   B. all 1M the user's,
 * then measures `user(handle) { cellCoverage }` over HTTP against the real server (sequential,
 * after warm-up), the same with `since` (a mid-day boundary, so the raw edge is read too), and, for
 * the record, the alternative the rollups replaced: the raw aggregate, index-only on
 * `inference_coverage_idx`. EXPLAIN (ANALYZE, BUFFERS) plans of each are kept. Last, the write
 * cost of the rollup triggers on dispatch (same dispatches with the triggers on and off).
 *
 * Writes bench/results/coverage.{json,md} (coverage-quick.* with --quick); `npm run bench` calls
 * runCoverageBench() and embeds the markdown.
 */
import fs from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { EntityManager } from '@mikro-orm/postgresql';
import pg from 'pg';
import pino from 'pino';
import { type App, startApp } from '../src/app.js';
import { loadEnv } from '../src/config/env.js';
import { startEmbeddedPostgres } from '../src/db/embedded.js';
import { cellCoverageSql } from '../src/modules/coverage/coverage.service.js';
import { createTenant, type TenantKeys } from '../src/modules/tenancy/tenancy.service.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DAY_MS = 86_400_000;

interface Options {
  total: number;
  /** The user's rows in each scenario. */
  userRows: [number, number];
  requests: number;
  warmup: number;
  rawRequests: number;
  dispatches: number;
  historyDays: number;
}

const FULL: Options = { total: 1_000_000, userRows: [10_000, 1_000_000], requests: 200, warmup: 40, rawRequests: 30, dispatches: 300, historyDays: 90 };
const QUICK: Options = { total: 100_000, userRows: [1_000, 100_000], requests: 60, warmup: 15, rawRequests: 10, dispatches: 100, historyDays: 90 };

interface Latency {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  mean: number;
  max: number;
}

interface ScenarioResult {
  name: string;
  tableRows: number;
  userRows: number;
  userCellRows: number;
  seedSeconds: number;
  rollupRows: { cellCoverageTotal: number; cellCoverageDay: number; policyVersionDay: number };
  http: { floor: Latency; cellCoverage: Latency; cellCoverageSince: Latency; tenantCoverage: Latency };
  sql: { rollup: Latency; rollupSince: Latency; rawIndexOnly: Latency };
  answer: { inferences: number; distinctCells: number; tier1Cells: number; exactVersusRaw: boolean };
  plans: { rollup: string; rollupSince: string; rawIndexOnly: string };
}

const COVERAGE_QUERY = `query Coverage($handle: String!, $since: DateTime) {
  user(handle: $handle) { cellCoverage(since: $since) {
    summary { inferences distinctCells tier1Cells tier2Cells tier1CellsPossible tier1Coverage }
    cells { cell taskType constraintBand tier count lastSeenAt }
    coldCells
  } }
}`;
/** The floor: authentication and a trivial field, to see what the coverage itself adds. */
const FLOOR_QUERY = `{ viewer { role } }`;
const TENANT_QUERY = `{ viewer { tenant { cellCoverage { summary { inferences distinctCells tier1Cells } cells { cell count lastSeenAt } coldCells } } } }`;

function latency(samples: number[]): Latency {
  const a = [...samples].sort((x, y) => x - y);
  const at = (q: number) => a[Math.min(a.length - 1, Math.max(0, Math.ceil(q * a.length) - 1))];
  const r = (x: number) => Math.round(x * 100) / 100;
  return { n: a.length, p50: r(at(0.5)), p95: r(at(0.95)), p99: r(at(0.99)), mean: r(a.reduce((s, x) => s + x, 0) / a.length), max: r(a[a.length - 1]) };
}

async function timed(n: number, warmup: number, f: () => Promise<void>): Promise<Latency> {
  for (let i = 0; i < warmup; i++) await f();
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await f();
    samples.push(performance.now() - t0);
  }
  return latency(samples);
}

async function gql(url: string, key: string, query: string, variables: Record<string, unknown> = {}): Promise<any> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { data: any; errors?: unknown[] };
  if (body.errors) throw new Error(`GraphQL error: ${JSON.stringify(body.errors)}`);
  return body.data;
}

/** The alternative to the rollups: the same answer aggregated from `inference`, index-only. */
function rawCoverageSql(tenantId: string, ownerId: string) {
  return {
    sql: `/* cellCoverageRaw */ with scope as (select array(select id from agent where tenant_id = ? and owner_id = ?) as ids),
per_cell as (
  select cell, count(*) as n, max(created_at) as last_seen_at from inference
  where agent_id = any((select ids from scope)::uuid[]) and cell is not null group by cell
)
select cell, n, last_seen_at, sum(n) over () as total, count(*) over () as distinct_cells
from per_cell order by n desc, cell collate "C" limit 100`,
    params: [tenantId, ownerId],
  };
}

async function explain(em: EntityManager, q: { sql: string; params: unknown[] }): Promise<string> {
  const rows = await em.execute<Array<Record<string, string>>>(`explain (analyze, buffers, costs off) ${q.sql}`, q.params);
  return rows.map((r) => r['QUERY PLAN']).join('\n');
}

/** Agents for the user (4), for 5 other users of the tenant (4 each), and for another tenant (20). */
async function seedFleet(app: App): Promise<{ user: TenantKeys; userAgents: string[]; otherAgents: string[] }> {
  const em = app.deps.orm.em.fork();
  const user = await createTenant(em, { slug: 'bench', ownerHandle: 'bench-user' });
  const other = await createTenant(app.deps.orm.em.fork(), { slug: 'bench-other', ownerHandle: 'bench-other' });
  const rows = await em.execute<Array<{ id: string; owner_id: string }>>(
    `/* benchAgents */ with users as (
       insert into "user" (id, created_at, tenant_id, handle)
       select gen_random_uuid(), now(), ?, 'bench-peer-' || u from generate_series(1, 5) u returning id
     ),
     owners as (select id, ? as tenant_id, 3 as n from (select ?::uuid as id) me
                union all select id, ?, 4 from users
                union all select ?::uuid, ?, 19)
     insert into agent (id, created_at, tenant_id, owner_id, name)
     select gen_random_uuid(), now(), o.tenant_id::uuid, o.id, 'bench-agent-' || g from owners o, generate_series(1, o.n) g
     returning id, owner_id`,
    [user.tenantId, user.tenantId, user.userId, user.tenantId, other.userId, other.tenantId],
  );
  const userAgents = [user.agentId, ...rows.filter((r) => r.owner_id === user.userId).map((r) => r.id)];
  const otherAgents = [other.agentId, ...rows.filter((r) => r.owner_id !== user.userId).map((r) => r.id)];
  return { user, userAgents, otherAgents };
}

/**
 * `count` inferences spread over `agents` and `days` of history: every 50th pre-§16 (no cell),
 * all 36 cells, two policy versions, 5% failed.
 */
async function seedInferences(em: EntityManager, agents: string[], count: number, days: number): Promise<void> {
  const batch = 250_000;
  for (let from = 1; from <= count; from += batch) {
    const to = Math.min(count, from + batch - 1);
    await em.execute(
      `/* benchSeedInferences */ with agents as (select a.id, a.tenant_id, row_number() over (order by a.id) - 1 as k from agent a where a.id = any(?::uuid[])),
       cells as (select t, b, row_number() over (order by t, b) - 1 as k
                 from unnest(enum_range(null::inference_task_type)) t, unnest(array['open','fast','cheap','tight']) b),
       rows as (
         select g, now() - ((g::bigint * 2654435761) % (?::bigint * 86400000)) * interval '1 millisecond' as at,
                g % (select count(*) from agents) as ak, (hashint4(g)::bigint + 2147483648) % 36 as ck
         from generate_series(?::int, ?::int) g
       )
       insert into inference (id, created_at, tenant_id, agent_id, requested_model, routing_mode, model_id, status, request_payload, request_hash,
                              output_text, input_tokens, output_tokens, cost_usd, latency_ms, completed_at,
                              task_type, task_type_source, policy_version, cell, constraint_band)
       select gen_random_uuid(), r.at, a.tenant_id, a.id, 'sim-small', 'direct', null, case when r.g % 20 = 0 then 'failed' else 'succeeded' end,
              '{"messages":[{"role":"user","content":"benchmark prompt"}],"maxTokens":1024}'::jsonb, md5(r.g::text),
              'simulated answer', 12, 30, 0, 5, r.at,
              case when r.g % 50 = 0 then null else c.t end,
              case when r.g % 50 = 0 then null else 'caller'::inference_task_type_source end,
              case when r.g % 50 = 0 then null when r.at < now() - interval '30 days' then 'pv-0ld0ld0ld0l' else 'pv-c0ffeec0ffee' end,
              case when r.g % 50 = 0 then null else c.t::text || '/' || c.b end,
              case when r.g % 50 = 0 then null else c.b end
       from rows r join agents a on a.k = r.ak join cells c on c.k = r.ck`,
      [`{${agents.join(',')}}`, days, from, to],
    );
  }
}

interface Prepared {
  name: string;
  app: App;
  gqlUrl: string;
  em: EntityManager;
  fleet: Awaited<ReturnType<typeof seedFleet>>;
  seedSeconds: number;
}

function appEnv(pgUrl: string, db: string) {
  const url = new URL(pgUrl);
  url.pathname = `/${db}`;
  return loadEnv({ NODE_ENV: 'development', PORT: '0', HOST: '127.0.0.1', DATABASE_URL: url.toString(), LOG_LEVEL: 'silent', AINFERA_SIMULATOR: '1', DATA_DIR: os.tmpdir() });
}

/** Its own database, the real server on it, and `o.total` inferences of which `userRows` are the user's. */
async function prepareScenario(name: string, pgUrl: string, admin: pg.Client, userRows: number, o: Options, log: (s: string) => void): Promise<Prepared> {
  const db = `coverage_bench_${name.toLowerCase()}`;
  await admin.query(`drop database if exists ${db}`);
  await admin.query(`create database ${db}`);
  const app = await startApp(appEnv(pgUrl, db), pino({ level: 'silent' }), { seedDemo: false });
  try {
    const gqlUrl = `http://127.0.0.1:${(app.server.http.address() as AddressInfo).port}/graphql`;
    const em = app.deps.orm.em.fork();
    const fleet = await seedFleet(app);
    log(`${name}: seeding ${o.total.toLocaleString('en')} inferences (${userRows.toLocaleString('en')} the user's)…`);
    const t0 = performance.now();
    await seedInferences(em, fleet.userAgents, userRows, o.historyDays);
    if (o.total > userRows) await seedInferences(em, fleet.otherAgents, o.total - userRows, o.historyDays);
    for (const table of ['inference', 'cell_coverage_total', 'cell_coverage_day', 'policy_version_day']) await em.execute(`/* benchVacuum */ vacuum (analyze) ${table}`);
    const seedSeconds = Math.round((performance.now() - t0) / 100) / 10;
    log(`${name}: seeded in ${seedSeconds} s`);
    return { name, app, gqlUrl, em, fleet, seedSeconds };
  } catch (err) {
    await app.stop();
    throw err;
  }
}

/**
 * Both scenarios measured in alternating blocks, so background load on the machine falls on
 * both alike and the ratio between them stays meaningful.
 */
async function measure(scenarios: Prepared[], o: Options, log: (s: string) => void): Promise<ScenarioResult[]> {
  // A mid-day `since` a week back: whole days from the day rollup plus a raw partial day.
  const since = new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS - 7 * DAY_MS + 6 * 3_600_000);
  const probes = scenarios.map((p) => {
    const { user } = p.fleet;
    const scope = { tenantId: user.tenantId, ownerId: user.userId };
    const sqlOf = (q: { sql: string; params: unknown[] }) => async () => void (await p.em.execute(q.sql, q.params));
    return {
      http: {
        floor: async () => void (await gql(p.gqlUrl, user.userKey, FLOOR_QUERY)),
        cellCoverage: async () => void (await gql(p.gqlUrl, user.userKey, COVERAGE_QUERY, { handle: user.userHandle })),
        cellCoverageSince: async () => void (await gql(p.gqlUrl, user.userKey, COVERAGE_QUERY, { handle: user.userHandle, since: since.toISOString() })),
        tenantCoverage: async () => void (await gql(p.gqlUrl, user.userKey, TENANT_QUERY)),
      },
      sql: {
        rollup: sqlOf(cellCoverageSql(scope, null)),
        rollupSince: sqlOf(cellCoverageSql(scope, since)),
      },
      raw: rawCoverageSql(user.tenantId, user.userId),
      queries: { rollup: cellCoverageSql(scope, null), rollupSince: cellCoverageSql(scope, since) },
    };
  });
  type Kind = 'floor' | 'cellCoverage' | 'cellCoverageSince' | 'tenantCoverage' | 'rollup' | 'rollupSince';
  const kinds: Kind[] = ['floor', 'cellCoverage', 'cellCoverageSince', 'tenantCoverage', 'rollup', 'rollupSince'];
  const fn = (i: number, k: Kind) => (k === 'rollup' || k === 'rollupSince' ? probes[i].sql[k] : probes[i].http[k]);
  const samples = scenarios.map(() => Object.fromEntries(kinds.map((k) => [k, [] as number[]])) as Record<Kind, number[]>);
  for (const [i] of scenarios.entries()) for (const k of kinds) for (let j = 0; j < o.warmup; j++) await fn(i, k)();
  const block = 20;
  for (let done = 0; done < o.requests; done += block) {
    for (const [i] of scenarios.entries()) {
      for (const k of kinds) {
        for (let j = 0; j < Math.min(block, o.requests - done); j++) {
          const t0 = performance.now();
          await fn(i, k)();
          samples[i][k].push(performance.now() - t0);
        }
      }
    }
  }
  log('measured; now the raw alternative and the plans');
  const out: ScenarioResult[] = [];
  for (const [i, p] of scenarios.entries()) {
    const probe = probes[i];
    const rawIndexOnly = await timed(o.rawRequests, 3, async () => void (await p.em.execute(probe.raw.sql, probe.raw.params)));
    const viaRollup = await p.em.execute<Array<{ cell: string; n: string; last_seen_at: Date }>>(probe.queries.rollup.sql, probe.queries.rollup.params);
    const viaRaw = await p.em.execute<Array<{ cell: string; n: string; last_seen_at: Date }>>(probe.raw.sql, probe.raw.params);
    const shape = (rows: typeof viaRaw) => JSON.stringify(rows.map((r) => [r.cell, String(r.n), new Date(r.last_seen_at).toISOString()]));
    const answer = (await gql(p.gqlUrl, p.fleet.user.userKey, COVERAGE_QUERY, { handle: p.fleet.user.userHandle })).user.cellCoverage;
    const [counts] = await p.em.execute<Array<Record<string, string>>>(
      `/* benchCounts */ select (select count(*) from inference) as table_rows,
         (select count(*) from inference i join agent a on a.id = i.agent_id where a.owner_id = ?) as user_rows,
         (select count(*) from inference i join agent a on a.id = i.agent_id where a.owner_id = ? and i.cell is not null) as user_cell_rows,
         (select count(*) from cell_coverage_total) as totals, (select count(*) from cell_coverage_day) as days, (select count(*) from policy_version_day) as policy_days`,
      [p.fleet.user.userId, p.fleet.user.userId],
    );
    const s = samples[i];
    out.push({
      name: p.name,
      tableRows: Number(counts.table_rows),
      userRows: Number(counts.user_rows),
      userCellRows: Number(counts.user_cell_rows),
      seedSeconds: p.seedSeconds,
      rollupRows: { cellCoverageTotal: Number(counts.totals), cellCoverageDay: Number(counts.days), policyVersionDay: Number(counts.policy_days) },
      http: { floor: latency(s.floor), cellCoverage: latency(s.cellCoverage), cellCoverageSince: latency(s.cellCoverageSince), tenantCoverage: latency(s.tenantCoverage) },
      sql: { rollup: latency(s.rollup), rollupSince: latency(s.rollupSince), rawIndexOnly },
      answer: { inferences: answer.summary.inferences, distinctCells: answer.summary.distinctCells, tier1Cells: answer.summary.tier1Cells, exactVersusRaw: shape(viaRollup) === shape(viaRaw) },
      plans: { rollup: await explain(p.em, probe.queries.rollup), rollupSince: await explain(p.em, probe.queries.rollupSince), rawIndexOnly: await explain(p.em, probe.raw) },
    });
    log(`${p.name}: cellCoverage p50 ${out[i].http.cellCoverage.p50} ms, p95 ${out[i].http.cellCoverage.p95} ms; raw index-only p95 ${rawIndexOnly.p95} ms`);
  }
  return out;
}

/** What the rollup triggers add to a dispatch: the same sequential dispatches with the triggers on and off, interleaved. */
async function writeCost(pgUrl: string, admin: pg.Client, o: Options): Promise<{ on: Latency; off: Latency }> {
  const db = 'coverage_bench_writes';
  await admin.query(`drop database if exists ${db}`);
  await admin.query(`create database ${db}`);
  const app = await startApp(appEnv(pgUrl, db), pino({ level: 'silent' }), { seedDemo: false });
  try {
    const gqlUrl = `http://127.0.0.1:${(app.server.http.address() as AddressInfo).port}/graphql`;
    const keys = await createTenant(app.deps.orm.em.fork(), { slug: 'bench-writes', ownerHandle: 'bench-writer' });
    const em = app.deps.orm.em.fork();
    const mutation = `mutation D($input: DispatchInferenceInput!) { dispatchInference(input: $input) { inference { id } } }`;
    const input = { model: 'sim-small', taskType: 'CODE', messages: [{ role: 'USER', content: 'benchmark' }] };
    const dispatch = async () => void (await gql(gqlUrl, keys.agentKey, mutation, { input }));
    for (let i = 0; i < 30; i++) await dispatch();
    const on: number[] = [];
    const off: number[] = [];
    const block = 25;
    for (let i = 0; i < o.dispatches; i += block) {
      for (const [enabled, into] of [[true, on], [false, off]] as const) {
        await em.execute(`/* benchToggleTriggers */ alter table inference ${enabled ? 'enable' : 'disable'} trigger user`);
        for (let j = 0; j < block; j++) {
          const t0 = performance.now();
          await dispatch();
          into.push(performance.now() - t0);
        }
      }
    }
    await em.execute('/* benchToggleTriggers */ alter table inference enable trigger user');
    return { on: latency(on), off: latency(off) };
  } finally {
    await app.stop();
  }
}

const ms = (x: number) => `${x.toFixed(2)} ms`;

function render(results: ScenarioResult[], writes: { on: Latency; off: Latency }, o: Options, quick: boolean): { markdown: string; ratio: number; pass: boolean } {
  const [small, big] = results;
  const ratio = Math.round((big.http.cellCoverage.p95 / small.http.cellCoverage.p95) * 100) / 100;
  const pass = big.http.cellCoverage.p95 <= 25 && small.http.cellCoverage.p95 <= 25 && ratio <= 1.5;
  const row = (label: string, f: (r: ScenarioResult) => Latency) => `| ${label} | ${results.map((r) => `${ms(f(r).p50)} / ${ms(f(r).p95)}`).join(' | ')} |`;
  const lines = [
    `## Cell coverage at ${o.total.toLocaleString('en')} inferences${quick ? ' (quick)' : ''}`,
    '',
    `Sequential requests over HTTP to the real server (loopback, after ${o.warmup} warm-up requests), ${o.requests} per row, both scenarios alternating in blocks of 20; p50 / p95.`,
    `Machine: ${os.cpus().length} CPUs, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' / ')} at the end (other work shares it).`,
    `Table: ${o.total.toLocaleString('en')} inferences over ${o.historyDays} days, 2% pre-§16 (no cell), 5% failed, all 36 cells, two policy versions.`,
    '',
    `| | ${results.map((r) => `${r.name}: ${r.userRows.toLocaleString('en')} of ${r.tableRows.toLocaleString('en')} rows the user's`).join(' | ')} |`,
    `|---|${results.map(() => '---').join('|')}|`,
    row('floor: `viewer { role }` (HTTP)', (r) => r.http.floor),
    row('`user { cellCoverage }` (HTTP)', (r) => r.http.cellCoverage),
    row('`user { cellCoverage(since: 7 days ago, mid-day) }` (HTTP)', (r) => r.http.cellCoverageSince),
    row('`viewer { tenant { cellCoverage } }` (HTTP)', (r) => r.http.tenantCoverage),
    row('rollup SQL alone', (r) => r.sql.rollup),
    row('rollup SQL alone, with `since`', (r) => r.sql.rollupSince),
    `| raw aggregate, index-only on \`inference_coverage_idx\` (the alternative; ${o.rawRequests} runs) | ${results.map((r) => `${ms(r.sql.rawIndexOnly.p50)} / ${ms(r.sql.rawIndexOnly.p95)}`).join(' | ')} |`,
    `| rollup rows (total / day / policy-day) | ${results.map((r) => `${r.rollupRows.cellCoverageTotal} / ${r.rollupRows.cellCoverageDay} / ${r.rollupRows.policyVersionDay}`).join(' | ')} |`,
    `| answer: inferences, distinct cells (rollup = raw?) | ${results.map((r) => `${r.answer.inferences.toLocaleString('en')}, ${r.answer.distinctCells} (${r.answer.exactVersusRaw ? 'equal' : 'DIFFERENT'})`).join(' | ')} |`,
    `| seeding (insert through the triggers + vacuum analyze) | ${results.map((r) => `${r.seedSeconds} s`).join(' | ')} |`,
    '',
    `**Targets** (p95 ≤ 25 ms at 1M rows; p95(1M user rows) / p95(10k user rows) ≤ 1.5): p95 ${ms(small.http.cellCoverage.p95)} and ${ms(big.http.cellCoverage.p95)}, ratio **${ratio}** → **${pass ? 'met' : 'NOT met'}**.`,
    '',
    `**Write cost of the rollups** (${o.dispatches} sequential simulator dispatches each, interleaved in blocks of 25, triggers on vs off): p50 ${ms(writes.on.p50)} vs ${ms(writes.off.p50)}, p95 ${ms(writes.on.p95)} vs ${ms(writes.off.p95)}.`,
    '',
  ];
  for (const r of results) {
    lines.push(`### Plans — ${r.name}`, '', '`cellCoverage` (all-time rollup):', '', '```', r.plans.rollup, '```', '', '`cellCoverage(since:)` (day rollup + raw partial day):', '', '```', r.plans.rollupSince, '```', '', 'The alternative: raw aggregate, index-only:', '', '```', r.plans.rawIndexOnly, '```', '');
  }
  return { markdown: lines.join('\n'), ratio, pass };
}

export async function runCoverageBench(opts: { quick?: boolean } = {}): Promise<{ markdown: string; json: unknown }> {
  const quick = opts.quick ?? false;
  const o = quick ? QUICK : FULL;
  const log = (s: string) => process.stderr.write(`[coverage] ${s}\n`);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ainfera-coverage-bench-'));
  await fs.chmod(dir, 0o755); // as root, PostgreSQL runs as another user that must enter it
  const pgServer = await startEmbeddedPostgres(dir, { persistent: false });
  const admin = new pg.Client({ connectionString: pgServer.url.replace(/\/[^/]*$/, '/postgres') });
  await admin.connect();
  try {
    const prepared: Prepared[] = [];
    let results: ScenarioResult[];
    try {
      for (const [i, userRows] of o.userRows.entries()) prepared.push(await prepareScenario(i === 0 ? 'A' : 'B', pgServer.url, admin, userRows, o, log));
      results = await measure(prepared, o, log);
    } finally {
      for (const p of prepared) await p.app.stop();
    }
    log('write cost of the rollup triggers…');
    const writes = await writeCost(pgServer.url, admin, o);
    const { markdown, ratio, pass } = render(results, writes, o, quick);
    const json = { quick, options: o, scenarios: results, ratioP95: ratio, targetsMet: pass, writeCost: writes, node: process.version, cpus: os.cpus().length, loadAverage: os.loadavg(), at: new Date().toISOString() };
    const out = path.join(ROOT, 'bench/results');
    await fs.mkdir(out, { recursive: true });
    const base = quick ? 'coverage-quick' : 'coverage';
    await fs.writeFile(path.join(out, `${base}.json`), `${JSON.stringify(json, null, 2)}\n`);
    await fs.writeFile(path.join(out, `${base}.md`), `${markdown}\n`);
    return { markdown, json };
  } finally {
    await admin.end();
    await pgServer.stop();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { markdown } = await runCoverageBench({ quick: process.argv.includes('--quick') });
  console.log(markdown);
}
