import type { Resolvers } from '../../__generated__/resolvers-types.js';
import { activePolicy, publishPolicy } from './routing.service.js';

export const routingResolvers: Resolvers = {
  Query: {
    activeRoutingPolicy: (_, __, { em, viewer }) => activePolicy(em, viewer.tenantId),
  },
  Mutation: {
    publishRoutingPolicy: async (_, { input }, { em, viewer, deps }) => {
      const policy = await publishPolicy(em, viewer, input.ruleset, deps.catalog);
      deps.policies.invalidate(viewer.tenantId);
      return policy;
    },
  },
};
