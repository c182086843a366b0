import { Entity, PrimaryKey, Property } from '@mikro-orm/core';

/** The last link of each chain: locked by every append, so appends to one chain serialize. */
@Entity({ tableName: 'audit_chain_head' })
export class AuditChainHead {
  @PrimaryKey({ type: 'uuid' })
  chain!: string;

  @Property({ type: 'integer' })
  seq!: number;

  @Property({ type: 'character', length: 64 })
  hash!: string;

  /** The hash the head had before the last append (the new event's prev_hash), set by the same upsert. */
  @Property({ type: 'character', length: 64, default: '0000000000000000000000000000000000000000000000000000000000000000' })
  prevHash!: string;
}
