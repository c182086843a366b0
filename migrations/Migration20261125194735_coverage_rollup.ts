import { Migration } from '@mikro-orm/migrations';

export class Migration20261125194735_coverage_rollup extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "policy_version_day" ("tenant_id" uuid not null, "day" date not null, "policy_version" text not null, "inferences" bigint not null, "first_seen_at" timestamptz(3) not null, "last_seen_at" timestamptz(3) not null, constraint "policy_version_day_pkey" primary key ("tenant_id", "day", "policy_version"));`);

    this.addSql(`create table "cell_coverage_total" ("agent_id" uuid not null, "cell" text not null, "tenant_id" uuid not null, "inferences" bigint not null, "last_seen_at" timestamptz(3) not null, constraint "cell_coverage_total_pkey" primary key ("agent_id", "cell"));`);
    this.addSql(`create index "cell_coverage_total_tenant_idx" on "cell_coverage_total" ("tenant_id");`);

    this.addSql(`create table "cell_coverage_day" ("agent_id" uuid not null, "day" date not null, "cell" text not null, "tenant_id" uuid not null, "inferences" bigint not null, "last_seen_at" timestamptz(3) not null, constraint "cell_coverage_day_pkey" primary key ("agent_id", "day", "cell"));`);
    this.addSql(`create index "cell_coverage_day_tenant_day_idx" on "cell_coverage_day" ("tenant_id", "day");`);

    this.addSql(`alter table "policy_version_day" add constraint "policy_version_day_tenant_id_foreign" foreign key ("tenant_id") references "tenant" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "cell_coverage_total" add constraint "cell_coverage_total_agent_id_foreign" foreign key ("agent_id") references "agent" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "cell_coverage_total" add constraint "cell_coverage_total_tenant_id_foreign" foreign key ("tenant_id") references "tenant" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "cell_coverage_day" add constraint "cell_coverage_day_agent_id_foreign" foreign key ("agent_id") references "agent" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "cell_coverage_day" add constraint "cell_coverage_day_tenant_id_foreign" foreign key ("tenant_id") references "tenant" ("id") on update cascade on delete cascade;`);

    this.addSql(`create index "inference_coverage_idx" on "inference" ("agent_id", "created_at") include ("cell", "policy_version") where "cell" is not null;`);

    // The rollups are maintained by statement-level triggers on "inference", in the writing
    // transaction: inserts add their rows; updates add the rows whose rollup key changed and
    // recount the keys they left; deletes recount; truncate empties. Writes wait while the
    // triggers are installed and the rollups backfilled, so no row is missed or counted twice.
    this.addSql(`lock table "inference" in share row exclusive mode;`);

    // One group of §16 inferences: (agent, tenant, UTC day, cell, policy version) → count, first, last.
    this.addSql(`create type "inference_rollup_delta" as ("agent_id" uuid, "tenant_id" uuid, "day" date, "cell" text, "policy_version" text, "n" bigint, "first_seen_at" timestamptz(3), "last_seen_at" timestamptz(3));`);

    this.addSql(`create function inference_rollup_add(deltas inference_rollup_delta[]) returns void language plpgsql as $$
      begin
        insert into cell_coverage_day as r (agent_id, day, cell, tenant_id, inferences, last_seen_at)
          select agent_id, day, cell, tenant_id, sum(n)::bigint, max(last_seen_at) from unnest(deltas)
          group by agent_id, day, cell, tenant_id order by agent_id, day, cell
        on conflict (agent_id, day, cell) do update
          set inferences = r.inferences + excluded.inferences, last_seen_at = greatest(r.last_seen_at, excluded.last_seen_at);
        insert into cell_coverage_total as r (agent_id, cell, tenant_id, inferences, last_seen_at)
          select agent_id, cell, tenant_id, sum(n)::bigint, max(last_seen_at) from unnest(deltas)
          group by agent_id, cell, tenant_id order by agent_id, cell
        on conflict (agent_id, cell) do update
          set inferences = r.inferences + excluded.inferences, last_seen_at = greatest(r.last_seen_at, excluded.last_seen_at);
        insert into policy_version_day as r (tenant_id, day, policy_version, inferences, first_seen_at, last_seen_at)
          select tenant_id, day, policy_version, sum(n)::bigint, min(first_seen_at), max(last_seen_at) from unnest(deltas)
          where policy_version is not null
          group by tenant_id, day, policy_version order by tenant_id, day, policy_version
        on conflict (tenant_id, day, policy_version) do update
          set inferences = r.inferences + excluded.inferences,
              first_seen_at = least(r.first_seen_at, excluded.first_seen_at),
              last_seen_at = greatest(r.last_seen_at, excluded.last_seen_at);
      end $$;`);

    // Recount the given keys from "inference" itself (rare: only updates and deletes of §16 rows).
    // The rollup rows are locked first, so the counts include every transaction that touched them
    // before, and any later one adds on top of the recounted value.
    this.addSql(`create function inference_rollup_recount(deltas inference_rollup_delta[]) returns void language plpgsql as $$
      begin
        perform 1 from cell_coverage_day d
          where (d.agent_id, d.day, d.cell) in (select k.agent_id, k.day, k.cell from unnest(deltas) k)
          order by d.agent_id, d.day, d.cell for update;
        perform 1 from cell_coverage_total t
          where (t.agent_id, t.cell) in (select k.agent_id, k.cell from unnest(deltas) k)
          order by t.agent_id, t.cell for update;
        perform 1 from policy_version_day p
          where (p.tenant_id, p.day, p.policy_version) in (select k.tenant_id, k.day, k.policy_version from unnest(deltas) k)
          order by p.tenant_id, p.day, p.policy_version for update;

        with k as (select distinct agent_id, day, cell from unnest(deltas)),
        fresh as (
          select k.agent_id, k.day, k.cell, a.tenant_id, s.n, s.last_seen_at
          from k join agent a on a.id = k.agent_id
          cross join lateral (
            select count(*) as n, max(i.created_at) as last_seen_at from inference i
            where i.agent_id = k.agent_id and i.cell = k.cell
              and i.created_at >= k.day::timestamp at time zone 'UTC' and i.created_at < (k.day + 1)::timestamp at time zone 'UTC'
          ) s
        ),
        gone as (
          delete from cell_coverage_day d using fresh f
          where f.n = 0 and d.agent_id = f.agent_id and d.day = f.day and d.cell = f.cell
        )
        insert into cell_coverage_day as r (agent_id, day, cell, tenant_id, inferences, last_seen_at)
          select agent_id, day, cell, tenant_id, n, last_seen_at from fresh where n > 0
        on conflict (agent_id, day, cell) do update set inferences = excluded.inferences, last_seen_at = excluded.last_seen_at;

        with k as (select distinct agent_id, cell from unnest(deltas)),
        fresh as (
          select k.agent_id, k.cell, a.tenant_id, s.n, s.last_seen_at
          from k join agent a on a.id = k.agent_id
          cross join lateral (
            select coalesce(sum(d.inferences), 0)::bigint as n, max(d.last_seen_at) as last_seen_at from cell_coverage_day d
            where d.agent_id = k.agent_id and d.cell = k.cell
          ) s
        ),
        gone as (
          delete from cell_coverage_total t using fresh f
          where f.n = 0 and t.agent_id = f.agent_id and t.cell = f.cell
        )
        insert into cell_coverage_total as r (agent_id, cell, tenant_id, inferences, last_seen_at)
          select agent_id, cell, tenant_id, n, last_seen_at from fresh where n > 0
        on conflict (agent_id, cell) do update set inferences = excluded.inferences, last_seen_at = excluded.last_seen_at;

        with k as (select distinct tenant_id, day, policy_version from unnest(deltas) where policy_version is not null),
        fresh as (
          select k.tenant_id, k.day, k.policy_version, s.n, s.first_seen_at, s.last_seen_at
          from k join tenant t on t.id = k.tenant_id
          cross join lateral (
            select count(*) as n, min(i.created_at) as first_seen_at, max(i.created_at) as last_seen_at from inference i
            where i.policy_version = k.policy_version and i.tenant_id = k.tenant_id and i.cell is not null
              and i.created_at >= k.day::timestamp at time zone 'UTC' and i.created_at < (k.day + 1)::timestamp at time zone 'UTC'
          ) s
        ),
        gone as (
          delete from policy_version_day p using fresh f
          where f.n = 0 and p.tenant_id = f.tenant_id and p.day = f.day and p.policy_version = f.policy_version
        )
        insert into policy_version_day as r (tenant_id, day, policy_version, inferences, first_seen_at, last_seen_at)
          select tenant_id, day, policy_version, n, first_seen_at, last_seen_at from fresh where n > 0
        on conflict (tenant_id, day, policy_version) do update
          set inferences = excluded.inferences, first_seen_at = excluded.first_seen_at, last_seen_at = excluded.last_seen_at;
      end $$;`);

    this.addSql(`create function inference_rollup_after_insert() returns trigger language plpgsql as $$
      begin
        perform inference_rollup_add(array_agg(row(g.agent_id, g.tenant_id, g.day, g.cell, g.policy_version, g.n, g.first_seen_at, g.last_seen_at)::inference_rollup_delta))
        from (
          select agent_id, tenant_id, (created_at at time zone 'UTC')::date as day, cell, policy_version,
                 count(*) as n, min(created_at) as first_seen_at, max(created_at) as last_seen_at
          from new_rows where cell is not null
          group by 1, 2, 3, 4, 5
        ) g
        having count(*) > 0;
        return null;
      end $$;`);

    // A claimed (pending, cell-less) row becoming a routed one is the common update: it only adds.
    this.addSql(`create function inference_rollup_after_update() returns trigger language plpgsql as $$
      begin
        perform inference_rollup_add(array_agg(row(g.agent_id, g.tenant_id, g.day, g.cell, g.policy_version, g.n, g.first_seen_at, g.last_seen_at)::inference_rollup_delta))
        from (
          select nw.agent_id, nw.tenant_id, (nw.created_at at time zone 'UTC')::date as day, nw.cell, nw.policy_version,
                 count(*) as n, min(nw.created_at) as first_seen_at, max(nw.created_at) as last_seen_at
          from new_rows nw left join old_rows o on o.id = nw.id
          where nw.cell is not null
            and (o.id is null or (o.agent_id, o.tenant_id, o.created_at, o.cell, o.policy_version) is distinct from (nw.agent_id, nw.tenant_id, nw.created_at, nw.cell, nw.policy_version))
          group by 1, 2, 3, 4, 5
        ) g
        having count(*) > 0;
        perform inference_rollup_recount(array_agg(row(o.agent_id, o.tenant_id, (o.created_at at time zone 'UTC')::date, o.cell, o.policy_version, 0, null, null)::inference_rollup_delta))
        from old_rows o left join new_rows nw on nw.id = o.id
        where o.cell is not null
          and (nw.id is null or (o.agent_id, o.tenant_id, o.created_at, o.cell, o.policy_version) is distinct from (nw.agent_id, nw.tenant_id, nw.created_at, nw.cell, nw.policy_version))
        having count(*) > 0;
        return null;
      end $$;`);

    this.addSql(`create function inference_rollup_after_delete() returns trigger language plpgsql as $$
      begin
        perform inference_rollup_recount(array_agg(row(o.agent_id, o.tenant_id, (o.created_at at time zone 'UTC')::date, o.cell, o.policy_version, 0, null, null)::inference_rollup_delta))
        from old_rows o where o.cell is not null
        having count(*) > 0;
        return null;
      end $$;`);

    this.addSql(`create function inference_rollup_after_truncate() returns trigger language plpgsql as $$
      begin
        truncate cell_coverage_day, cell_coverage_total, policy_version_day;
        return null;
      end $$;`);

    this.addSql(`create trigger inference_rollup_insert after insert on "inference" referencing new table as new_rows for each statement execute function inference_rollup_after_insert();`);
    this.addSql(`create trigger inference_rollup_update after update on "inference" referencing old table as old_rows new table as new_rows for each statement execute function inference_rollup_after_update();`);
    this.addSql(`create trigger inference_rollup_delete after delete on "inference" referencing old table as old_rows for each statement execute function inference_rollup_after_delete();`);
    this.addSql(`create trigger inference_rollup_truncate after truncate on "inference" for each statement execute function inference_rollup_after_truncate();`);

    // Backfill from the §16 rows already there (pre-§16 rows have no cell and stay out).
    this.addSql(`insert into cell_coverage_day (agent_id, day, cell, tenant_id, inferences, last_seen_at)
      select agent_id, (created_at at time zone 'UTC')::date, cell, tenant_id, count(*), max(created_at)
      from inference where cell is not null group by 1, 2, 3, 4;`);
    this.addSql(`insert into cell_coverage_total (agent_id, cell, tenant_id, inferences, last_seen_at)
      select agent_id, cell, tenant_id, sum(inferences)::bigint, max(last_seen_at) from cell_coverage_day group by 1, 2, 3;`);
    this.addSql(`insert into policy_version_day (tenant_id, day, policy_version, inferences, first_seen_at, last_seen_at)
      select tenant_id, (created_at at time zone 'UTC')::date, policy_version, count(*), min(created_at), max(created_at)
      from inference where cell is not null and policy_version is not null group by 1, 2, 3;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger "inference_rollup_insert" on "inference";`);
    this.addSql(`drop trigger "inference_rollup_update" on "inference";`);
    this.addSql(`drop trigger "inference_rollup_delete" on "inference";`);
    this.addSql(`drop trigger "inference_rollup_truncate" on "inference";`);
    this.addSql(`drop function inference_rollup_after_insert();`);
    this.addSql(`drop function inference_rollup_after_update();`);
    this.addSql(`drop function inference_rollup_after_delete();`);
    this.addSql(`drop function inference_rollup_after_truncate();`);
    this.addSql(`drop function inference_rollup_recount(inference_rollup_delta[]);`);
    this.addSql(`drop function inference_rollup_add(inference_rollup_delta[]);`);
    this.addSql(`drop type "inference_rollup_delta";`);

    this.addSql(`drop table if exists "policy_version_day" cascade;`);

    this.addSql(`drop table if exists "cell_coverage_total" cascade;`);

    this.addSql(`drop table if exists "cell_coverage_day" cascade;`);

    this.addSql(`drop index "inference_coverage_idx";`);
  }

}
