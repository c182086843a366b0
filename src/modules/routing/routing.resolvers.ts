import type { Resolvers } from '../../__generated__/resolvers-types.js';
import { activePolicy, publishPolicy } from './routing.service.js';

export const routingResolvers: Resolvers = {
  Query: {
    activeRoutingPolicy: (_, __, { em, viewer }) => activePolicy(em, viewer.tenantId),
  },
  Mutation: {
    publishRoutingPolicy: (_, { input }, { em, viewer, deps }) => publishPolicy(em, viewer, input.ruleset, deps.catalog),
  },
};
