import { Entity, Property } from '@mikro-orm/core';
import { BaseEntity } from '../../shared/base.entity.js';

/** An organisation: the unit of isolation, and the id of its audit chain. */
@Entity({ tableName: 'tenant' })
export class Tenant extends BaseEntity {
  @Property({ type: 'text', unique: true })
  slug: string;

  @Property({ type: 'text' })
  name: string;

  constructor(slug: string, name: string) {
    super();
    this.slug = slug;
    this.name = name;
  }
}
