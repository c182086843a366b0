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
}
