import { randomUUID } from 'node:crypto';
import { Entity, Enum, PrimaryKey, Property } from '@mikro-orm/core';

export enum WireProtocol {
  ANTHROPIC = 'anthropic',
  OPENAI = 'openai',
  SIMULATOR = 'simulator',
}

/** An upstream LLM provider: platform-wide, not tenant-owned. */
@Entity({ tableName: 'provider' })
export class Provider {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'text', unique: true })
  slug: string;

  @Property({ type: 'text' })
  name: string;

  @Enum({ items: () => WireProtocol, type: 'text' })
  protocol: WireProtocol;

  @Property({ type: 'text', nullable: true })
  baseUrl: string | null = null;

  constructor(slug: string, name: string, protocol: WireProtocol) {
    this.slug = slug;
    this.name = name;
    this.protocol = protocol;
  }
}
