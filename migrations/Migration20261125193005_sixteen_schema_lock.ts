import { Migration } from '@mikro-orm/migrations';

export class Migration20261125193005_sixteen_schema_lock extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create type "inference_task_type" as enum ('reasoning', 'code', 'extraction', 'chat', 'summarization', 'classification', 'translation', 'creative', 'general');`);
    this.addSql(`create type "inference_task_type_source" as enum ('caller', 'classifier', 'default');`);
    this.addSql(`alter table "inference" add column "task_type" "inference_task_type" null, add column "task_type_source" "inference_task_type_source" null, add column "policy_version" text null, add column "cell" text null, add column "constraint_band" text check ("constraint_band" in ('open', 'fast', 'cheap', 'tight')) null;`);
    this.addSql(`create index "inference_policy_version_idx" on "inference" ("policy_version", "created_at") where "policy_version" is not null;`);
    this.addSql(`create index "inference_task_type_idx" on "inference" ("task_type") where "task_type" is not null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "inference_policy_version_idx";`);
    this.addSql(`drop index "inference_task_type_idx";`);
    this.addSql(`alter table "inference" drop column "task_type", drop column "task_type_source", drop column "policy_version", drop column "cell", drop column "constraint_band";`);

    this.addSql(`drop type "inference_task_type";`);
    this.addSql(`drop type "inference_task_type_source";`);
  }

}
