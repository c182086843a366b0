import type { Resolvers } from '../../__generated__/resolvers-types.js';
import { HANDLE_PATTERN, User } from './user.entity.js';

export const tenancyResolvers: Resolvers = {
  Query: {
    viewer: (_, __, { viewer }) => viewer,
    // A string no handle can match names nobody (and a NUL in it would be an SQL error, not an absence).
    user: (_, { handle }, { em, viewer }) => (HANDLE_PATTERN.test(handle.toLowerCase()) ? em.findOne(User, { handle: handle.toLowerCase(), tenant: viewer.tenantId }) : null),
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
    owner: async (a, _, { loaders }) => (await loaders.tenancy.userById.load(a.ownerId))!,
  },
};
