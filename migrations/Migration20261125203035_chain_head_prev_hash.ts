import { Migration } from '@mikro-orm/migrations';

export class Migration20261125203035_chain_head_prev_hash extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "audit_chain_head" add column "prev_hash" char(64) not null default '0000000000000000000000000000000000000000000000000000000000000000';`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "audit_chain_head" drop column "prev_hash";`);
  }

}
