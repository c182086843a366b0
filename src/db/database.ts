import type { Env } from '../config/env.js';
import { startEmbeddedPostgres } from './embedded.js';

export interface Database {
  url: string;
  embedded: boolean;
  stop(): Promise<void>;
}

/** DATABASE_URL when given; otherwise the embedded PostgreSQL under DATA_DIR. */
export async function openDatabase(env: Env, log?: (line: string) => void): Promise<Database> {
  if (env.databaseUrl) return { url: env.databaseUrl, embedded: false, stop: async () => {} };
  const pg = await startEmbeddedPostgres(env.dataDir, { log });
  return { url: pg.url, embedded: true, stop: pg.stop };
}
