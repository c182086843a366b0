import type { Resolvers } from '../../__generated__/resolvers-types.js';
import { normalizeDecimal } from '../routing/sixteen.js';
import { Model } from './model.entity.js';
import { Provider } from './provider.entity.js';

export const catalogResolvers: Resolvers = {
  Query: {
    models: (_, __, { em }) => em.find(Model, {}, { orderBy: { slug: 'asc' } }),
    providers: (_, __, { em }) => em.find(Provider, {}, { orderBy: { slug: 'asc' } }),
  },
  Model: {
    provider: (m, _, { loaders }) => loaders.catalog.provider(m.provider.id) as Provider | Promise<Provider>,
    inputPricePerMTok: (m) => normalizeDecimal(m.inputPricePerMTok),
    outputPricePerMTok: (m) => normalizeDecimal(m.outputPricePerMTok),
  },
  Provider: {
    configured: (p, _, { deps }) => deps.providers.isConfigured(p.slug),
  },
};
