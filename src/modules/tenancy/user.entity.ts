import { Check, Entity, ManyToOne, Property, type Ref } from '@mikro-orm/core';
import { BaseEntity } from '../../shared/base.entity.js';
import { Tenant } from './tenant.entity.js';

export const HANDLE_PATTERN = /^[a-z0-9][a-z0-9-]{1,38}$/;

/** A person. Handles are stored lower-case, so uniqueness is case-insensitive. */
@Entity({ tableName: 'user' })
@Check({ name: 'user_handle_check', expression: `handle ~ '^[a-z0-9][a-z0-9-]{1,38}$'` })
export class User extends BaseEntity {
  @ManyToOne({ entity: () => Tenant, ref: true, deleteRule: 'cascade' })
  tenant: Ref<Tenant>;

  @Property({ type: 'text', unique: true })
  handle: string;

  constructor(tenant: Ref<Tenant>, handle: string) {
    super();
    this.tenant = tenant;
    this.handle = handle.toLowerCase();
  }
}
