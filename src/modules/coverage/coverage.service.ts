/**
 * Cell coverage and policy telemetry (DESIGN §6), read from the rollups of coverage-rollup.entity.ts.
 *
 * Every answer is exact: whole UTC days come from the day rollups (or the all-time rollup when
 * there is no window), and the partial days at the edges of a window are read raw from
 * `inference_coverage_idx`, index-only. So a read touches (agents × cells [× days in the window])
 * rollup rows plus at most one day of raw index entries per window edge — never the whole table.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { badInput, forbidden } from '../../shared/errors.js';
import { activePolicy } from '../routing/routing.service.js';
import { type ConstraintBand, parseCell, type TaskTier, type TaskType, TIER1_CELLS, TIER1_CELLS_POSSIBLE } from '../routing/sixteen.js';
import { requireAdmin, requireReader, type Viewer } from '../tenancy/auth.js';

/** How many cells `cells` lists, and how many versions the telemetry lists; applied in SQL. */
export const TOP_CELLS = 100;
export const TOP_POLICY_VERSIONS = 100;

/** One cell of `cells`. taskType and constraintBand are null only for a cell outside the vocabulary. */
export interface CellCountRow {
  cell: string;
  taskType: TaskType | null;
  constraintBand: ConstraintBand | null;
  tier: TaskTier;
  count: number;
  lastSeenAt: Date;
}

export interface CellCoverageView {
  summary: {
    inferences: number;
    distinctCells: number;
    tier1Cells: number;
    tier2Cells: number;
    tier1CellsPossible: number;
    tier1Coverage: number;
  };
  cells: CellCountRow[];
  coldCells: string[];
}

export interface PolicyVersionTelemetryRow {
  policyVersion: string;
  active: boolean;
  inferences: number;
  firstSeenAt: Date;
  lastSeenAt: Date;
}

/** Whose inferences: a tenant's agents, or those of one of its users. */
export type CoverageScope = { tenantId: string; ownerId?: string };

// ---------------------------------------------------------------------------------------------
// Windows over day buckets
// ---------------------------------------------------------------------------------------------

const DAY_MS = 86_400_000;
const floorDay = (d: Date) => new Date(Math.floor(d.getTime() / DAY_MS) * DAY_MS);
const ceilDay = (d: Date) => new Date(Math.ceil(d.getTime() / DAY_MS) * DAY_MS);
export const isoDay = (d: Date) => d.toISOString().slice(0, 10);

/**
 * How to answer `[since, until)` exactly: whole UTC days `[days.from, days.to)` from a day
 * rollup (null bound = open; `days` null = none), plus raw ranges for the partial days at the edges.
 */
export interface WindowPlan {
  days: { from: Date | null; to: Date | null } | null;
  raw: Array<{ from: Date; to: Date }>;
}

export function planWindow(since: Date | null, until: Date | null): WindowPlan {
  const from = since ? ceilDay(since) : null;
  const to = until ? floorDay(until) : null;
  if (since && until && (from as Date) >= (to as Date)) {
    // The window lies within one day (or is empty): read it raw.
    return { days: null, raw: since < until ? [{ from: since, to: until }] : [] };
  }
  const raw: WindowPlan['raw'] = [];
  if (since && from && from > since) raw.push({ from: since, to: from });
  if (until && to && to < until) raw.push({ from: to, to: until });
  return { days: { from, to }, raw };
}

// ---------------------------------------------------------------------------------------------
// SQL
// ---------------------------------------------------------------------------------------------

type Sql = { sql: string; params: unknown[] };

const TIER1: ReadonlySet<string> = new Set(TIER1_CELLS);

/** The 16 Tier-1 cells as an SQL list: constants of the vocabulary, never input. */
const TIER1_SQL = TIER1_CELLS.map((c) => `'${c}'`).join(', ');

function scopeSql(scope: CoverageScope): Sql {
  return scope.ownerId
    ? { sql: 'select array(select id from agent where tenant_id = ? and owner_id = ?) as ids', params: [scope.tenantId, scope.ownerId] }
    : { sql: 'select array(select id from agent where tenant_id = ?) as ids', params: [scope.tenantId] };
}

/**
 * The whole coverage answer in one statement: per-cell totals, the summary over all cells (window
 * functions, evaluated before the LIMIT) and the top cells (the LIMIT). Exported for the benchmark's
 * EXPLAIN.
 */
export function cellCoverageSql(scope: CoverageScope, since: Date | null): Sql {
  const scopeQ = scopeSql(scope);
  const params: unknown[] = [...scopeQ.params];
  const branches: string[] = [];
  if (!since) {
    branches.push('select cell, inferences as n, last_seen_at from cell_coverage_total where agent_id = any((select ids from scope)::uuid[])');
  } else {
    const plan = planWindow(since, null);
    if (plan.days) {
      branches.push('select cell, inferences as n, last_seen_at from cell_coverage_day where agent_id = any((select ids from scope)::uuid[]) and day >= ?::date');
      params.push(isoDay(plan.days.from as Date));
    }
    for (const r of plan.raw) {
      branches.push(
        'select cell, count(*) as n, max(created_at) as last_seen_at from inference where agent_id = any((select ids from scope)::uuid[]) and cell is not null and created_at >= ? and created_at < ? group by cell',
      );
      params.push(r.from, r.to);
    }
  }
  return {
    sql: `/* cellCoverage */ with scope as (${scopeQ.sql}),
per_cell as (
  select cell, sum(n)::bigint as n, max(last_seen_at) as last_seen_at
  from (${branches.join('\n    union all\n    ')}) hits
  group by cell
)
select cell, n, last_seen_at,
  sum(n) over () as total,
  count(*) over () as distinct_cells,
  array_agg(cell) filter (where cell in (${TIER1_SQL})) over () as tier1_seen
from per_cell
order by n desc, cell collate "C"
limit ${TOP_CELLS}`,
    params,
  };
}

