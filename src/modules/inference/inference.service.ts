import type { EntityManager } from '@mikro-orm/postgresql';
import type { InferenceFilter } from '../../__generated__/resolvers-types.js';
import { badInput } from '../../shared/errors.js';
import { isUuid } from '../../shared/ids.js';
import type { CatalogSnapshot } from '../catalog/catalog.js';
import { query } from '../../db/sql.js';
import type { InferenceStatus } from './inference.entity.js';
import { type InferenceRecord, type InferenceRow, RECORD_COLUMNS, recordFromRow } from './inference.record.js';

/** What `InferenceConnection` resolves to. */
export interface InferencePage {
  nodes: InferenceRecord[];
  hasNextPage: boolean;
}

export const DEFAULT_PAGE = 20;
export const MAX_PAGE = 100;


export function encodeCursor(inf: InferenceRecord): string {
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

type PageArgs = { first?: number | null; after?: string | null; filter?: InferenceFilter | null };

/**
 * The one statement of a page (`?` placeholders; it asks for first + 1 rows to know whether there
 * is a next page) selecting `columns`, or null when the filter can match nothing. Invalid
 * arguments throw BAD_USER_INPUT.
 */
export function inferencePageStatement(tenantId: string, catalog: CatalogSnapshot, args: PageArgs, columns = RECORD_COLUMNS): { sql: string; params: unknown[]; first: number } | null {
  const first = args.first ?? DEFAULT_PAGE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE) throw badInput('first', `must be between 1 and ${MAX_PAGE}.`);
  const f = args.filter ?? {};
  const where = ['tenant_id = ?'];
  const params: unknown[] = [tenantId];
  const and = (sql: string, ...values: unknown[]) => {
    where.push(sql);
    params.push(...values);
  };
  if (f.agentId) {
    if (!isUuid(f.agentId)) return null;
    and('agent_id = ?', f.agentId);
  }
  if (f.status) and('status = ?', f.status as InferenceStatus);
  if (f.taskType) and('task_type = ?', f.taskType);
  if (f.model) {
    const model = catalog.model(f.model);
    if (!model) return null;
    and('model_id = ?', model.id);
  }
  if (f.createdAfter) and('created_at >= ?', asDate('filter.createdAfter', f.createdAfter));
  if (f.createdBefore) and('created_at < ?', asDate('filter.createdBefore', f.createdBefore));
  if (args.after) {
    const c = decodeCursor(args.after);
    and('(created_at, id) < (?, ?)', c.createdAt, c.id);
  }
  return {
    sql: `/* listInferences */ select ${columns} from inference where ${where.join(' and ')} order by inference.created_at desc, inference.id desc limit ?`,
    params: [...params, first + 1],
    first,
  };
}

/** A page of the tenant's inferences, newest first (keyset pagination on created_at, id): one statement. */
export async function listInferences(em: EntityManager, tenantId: string, catalog: CatalogSnapshot, args: PageArgs, columns = RECORD_COLUMNS): Promise<InferencePage> {
  const statement = inferencePageStatement(tenantId, catalog, args, columns);
  if (!statement) return { nodes: [], hasNextPage: false };
  const rows = await query<InferenceRow>(em, statement.sql, statement.params);
  return { nodes: rows.slice(0, statement.first).map(recordFromRow), hasNextPage: rows.length > statement.first };
}
