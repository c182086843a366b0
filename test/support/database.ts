import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const TEMPLATE_DB = 'ainfera_test_template';

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Run one statement on the server's maintenance database. */
export async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: withDatabase(url, 'postgres') });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A fresh database for one test file: a clone of the migrated template, or empty. */
export async function createTestDatabase(url: string, opts: { empty?: boolean } = {}): Promise<string> {
  const name = `ainfera_t_${randomBytes(6).toString('hex')}`;
  await adminQuery(url, opts.empty ? `create database ${name}` : `create database ${name} template ${TEMPLATE_DB}`);
  return withDatabase(url, name);
}

/** A plain pg client on a test database, for asserting on what reached it (and for tampering). */
export async function sqlClient(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}
