import { Migration } from '@mikro-orm/migrations';

/** Add the routed rows of `new_rows` to the rollups, grouped: the only path before this migration, and still the multi-row one. */
const ADD_GROUPED = `perform inference_rollup_add(array_agg(row(g.agent_id, g.tenant_id, g.day, g.cell, g.policy_version, g.n, g.first_seen_at, g.last_seen_at)::inference_rollup_delta))
        from (
          select agent_id, tenant_id, (created_at at time zone 'UTC')::date as day, cell, policy_version,
                 count(*) as n, min(created_at) as first_seen_at, max(created_at) as last_seen_at
          from new_rows where cell is not null
          group by 1, 2, 3, 4, 5
        ) g
        having count(*) > 0;`;

/** The statement-level insert trigger's function as Migration20261125194735_coverage_rollup made it. */
const GROUPED_ONLY = `create or replace function inference_rollup_after_insert() returns trigger language plpgsql as $$
      begin
        ${ADD_GROUPED}
        return null;
      end $$;`;

/**
 * A single-row insert adds to the rollups with three plain upserts. Nearly every insert into
 * "inference" is one row (a dispatch's, or an idempotency claim's, which has no cell yet), and
 * for one row the grouped path — a composite array built, unnested and grouped three times —
 * was most of the trigger's cost: PostgreSQL CPU per dispatch statement fell from 760–920 to
 * 670–700 µs (bench/NOTES.md), inside the section where appends to one chain wait for each other.
 *
 * Multi-row inserts keep the grouped path. Both lock rollup rows in the same order — the day
 * row, then the total, then the policy-version day, and within a table by key — so writers of
 * either kind still cannot deadlock each other.
 */
const SINGLE_ROW_FAST = `create or replace function inference_rollup_after_insert() returns trigger language plpgsql as $$
      declare
        routed int;
        one record;
      begin
        select count(*) into routed from new_rows where cell is not null;
        if routed = 0 then
          return null;
        elsif routed > 1 then
          ${ADD_GROUPED}
          return null;
        end if;
        select agent_id, tenant_id, (created_at at time zone 'UTC')::date as day, cell, policy_version, created_at
          into one from new_rows where cell is not null;
        insert into cell_coverage_day as r (agent_id, day, cell, tenant_id, inferences, last_seen_at)
          values (one.agent_id, one.day, one.cell, one.tenant_id, 1, one.created_at)
        on conflict (agent_id, day, cell) do update
          set inferences = r.inferences + 1, last_seen_at = greatest(r.last_seen_at, excluded.last_seen_at);
        insert into cell_coverage_total as r (agent_id, cell, tenant_id, inferences, last_seen_at)
          values (one.agent_id, one.cell, one.tenant_id, 1, one.created_at)
        on conflict (agent_id, cell) do update
          set inferences = r.inferences + 1, last_seen_at = greatest(r.last_seen_at, excluded.last_seen_at);
        if one.policy_version is not null then
          insert into policy_version_day as r (tenant_id, day, policy_version, inferences, first_seen_at, last_seen_at)
            values (one.tenant_id, one.day, one.policy_version, 1, one.created_at, one.created_at)
          on conflict (tenant_id, day, policy_version) do update
            set inferences = r.inferences + 1,
                first_seen_at = least(r.first_seen_at, excluded.first_seen_at),
                last_seen_at = greatest(r.last_seen_at, excluded.last_seen_at);
        end if;
        return null;
      end $$;`;

export class Migration20261126140000_rollup_single_row extends Migration {

  override async up(): Promise<void> {
    this.addSql(SINGLE_ROW_FAST);
  }

  override async down(): Promise<void> {
    this.addSql(GROUPED_ONLY);
  }

}
