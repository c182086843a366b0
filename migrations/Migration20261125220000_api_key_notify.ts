import { Migration } from '@mikro-orm/migrations';

/**
 * Every change to an API key is announced after commit on channel `ainfera_api_key` (payload: the
 * key's secret_hash; '*' for a TRUNCATE), so each server process drops it from its key cache
 * (src/modules/tenancy/key-cache.ts) — a revocation by the admin CLI or by SQL takes effect at once.
 */
export class Migration20261125220000_api_key_notify extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create function api_key_notify() returns trigger language plpgsql as $$
begin
  if tg_op = 'TRUNCATE' then
    perform pg_notify('ainfera_api_key', '*');
  else
    perform pg_notify('ainfera_api_key', old.secret_hash);
  end if;
  return null;
end $$;`);
    this.addSql(`create trigger api_key_notify after update or delete on "api_key" for each row execute function api_key_notify();`);
    this.addSql(`create trigger api_key_notify_truncate after truncate on "api_key" for each statement execute function api_key_notify();`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger api_key_notify_truncate on "api_key";`);
    this.addSql(`drop trigger api_key_notify on "api_key";`);
    this.addSql(`drop function api_key_notify();`);
  }

}
