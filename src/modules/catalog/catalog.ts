import type { EntityManager } from '@mikro-orm/postgresql';
import { transaction } from '../../db/transaction.js';
import { Model } from './model.entity.js';
import { Provider, WireProtocol } from './provider.entity.js';

/** The platform catalog (DESIGN §3 and the foundation issue), upserted idempotently at start. */
export const CATALOG = {
  providers: [
    { slug: 'anthropic', name: 'Anthropic', protocol: WireProtocol.ANTHROPIC },
    { slug: 'openai', name: 'OpenAI', protocol: WireProtocol.OPENAI },
    { slug: 'simulator', name: 'Ainfera simulator (offline)', protocol: WireProtocol.SIMULATOR },
  ],
  models: [
    { slug: 'claude-haiku-4-5', provider: 'anthropic', upstreamName: 'claude-haiku-4-5', input: '1', output: '5', maxOutputTokens: 64000 },
    { slug: 'claude-sonnet-4-5', provider: 'anthropic', upstreamName: 'claude-sonnet-4-5', input: '3', output: '15', maxOutputTokens: 64000 },
    { slug: 'claude-opus-4-1', provider: 'anthropic', upstreamName: 'claude-opus-4-1', input: '15', output: '75', maxOutputTokens: 32000 },
    { slug: 'gpt-4.1-mini', provider: 'openai', upstreamName: 'gpt-4.1-mini', input: '0.40', output: '1.60', maxOutputTokens: 32768 },
    { slug: 'gpt-4.1', provider: 'openai', upstreamName: 'gpt-4.1', input: '2', output: '8', maxOutputTokens: 32768 },
    { slug: 'sim-small', provider: 'simulator', upstreamName: 'sim-small', input: '0', output: '0', maxOutputTokens: 64000 },
    { slug: 'sim-large', provider: 'simulator', upstreamName: 'sim-large', input: '0', output: '0', maxOutputTokens: 64000 },
  ],
} as const;

export async function upsertCatalog(em: EntityManager): Promise<void> {
  await transaction(em, async (tx) => {
    for (const p of CATALOG.providers) {
      await tx.execute(
        `/* upsertProvider */ insert into provider (id, slug, name, protocol) values (gen_random_uuid(), ?, ?, ?)
         on conflict (slug) do update set name = excluded.name, protocol = excluded.protocol`,
        [p.slug, p.name, p.protocol],
      );
    }
    for (const m of CATALOG.models) {
      await tx.execute(
        `/* upsertModel */ insert into model (id, slug, provider_id, upstream_name, input_price_per_mtok, output_price_per_mtok, max_output_tokens, active)
         select gen_random_uuid(), ?, p.id, ?, ?, ?, ?, true from provider p where p.slug = ?
         on conflict (slug) do update set provider_id = excluded.provider_id, upstream_name = excluded.upstream_name,
           input_price_per_mtok = excluded.input_price_per_mtok, output_price_per_mtok = excluded.output_price_per_mtok,
           max_output_tokens = excluded.max_output_tokens`,
        [m.slug, m.upstreamName, m.input, m.output, m.maxOutputTokens, m.provider],
      );
    }
  });
}

/** What dispatch needs of a model, held in memory: the catalog is small and changes only at start. */
export interface CatalogModel {
  id: string;
  slug: string;
  providerId: string;
  providerSlug: string;
  upstreamName: string;
  inputPricePerMTok: string;
  outputPricePerMTok: string;
  maxOutputTokens: number;
  active: boolean;
}

export class CatalogSnapshot {
  /** The same models and providers as entities, for the GraphQL loaders (read-only, detached). */
  private modelEntities = new Map<string, Model>();
  private providerEntities = new Map<string, Provider>();

  constructor(private readonly bySlug: ReadonlyMap<string, CatalogModel>) {}

  modelEntity(id: string): Model | undefined {
    return this.modelEntities.get(id);
  }

  providerEntity(id: string): Provider | undefined {
    return this.providerEntities.get(id);
  }

  /** One query at start: the models with their providers, kept as entities and as routing facts. */
  static async load(em: EntityManager): Promise<CatalogSnapshot> {
    const models = await em.fork().find(Model, {}, { populate: ['provider'] });
    const snapshot = new CatalogSnapshot(
      new Map(
        models.map((m) => [
          m.slug,
          {
            id: m.id,
            slug: m.slug,
            providerId: m.provider.id,
            providerSlug: m.provider.getEntity().slug,
            upstreamName: m.upstreamName,
            inputPricePerMTok: m.inputPricePerMTok,
            outputPricePerMTok: m.outputPricePerMTok,
            maxOutputTokens: m.maxOutputTokens,
            active: m.active,
          },
        ]),
      ),
    );
    for (const m of models) {
      snapshot.modelEntities.set(m.id, m);
      snapshot.providerEntities.set(m.provider.id, m.provider.getEntity());
    }
    return snapshot;
  }

  model(slug: string): CatalogModel | undefined {
    return this.bySlug.get(slug);
  }

  slugs(): ReadonlySet<string> {
    return new Set(this.bySlug.keys());
  }
}
