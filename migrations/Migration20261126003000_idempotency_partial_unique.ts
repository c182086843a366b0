import { Migration } from '@mikro-orm/migrations';

/**
 * The idempotency key's uniqueness (tenant, agent, key) as a partial unique index over the rows
 * that have a key. Same rule — rows without a key never conflicted (NULLs are distinct) — but
 * the index no longer holds an entry for every dispatch, and it is no longer a second index
 * leading on tenant_id for the planner to pick for a page of inferences: for a tenant its
 * statistics have not seen, PostgreSQL estimated one row and read the whole tenant through this
 * index, then sorted it (test/integration/reads-plan.test.ts).
 */
export class Migration20261126003000_idempotency_partial_unique extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "inference" drop constraint "inference_idempotency_key_unique";`);
    this.addSql(`create unique index "inference_idempotency_key_unique" on "inference" ("tenant_id", "agent_id", "idempotency_key") where "idempotency_key" is not null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "inference_idempotency_key_unique";`);
    this.addSql(`alter table "inference" add constraint "inference_idempotency_key_unique" unique ("tenant_id", "agent_id", "idempotency_key");`);
  }

}
