import type { FilterQuery } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { InferenceFilter } from '../../__generated__/resolvers-types.js';
import { badInput } from '../../shared/errors.js';
import { isUuid } from '../../shared/ids.js';
import type { CatalogSnapshot } from '../catalog/catalog.js';
import { Inference, type InferenceStatus } from './inference.entity.js';

/** What `InferenceConnection` resolves to. */
export interface InferencePage {
  nodes: Inference[];
  hasNextPage: boolean;
}

export const DEFAULT_PAGE = 20;
export const MAX_PAGE = 100;


export function encodeCursor(inf: Inference): string {
  return Buffer.from(`${inf.createdAt.toISOString()}|${inf.id}`).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(at ?? '');
  const year = createdAt.getUTCFullYear();
  if (!isUuid(id) || Number.isNaN(year) || year < 1 || year > 9999) throw badInput('after', 'is not a cursor from this list.');
  return { createdAt, id };
}

function asDate(field: string, v: unknown): Date {
  const d = v instanceof Date ? v : new Date(String(v));
  if (Number.isNaN(d.getTime())) throw badInput(field, 'must be an ISO-8601 date-time.');
  return d;
}

/** A page of the tenant's inferences, newest first (keyset pagination on created_at, id). */
export async function listInferences(
  em: EntityManager,
  tenantId: string,
  catalog: CatalogSnapshot,
  args: { first?: number | null; after?: string | null; filter?: InferenceFilter | null },
): Promise<InferencePage> {
  const first = args.first ?? DEFAULT_PAGE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE) throw badInput('first', `must be between 1 and ${MAX_PAGE}.`);
  const f = args.filter ?? {};
  const where: FilterQuery<Inference> & Record<string, unknown> = { tenant: tenantId };
  if (f.agentId) {
    if (!isUuid(f.agentId)) return { nodes: [], hasNextPage: false };
    where.agent = f.agentId;
  }
  if (f.status) where.status = f.status as InferenceStatus;
  if (f.taskType) where.taskType = f.taskType;
  if (f.model) {
    const model = catalog.model(f.model);
    if (!model) return { nodes: [], hasNextPage: false };
    where.model = model.id;
  }
  const createdAt: Record<string, Date> = {};
  if (f.createdAfter) createdAt.$gte = asDate('filter.createdAfter', f.createdAfter);
  if (f.createdBefore) createdAt.$lt = asDate('filter.createdBefore', f.createdBefore);
  if (Object.keys(createdAt).length) where.createdAt = createdAt;
  if (args.after) {
    const c = decodeCursor(args.after);
    where.$and = [{ $or: [{ createdAt: { $lt: c.createdAt } }, { createdAt: c.createdAt, id: { $lt: c.id } }] }];
  }
  const rows = await em.find(Inference, where as FilterQuery<Inference>, {
    orderBy: { createdAt: 'desc', id: 'desc' },
    limit: first + 1,
    exclude: ['requestPayload'] as never,
  });
  return { nodes: rows.slice(0, first), hasNextPage: rows.length > first };
}
