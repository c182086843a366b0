import { Entity, Index, ManyToOne, type Opt, Property, type Ref } from '@mikro-orm/core';
import { BaseEntity } from '../../shared/base.entity.js';
import { Tenant } from '../tenancy/tenant.entity.js';
import { User } from '../tenancy/user.entity.js';

/** A published ruleset. At most one active policy per tenant (partial unique index). */
@Entity({ tableName: 'routing_policy' })
@Index({
  name: 'routing_policy_one_active_per_tenant',
  expression: 'create unique index "routing_policy_one_active_per_tenant" on "routing_policy" ("tenant_id") where "active"',
})
export class RoutingPolicy extends BaseEntity {
  @ManyToOne({ entity: () => Tenant, ref: true, deleteRule: 'cascade', index: true })
  tenant: Ref<Tenant>;

  @Property({ type: 'json' })
  ruleset: unknown;

  @Property({ type: 'text' })
  rulesetHash: string;

  @Property({ type: 'text' })
  policyVersion: string;

  @Property({ type: 'boolean' })
  active: boolean & Opt = true;

  @ManyToOne({ entity: () => User, ref: true, nullable: true })
  createdBy: Ref<User> | null = null;

  constructor(init: { tenant: Ref<Tenant>; ruleset: unknown; rulesetHash: string; policyVersion: string; createdBy?: Ref<User> | null }) {
    super();
    this.tenant = init.tenant;
    this.ruleset = init.ruleset;
    this.rulesetHash = init.rulesetHash;
    this.policyVersion = init.policyVersion;
    this.createdBy = init.createdBy ?? null;
  }
}
