import { Migration } from '@mikro-orm/migrations';

/**
 * audit_event.payload as `json` instead of `jsonb`: `json` keeps the text it was given byte for
 * byte, and the server now writes each payload's JCS text (the very bytes inside the hashed
 * envelope). The verifier hashes such a payload as stored, with no parse and no re-serialising,
 * and PostgreSQL sends it without rebuilding text from jsonb, which was most of its cost per event
 * (bench/NOTES.md). Nothing queries into audit payloads beyond `->>`, which `json` has too.
 *
 * Events already stored keep their content; their text becomes jsonb's rendering (keys by length,
 * spaces after separators), which is not JCS, so the verifier parses and re-canonicalises those,
 * as it did for every event before. Their hashes are unchanged: a hash covers the payload's JCS,
 * never the stored spelling. Rewriting the column takes an exclusive lock on audit_event for the
 * length of one table copy.
 */
export class Migration20261126040000_audit_payload_json extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "audit_event" alter column "payload" type json using "payload"::json;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "audit_event" alter column "payload" type jsonb using "payload"::jsonb;`);
  }

}
