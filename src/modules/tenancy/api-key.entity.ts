import { Check, Entity, Enum, ManyToOne, type Opt, Property, type Ref } from '@mikro-orm/core';
import { BaseEntity } from '../../shared/base.entity.js';
import { Agent } from './agent.entity.js';
import { Tenant } from './tenant.entity.js';
import { User } from './user.entity.js';

export enum ApiKeyRole {
  ADMIN = 'admin',
  MEMBER = 'member',
  AGENT = 'agent',
}

/** A bearer credential bound to a user (dashboard) or an agent (gateway). Only its SHA-256 is stored. */
@Entity({ tableName: 'api_key' })
@Check({ name: 'api_key_owner_check', expression: `(user_id is null) <> (agent_id is null) and ((agent_id is not null) = (role = 'agent'))` })
export class ApiKey extends BaseEntity {
  @ManyToOne({ entity: () => Tenant, ref: true, deleteRule: 'cascade' })
  tenant: Ref<Tenant>;

  @ManyToOne({ entity: () => User, ref: true, nullable: true, index: true })
  user: Ref<User> | null = null;

  @ManyToOne({ entity: () => Agent, ref: true, nullable: true, index: true })
  agent: Ref<Agent> | null = null;

  @Enum({ items: () => ApiKeyRole, type: 'text' })
  role: ApiKeyRole;

  /** The first characters of the secret, safe to show, to tell keys apart. */
  @Property({ type: 'text' })
  prefix: string;

  @Property({ type: 'text', unique: true, hidden: true, lazy: true })
  secretHash: string;

  @Property({ type: 'text', nullable: true })
  label: string | null = null;

  @Property({ type: 'datetime', columnType: 'timestamptz(3)', nullable: true })
  revokedAt: (Date & Opt) | null = null;

  constructor(init: { tenant: Ref<Tenant>; role: ApiKeyRole; prefix: string; secretHash: string; user?: Ref<User>; agent?: Ref<Agent>; label?: string }) {
    super();
    this.tenant = init.tenant;
    this.role = init.role;
    this.prefix = init.prefix;
    this.secretHash = init.secretHash;
    this.user = init.user ?? null;
    this.agent = init.agent ?? null;
    this.label = init.label ?? null;
  }
}
