import { Entity, PrimaryKey, Property, Unique } from '@mikro-orm/core';

/**
 * One link of a tenant's hash chain. Written once by appendAuditEvent; the database refuses
 * UPDATE, DELETE and TRUNCATE (trigger in the base migration).
 */
@Entity({ tableName: 'audit_event' })
@Unique({ name: 'audit_event_chain_prev_hash_unique', properties: ['chain', 'prevHash'] })
export class AuditEvent {
  /** The tenant's id. */
  @PrimaryKey({ type: 'uuid' })
  chain!: string;

  @PrimaryKey({ type: 'integer' })
  seq!: number;

  @Property({ type: 'smallint' })
  v!: number;

  @Property({ type: 'text' })
  type!: string;

  /** Exactly the string that was hashed. */
  @Property({ type: 'text' })
  occurredAt!: string;

  /** `json`, not `jsonb`: it keeps the payload's JCS text exactly as written (migration 20261126040000). */
  @Property({ type: 'json', columnType: 'json' })
  payload!: Record<string, unknown>;

  @Property({ type: 'character', length: 64 })
  prevHash!: string;

  @Property({ type: 'character', length: 64, unique: true })
  hash!: string;
}
