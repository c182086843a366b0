import { randomUUID } from 'node:crypto';
import { Entity, ManyToOne, type Opt, PrimaryKey, Property, type Ref } from '@mikro-orm/core';
import { Provider } from './provider.entity.js';

/** A routable model with its prices in USD per million tokens (exact decimals, read as strings). */
@Entity({ tableName: 'model' })
export class Model {
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'text', unique: true })
  slug: string;

  @ManyToOne({ entity: () => Provider, ref: true, index: true })
  provider: Ref<Provider>;

  @Property({ type: 'text' })
  upstreamName: string;

  @Property({ type: 'decimal', precision: 12, scale: 6 })
  inputPricePerMTok: string;

  @Property({ type: 'decimal', precision: 12, scale: 6 })
  outputPricePerMTok: string;

  @Property({ type: 'integer' })
  maxOutputTokens: number;

  @Property({ type: 'boolean' })
  active: boolean & Opt = true;

  constructor(init: { slug: string; provider: Ref<Provider>; upstreamName: string; inputPricePerMTok: string; outputPricePerMTok: string; maxOutputTokens: number }) {
    this.slug = init.slug;
    this.provider = init.provider;
    this.upstreamName = init.upstreamName;
    this.inputPricePerMTok = init.inputPricePerMTok;
    this.outputPricePerMTok = init.outputPricePerMTok;
    this.maxOutputTokens = init.maxOutputTokens;
  }
}
