import { Entity, ManyToOne, Property, type Ref } from '@mikro-orm/core';
import { BaseEntity } from '../../shared/base.entity.js';
import { Tenant } from './tenant.entity.js';
import { User } from './user.entity.js';

/** An automated caller owned by a user; inferences belong to agents. */
@Entity({ tableName: 'agent' })
export class Agent extends BaseEntity {
  @ManyToOne({ entity: () => Tenant, ref: true, deleteRule: 'cascade' })
  tenant: Ref<Tenant>;

  @ManyToOne({ entity: () => User, ref: true, index: true })
  owner: Ref<User>;

  @Property({ type: 'text' })
  name: string;

  constructor(tenant: Ref<Tenant>, owner: Ref<User>, name: string) {
    super();
    this.tenant = tenant;
    this.owner = owner;
    this.name = name;
  }
}
