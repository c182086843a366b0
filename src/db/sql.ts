import type { EntityManager } from '@mikro-orm/postgresql';

interface PgClient {
  query(config: { text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}
interface KnexClient {
  acquireConnection(): Promise<PgClient>;
  releaseConnection(connection: PgClient): Promise<void>;
}

/** `?` placeholders (the ORM's style) as PostgreSQL's `$1, $2, …`; our SQL has no `?` in literals. */
export function positional(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/**
 * One statement on the ORM's own connection pool, with bind parameters, outside any ORM
 * transaction. For the hot paths (authentication, the active policy, the dispatch append),
 * where MikroORM's execute() inlines every parameter into the SQL text first: measured at
 * ~45 % of a dispatch's CPU (bench/NOTES.md). Single statements only: each is its own
 * transaction, so it is atomic without BEGIN/COMMIT round trips.
 */
export async function query<R>(em: EntityManager, sql: string, values: unknown[] = []): Promise<R[]> {
  const client = em.getConnection().getKnex().client as unknown as KnexClient;
  const connection = await client.acquireConnection();
  const started = performance.now();
  try {
    const rows = (await connection.query({ text: positional(sql), values })).rows as R[];
    // Through the ORM's query logger like every other statement (a no-op unless `debug` is on).
    em.config.getLogger().logQuery({ query: sql, took: Math.round(performance.now() - started), results: rows.length, level: 'info' });
    return rows;
  } finally {
    await client.releaseConnection(connection);
  }
}
