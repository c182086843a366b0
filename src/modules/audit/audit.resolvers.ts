import type { Resolvers } from '../../__generated__/resolvers-types.js';
import { badInput } from '../../shared/errors.js';
import { requireReader } from '../tenancy/auth.js';
import { chainView, listEvents, signCheckpoint, verifyChain, verifyCheckpoint } from './audit.service.js';
import { CHECKPOINT_FORMAT } from './signing.js';

export const auditResolvers: Resolvers = {
  Query: {
    auditChain: (_, __, { em, viewer }) => {
      requireReader(viewer);
      return chainView(em, viewer.tenantId);
    },
    auditSigningKey: (_, __, { deps }) => ({ keyId: deps.signer.keyId, algorithm: 'Ed25519', publicKeyPem: deps.signer.publicKeyPem, signedMessage: CHECKPOINT_FORMAT }),
  },
  AuditChain: {
    chain: (c) => c.chain,
    length: async (c) => (await c.head())?.seq ?? 0,
    headHash: async (c) => (await c.head())?.hash ?? null,
    verify: (c, _, { em, deps }) => verifyChain(em, c.chain, deps.logger),
    events: (c, { first, afterSeq }, { em }) => {
      const limit = first ?? 100;
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw badInput('first', 'must be between 1 and 1000.');
      if (afterSeq != null && afterSeq < 0) throw badInput('afterSeq', 'must not be negative.');
      return listEvents(em, c.chain, afterSeq ?? 0, limit);
    },
    checkpoint: (c, _, { em, deps }) => signCheckpoint(em, deps.signer, c.chain),
    verifyCheckpoint: (c, { checkpoint }, { em, deps }) => verifyCheckpoint(em, deps.signer, c.chain, checkpoint, deps.logger),
  },
};
