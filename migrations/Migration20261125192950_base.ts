import { Migration } from '@mikro-orm/migrations';

export class Migration20261125192950_base extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "audit_chain_head" ("chain" uuid not null, "seq" int not null, "hash" char(64) not null, constraint "audit_chain_head_pkey" primary key ("chain"));`);

    this.addSql(`create table "audit_event" ("chain" uuid not null, "seq" int not null, "v" smallint not null, "type" text not null, "occurred_at" text not null, "payload" jsonb not null, "prev_hash" char(64) not null, "hash" char(64) not null, constraint "audit_event_pkey" primary key ("chain", "seq"));`);
    this.addSql(`alter table "audit_event" add constraint "audit_event_hash_unique" unique ("hash");`);
    this.addSql(`alter table "audit_event" add constraint "audit_event_chain_prev_hash_unique" unique ("chain", "prev_hash");`);

    this.addSql(`create table "provider" ("id" uuid not null, "slug" text not null, "name" text not null, "protocol" text check ("protocol" in ('anthropic', 'openai', 'simulator')) not null, "base_url" text null, constraint "provider_pkey" primary key ("id"));`);
    this.addSql(`alter table "provider" add constraint "provider_slug_unique" unique ("slug");`);

    this.addSql(`create table "model" ("id" uuid not null, "slug" text not null, "provider_id" uuid not null, "upstream_name" text not null, "input_price_per_mtok" numeric(12,6) not null, "output_price_per_mtok" numeric(12,6) not null, "max_output_tokens" int not null, "active" boolean not null, constraint "model_pkey" primary key ("id"));`);
    this.addSql(`alter table "model" add constraint "model_slug_unique" unique ("slug");`);
    this.addSql(`create index "model_provider_id_index" on "model" ("provider_id");`);

    this.addSql(`create table "tenant" ("id" uuid not null, "created_at" timestamptz(3) not null, "slug" text not null, "name" text not null, constraint "tenant_pkey" primary key ("id"));`);
    this.addSql(`alter table "tenant" add constraint "tenant_slug_unique" unique ("slug");`);

    this.addSql(`create table "user" ("id" uuid not null, "created_at" timestamptz(3) not null, "tenant_id" uuid not null, "handle" text not null, constraint "user_pkey" primary key ("id"), constraint user_handle_check check (handle ~ '^[a-z0-9][a-z0-9-]{1,38}\$'));`);
    this.addSql(`alter table "user" add constraint "user_handle_unique" unique ("handle");`);

    this.addSql(`create table "routing_policy" ("id" uuid not null, "created_at" timestamptz(3) not null, "tenant_id" uuid not null, "ruleset" jsonb not null, "ruleset_hash" text not null, "policy_version" text not null, "active" boolean not null, "created_by_id" uuid null, constraint "routing_policy_pkey" primary key ("id"));`);
    this.addSql(`create index "routing_policy_tenant_id_index" on "routing_policy" ("tenant_id");`);
    this.addSql(`create unique index "routing_policy_one_active_per_tenant" on "routing_policy" ("tenant_id") where "active";`);

    this.addSql(`create table "agent" ("id" uuid not null, "created_at" timestamptz(3) not null, "tenant_id" uuid not null, "owner_id" uuid not null, "name" text not null, constraint "agent_pkey" primary key ("id"));`);
    this.addSql(`create index "agent_owner_id_index" on "agent" ("owner_id");`);

    this.addSql(`create table "inference" ("id" uuid not null, "created_at" timestamptz(3) not null, "tenant_id" uuid not null, "agent_id" uuid not null, "requested_model" text not null, "routing_mode" text check ("routing_mode" in ('auto', 'direct')) not null, "model_id" uuid null, "status" text check ("status" in ('pending', 'succeeded', 'failed')) not null, "request_payload" jsonb not null, "response_payload" jsonb null, "output_text" text null, "input_tokens" int null, "output_tokens" int null, "cost_usd" numeric(20,12) null, "latency_ms" int null, "provider_latency_ms" int null, "attempts" jsonb null, "error" jsonb null, "idempotency_key" text null, "request_hash" text not null, "lease_expires_at" timestamptz(3) null, "completed_at" timestamptz(3) null, constraint "inference_pkey" primary key ("id"));`);
    this.addSql(`create index "inference_model_id_index" on "inference" ("model_id");`);
    this.addSql(`create index "inference_agent_created_idx" on "inference" ("agent_id", "created_at");`);
    this.addSql(`create index "inference_tenant_created_idx" on "inference" ("tenant_id", "created_at", "id");`);
    this.addSql(`alter table "inference" add constraint "inference_idempotency_key_unique" unique ("tenant_id", "agent_id", "idempotency_key");`);

    this.addSql(`create table "api_key" ("id" uuid not null, "created_at" timestamptz(3) not null, "tenant_id" uuid not null, "user_id" uuid null, "agent_id" uuid null, "role" text check ("role" in ('admin', 'member', 'agent')) not null, "prefix" text not null, "secret_hash" text not null, "label" text null, "revoked_at" timestamptz(3) null, constraint "api_key_pkey" primary key ("id"), constraint api_key_owner_check check ((user_id is null) <> (agent_id is null) and ((agent_id is not null) = (role = 'agent'))));`);
    this.addSql(`create index "api_key_user_id_index" on "api_key" ("user_id");`);
    this.addSql(`create index "api_key_agent_id_index" on "api_key" ("agent_id");`);
    this.addSql(`alter table "api_key" add constraint "api_key_secret_hash_unique" unique ("secret_hash");`);

    this.addSql(`alter table "model" add constraint "model_provider_id_foreign" foreign key ("provider_id") references "provider" ("id") on update cascade;`);

    this.addSql(`alter table "user" add constraint "user_tenant_id_foreign" foreign key ("tenant_id") references "tenant" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "routing_policy" add constraint "routing_policy_tenant_id_foreign" foreign key ("tenant_id") references "tenant" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "routing_policy" add constraint "routing_policy_created_by_id_foreign" foreign key ("created_by_id") references "user" ("id") on update cascade on delete set null;`);

    this.addSql(`alter table "agent" add constraint "agent_tenant_id_foreign" foreign key ("tenant_id") references "tenant" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "agent" add constraint "agent_owner_id_foreign" foreign key ("owner_id") references "user" ("id") on update cascade;`);

    this.addSql(`alter table "inference" add constraint "inference_tenant_id_foreign" foreign key ("tenant_id") references "tenant" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "inference" add constraint "inference_agent_id_foreign" foreign key ("agent_id") references "agent" ("id") on update cascade;`);
    this.addSql(`alter table "inference" add constraint "inference_model_id_foreign" foreign key ("model_id") references "model" ("id") on update cascade on delete set null;`);

    this.addSql(`alter table "api_key" add constraint "api_key_tenant_id_foreign" foreign key ("tenant_id") references "tenant" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "api_key" add constraint "api_key_user_id_foreign" foreign key ("user_id") references "user" ("id") on update cascade on delete set null;`);
    this.addSql(`alter table "api_key" add constraint "api_key_agent_id_foreign" foreign key ("agent_id") references "agent" ("id") on update cascade on delete set null;`);

    // Append-only audit log: the database itself refuses to change or remove an event.
    this.addSql(`create function audit_event_refuse_change() returns trigger language plpgsql as $$
      begin
        raise exception 'audit_event is append-only: % refused', tg_op using errcode = 'insufficient_privilege';
      end $$;`);
    this.addSql(`create trigger audit_event_no_update_delete before update or delete on "audit_event" for each row execute function audit_event_refuse_change();`);
    this.addSql(`create trigger audit_event_no_truncate before truncate on "audit_event" for each statement execute function audit_event_refuse_change();`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "model" drop constraint "model_provider_id_foreign";`);

    this.addSql(`alter table "inference" drop constraint "inference_model_id_foreign";`);

    this.addSql(`alter table "user" drop constraint "user_tenant_id_foreign";`);

    this.addSql(`alter table "routing_policy" drop constraint "routing_policy_tenant_id_foreign";`);

    this.addSql(`alter table "agent" drop constraint "agent_tenant_id_foreign";`);

    this.addSql(`alter table "inference" drop constraint "inference_tenant_id_foreign";`);

    this.addSql(`alter table "api_key" drop constraint "api_key_tenant_id_foreign";`);

    this.addSql(`alter table "routing_policy" drop constraint "routing_policy_created_by_id_foreign";`);

    this.addSql(`alter table "agent" drop constraint "agent_owner_id_foreign";`);

    this.addSql(`alter table "api_key" drop constraint "api_key_user_id_foreign";`);

    this.addSql(`alter table "inference" drop constraint "inference_agent_id_foreign";`);

    this.addSql(`alter table "api_key" drop constraint "api_key_agent_id_foreign";`);

    this.addSql(`drop table if exists "audit_chain_head" cascade;`);

    this.addSql(`drop table if exists "audit_event" cascade;`);

    this.addSql(`drop table if exists "provider" cascade;`);

    this.addSql(`drop table if exists "model" cascade;`);

    this.addSql(`drop table if exists "tenant" cascade;`);

    this.addSql(`drop table if exists "user" cascade;`);

    this.addSql(`drop table if exists "routing_policy" cascade;`);

    this.addSql(`drop table if exists "agent" cascade;`);

    this.addSql(`drop table if exists "inference" cascade;`);

    this.addSql(`drop table if exists "api_key" cascade;`);

    this.addSql(`drop function if exists audit_event_refuse_change();`);
  }

}
