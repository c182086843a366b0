import type { Resolvers } from '../../__generated__/resolvers-types.js';
import { User } from './user.entity.js';

export const tenancyResolvers: Resolvers = {
  Query: {
    viewer: (_, __, { viewer }) => viewer,
    user: (_, { handle }, { em, viewer }) => em.findOne(User, { handle: handle.toLowerCase(), tenant: viewer.tenantId }),
  },
  Viewer: {
    tenant: async (v, _, { loaders }) => (await loaders.tenancy.tenantById.load(v.tenantId))!,
    role: (v) => v.role,
    user: (v, _, { loaders }) => (v.userId ? loaders.tenancy.userById.load(v.userId) : null),
    agent: (v, _, { loaders }) => (v.agentId ? loaders.tenancy.agentById.load(v.agentId) : null),
  },
  User: {
    agents: (u, _, { loaders }) => loaders.tenancy.agentsByOwner.load(u.id),
  },
  Agent: {
    owner: async (a, _, { loaders }) => (await loaders.tenancy.userById.load(a.owner.id))!,
  },
};
