import type { Resolvers } from '../../__generated__/resolvers-types.js';
import { selectedFieldNames } from '../../shared/selection.js';
import { normalizeDecimal } from '../routing/sixteen.js';
import type { AgentRecord } from '../tenancy/agent.record.js';
import { dispatch } from './dispatch.service.js';
import { recordColumnsFor } from './inference.record.js';
import { findInference } from './inference.repository.js';
import { encodeCursor, listInferences } from './inference.service.js';

export const inferenceResolvers: Resolvers = {
  Query: {
    inference: (_, { id }, { em, viewer }) => findInference(em, viewer.tenantId, id),
    inferences: async (_, args, { em, viewer, deps, loaders }, info) => {
      const fields = selectedFieldNames(info, [['nodes'], ['edges', 'node']]);
      const page = await listInferences(em, viewer.tenantId, deps.catalog, args, recordColumnsFor(fields));
      // The page's agents in one statement now, so each row's `agent` resolves without a promise of its own.
      if (fields.has('agent')) await loaders.tenancy.agentById.loadMany([...new Set(page.nodes.map((n) => n.agentId))]);
      return page;
    },
  },
  Mutation: {
    dispatchInference: (_, { input }, ctx) => dispatch(ctx, input),
  },
  Inference: {
    model: (i, _, { loaders }) => (i.modelId ? loaders.catalog.model(i.modelId) : null),
    // The provider of the model that answered, through model → provider; never from the upstream body.
    provider: (i, _, { loaders }) => {
      if (!i.modelId) return null;
      const model = loaders.catalog.model(i.modelId);
      if (model instanceof Promise) return model.then((m) => (m ? loaders.catalog.provider(m.provider.id) : null));
      return loaders.catalog.provider(model.provider.id);
    },
    // Every inference has its agent (a foreign key, same tenant).
    agent: (i, _, { loaders }) => loaders.tenancy.agent(i.agentId) as AgentRecord | Promise<AgentRecord>,
    usage: (i) => (i.inputTokens !== null && i.outputTokens !== null ? { inputTokens: i.inputTokens, outputTokens: i.outputTokens } : null),
    costUsd: (i) => (i.costUsd === null ? null : normalizeDecimal(i.costUsd)),
    attempts: (i) => (Array.isArray(i.attempts) ? i.attempts : []),
    error: (i) => i.error,
  },
  InferenceConnection: {
    nodes: (page) => page.nodes,
    edges: (page) => page.nodes.map((node) => ({ cursor: encodeCursor(node), node })),
    pageInfo: (page) => ({ hasNextPage: page.hasNextPage, endCursor: page.nodes.length ? encodeCursor(page.nodes[page.nodes.length - 1]) : null }),
  },
};