/** Per policy version over `[since, until)`, most recently seen first. Exported for the benchmark. */
export function policyTelemetrySql(tenantId: string, since: Date | null, until: Date | null): Sql {
  const plan = planWindow(since, until);
  const params: unknown[] = [tenantId];
  const branches: string[] = [];
  if (plan.days) {
    let q = 'select policy_version, inferences as n, first_seen_at, last_seen_at from policy_version_day where tenant_id = ?';
    params.push(tenantId);
    if (plan.days.from) {
      q += ' and day >= ?::date';
      params.push(isoDay(plan.days.from));
    }
    if (plan.days.to) {
      q += ' and day < ?::date';
      params.push(isoDay(plan.days.to));
    }
    branches.push(q);
  }
  for (const r of plan.raw) {
    branches.push(
      'select policy_version, count(*) as n, min(created_at) as first_seen_at, max(created_at) as last_seen_at from inference where agent_id = any((select ids from scope)::uuid[]) and cell is not null and policy_version is not null and created_at >= ? and created_at < ? group by policy_version',
    );
    params.push(r.from, r.to);
  }
  // An empty window (since = until) still runs as one well-formed statement.
  if (branches.length === 0) branches.push('select null::text as policy_version, 0::bigint as n, null::timestamptz as first_seen_at, null::timestamptz as last_seen_at where false');
  return {
    sql: `/* policyTelemetry */ with scope as (select array(select id from agent where tenant_id = ?) as ids)
select policy_version, sum(n)::bigint as n, min(first_seen_at) as first_seen_at, max(last_seen_at) as last_seen_at
from (${branches.join('\n  union all\n  ')}) hits
group by policy_version
order by max(last_seen_at) desc, policy_version collate "C"
limit ${TOP_POLICY_VERSIONS}`,
    params,
  };
}

// ---------------------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------------------

type CoverageRow = { cell: string; n: string; last_seen_at: Date | string; total: string; distinct_cells: string; tier1_seen: string[] | null };

export async function cellCoverage(em: EntityManager, scope: CoverageScope, since: Date | null): Promise<CellCoverageView> {
  const q = cellCoverageSql(scope, since);
  const rows = await em.execute<CoverageRow[]>(q.sql, q.params);
  const first = rows[0];
  const tier1Seen = new Set(first?.tier1_seen ?? []);
  const distinctCells = Number(first?.distinct_cells ?? 0);
  const tier1Cells = tier1Seen.size;
  return {
    summary: {
      inferences: Number(first?.total ?? 0),
      distinctCells,
      tier1Cells,
      tier2Cells: distinctCells - tier1Cells,
      tier1CellsPossible: TIER1_CELLS_POSSIBLE,
      tier1Coverage: tier1Cells / TIER1_CELLS_POSSIBLE,
    },
    cells: rows.map((r) => {
      const parts = parseCell(r.cell);
      return { cell: r.cell, taskType: parts?.taskType ?? null, constraintBand: parts?.band ?? null, tier: TIER1.has(r.cell) ? 'tier1' : 'tier2', count: Number(r.n), lastSeenAt: new Date(r.last_seen_at) };
    }),
    coldCells: TIER1_CELLS.filter((c) => !tier1Seen.has(c)),
  };
}

/** The tenant-wide gauge: admin keys only. */
export async function tenantCellCoverage(em: EntityManager, viewer: Viewer, tenantId: string, since: Date | null): Promise<CellCoverageView> {
  requireAdmin(viewer);
  return cellCoverage(em, { tenantId: ownTenant(viewer, tenantId) }, since);
}

/** The drift view: member and admin keys. */
export async function policyTelemetry(em: EntityManager, viewer: Viewer, tenantId: string, since: Date | null, until: Date | null): Promise<PolicyVersionTelemetryRow[]> {
  requireReader(viewer);
  if (since && until && until < since) throw badInput('until', 'must not be before since.');
  const q = policyTelemetrySql(ownTenant(viewer, tenantId), since, until);
  const [rows, active] = await Promise.all([
    em.execute<Array<{ policy_version: string; n: string; first_seen_at: Date | string; last_seen_at: Date | string }>>(q.sql, q.params),
    activePolicy(em, viewer.tenantId),
  ]);
  return rows.map((r) => ({
    policyVersion: r.policy_version,
    active: r.policy_version === active.policyVersion,
    inferences: Number(r.n),
    firstSeenAt: new Date(r.first_seen_at),
    lastSeenAt: new Date(r.last_seen_at),
  }));
}

/** A tenant is only ever reached through the viewer; anything else is refused rather than read. */
function ownTenant(viewer: Viewer, tenantId: string): string {
  if (tenantId !== viewer.tenantId) throw forbidden('Only the caller’s own tenant can be read.');
  return tenantId;
}
