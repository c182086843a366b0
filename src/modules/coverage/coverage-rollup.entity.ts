import { Entity, Index, ManyToOne, PrimaryKey, PrimaryKeyProp, Property, type Ref } from '@mikro-orm/core';
import { Agent } from '../tenancy/agent.entity.js';
import { Tenant } from '../tenancy/tenant.entity.js';

/*
 * Rollups of the §16 inferences (`cell IS NOT NULL`), so that the coverage gauge and the policy
 * drift view read a few hundred rows whatever the size of `inference`.
 *
 * They are derived data, kept exact by statement-level triggers on `inference` (see the
 * coverage_rollup migration): an insert adds its rows, an update or delete recomputes the keys it
 * touched from `inference` itself, a truncate empties them. So every write path — the dispatch
 * transaction, a backfill, a test fixture in SQL — keeps them equal to the raw aggregate, and they
 * commit or roll back with the write that caused them. The application only reads them.
 *
 * Days are UTC days of `inference.created_at`.
 *
 * Why rollups rather than an index-only scan: even index-only, the raw aggregate reads one index
 * entry per inference, so its cost grows with the user's history (≈0.5 s at 1M rows of one user),
 * while the rollups answer in well under a millisecond of database time at any size
 * (bench/coverage.bench.ts, bench/results/coverage.md).
 */

/** Per agent × cell, all time: answers `cellCoverage` without `since`. */
@Entity({ tableName: 'cell_coverage_total' })
@Index({ name: 'cell_coverage_total_tenant_idx', properties: ['tenant'] })
export class CellCoverageTotal {
  [PrimaryKeyProp]?: ['agent', 'cell'];

  @ManyToOne({ entity: () => Agent, ref: true, primary: true, deleteRule: 'cascade' })
  agent!: Ref<Agent>;

  @PrimaryKey({ type: 'text' })
  cell!: string;

  @ManyToOne({ entity: () => Tenant, ref: true, deleteRule: 'cascade' })
  tenant!: Ref<Tenant>;

  @Property({ type: 'bigint' })
  inferences!: string;

  @Property({ type: 'datetime', columnType: 'timestamptz(3)' })
  lastSeenAt!: Date;
}

/** Per agent × UTC day × cell: answers `cellCoverage(since:)` together with the partial first day read raw. */
@Entity({ tableName: 'cell_coverage_day' })
@Index({ name: 'cell_coverage_day_tenant_day_idx', properties: ['tenant', 'day'] })
export class CellCoverageDay {
  [PrimaryKeyProp]?: ['agent', 'day', 'cell'];

  @ManyToOne({ entity: () => Agent, ref: true, primary: true, deleteRule: 'cascade' })
  agent!: Ref<Agent>;

  @PrimaryKey({ type: 'date' })
  day!: string;

  @PrimaryKey({ type: 'text' })
  cell!: string;

  @ManyToOne({ entity: () => Tenant, ref: true, deleteRule: 'cascade' })
  tenant!: Ref<Tenant>;

  @Property({ type: 'bigint' })
  inferences!: string;

  @Property({ type: 'datetime', columnType: 'timestamptz(3)' })
  lastSeenAt!: Date;
}

/** Per tenant × policy version × UTC day: the policy drift view. */
@Entity({ tableName: 'policy_version_day' })
export class PolicyVersionDay {
  [PrimaryKeyProp]?: ['tenant', 'day', 'policyVersion'];

  @ManyToOne({ entity: () => Tenant, ref: true, primary: true, deleteRule: 'cascade' })
  tenant!: Ref<Tenant>;

  @PrimaryKey({ type: 'date' })
  day!: string;

  @PrimaryKey({ type: 'text' })
  policyVersion!: string;

  @Property({ type: 'bigint' })
  inferences!: string;

  @Property({ type: 'datetime', columnType: 'timestamptz(3)' })
  firstSeenAt!: Date;

  @Property({ type: 'datetime', columnType: 'timestamptz(3)' })
  lastSeenAt!: Date;
}
