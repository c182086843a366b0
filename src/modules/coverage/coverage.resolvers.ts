import type { Resolvers } from '../../__generated__/resolvers-types.js';
import { cellCoverage, policyTelemetry, tenantCellCoverage } from './coverage.service.js';

const asDate = (v: Date | string | null | undefined): Date | null => (v == null ? null : new Date(v));

export const coverageResolvers: Resolvers = {
  User: {
    cellCoverage: (u, { since }, { em, viewer }) => cellCoverage(em, { tenantId: viewer.tenantId, ownerId: u.id }, asDate(since)),
  },
  Tenant: {
    cellCoverage: (t, { since }, { em, viewer }) => tenantCellCoverage(em, viewer, t.id, asDate(since)),
    policyTelemetry: (t, { since, until }, { em, viewer }) => policyTelemetry(em, viewer, t.id, asDate(since), asDate(until)),
  },
};
