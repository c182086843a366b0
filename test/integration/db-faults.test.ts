import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, startApp } from '../../src/app.js';
import { loadEnv } from '../../src/config/env.js';
import { embeddedSharedBuffersMb, freePort, startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded.js';
import { initOrm, type Orm } from '../../src/db/orm.js';
import { createTenant, type TenantKeys } from '../../src/modules/tenancy/tenancy.service.js';
import { uniqueSlug } from '../support/app.js';
import { adminQuery, withDatabase } from '../support/database.js';
import { type MockProvider, startMockProvider } from '../support/mock-provider.js';

/**
 * Issue #8, database faults, on a PostgreSQL of this file's own (it is stopped and restarted):
 * (a) PostgreSQL down and back under load: clean errors in the window, recovery without a restart,
 *     no lost row or audit event afterwards, every chain verifies;
 * (b) `kill -9` of the server mid-dispatch: chains verify after restart, and an idempotent retry
 *     never calls the provider twice for a call that completed.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const DISPATCH = /* GraphQL */ `
  mutation Dispatch($input: DispatchInferenceInput!) {
    dispatchInference(input: $input) { replayed inference { id status model { slug } } }
  }
`;
const VERIFY = /* GraphQL */ `{ auditChain { chain length verify { valid checked firstInvalidSeq reason } } }`;

interface Reply {
  status: number;
  body: any;
}

async function post(url: string, key: string, query: string, variables?: Record<string, unknown>, timeoutMs = 20_000): Promise<Reply> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = { unparseable: text };
  }
  return { status: res.status, body };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(what: string, cond: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await cond()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A one-shot pg client (never left open across a PostgreSQL restart, so no stray 'error' event). */
async function query<R = any>(url: string, text: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  try {
    return (await client.query(text, params)).rows as R[];
  } finally {
    await client.end();
  }
}

/** Everything a clean error may not contain: stacks, SQL, driver and connection details. */
function expectCleanError(reply: Reply, secrets: string[]): void {
  expect([200, 500], JSON.stringify(reply.body)).toContain(reply.status);
  const errors = reply.body.errors;
  expect(Array.isArray(errors) && errors.length > 0, JSON.stringify(reply.body)).toBe(true);
  for (const e of errors) {
    expect(e.extensions?.code, JSON.stringify(e)).toBe('INTERNAL_SERVER_ERROR');
    expect(e.extensions?.stacktrace).toBeUndefined();
    expect(e.extensions?.exception).toBeUndefined();
  }
  const text = JSON.stringify(reply.body);
  for (const s of secrets) expect(text).not.toContain(s);
  expect(text).not.toMatch(/\bat .+\.(ts|js):\d+|select |insert |update |delete from|ECONNREFUSED|ECONNRESET|postgres|knex|mikro|terminating connection|Connection terminated|57P01|\$\d|relation "/i);
}

/** Every chain of these tenants verifies; every inference row has exactly its one audit event, and vice versa. */
async function expectConsistent(url: string, gqlUrl: string, tenants: TenantKeys[]): Promise<{ rows: number; events: number }> {
  let rows = 0;
  let events = 0;
  for (const t of tenants) {
    const v = await post(gqlUrl, t.userKey, VERIFY);
    expect(v.body.errors).toBeUndefined();
    const chain = v.body.data.auditChain;
    expect(chain.verify, JSON.stringify(chain)).toMatchObject({ valid: true, firstInvalidSeq: null });
    expect(chain.verify.checked).toBe(chain.length);
    const [counts] = await query(
      url,
      `select (select count(*)::int from inference where tenant_id = $1 and status <> 'pending') as finished,
              (select count(*)::int from audit_event where chain = $1) as events,
              (select count(*)::int from inference i where i.tenant_id = $1 and i.status <> 'pending'
                 and not exists (select 1 from audit_event e where e.chain = $1 and e.payload->>'inferenceId' = i.id::text)) as rows_without_event,
              (select count(*)::int from audit_event e where e.chain = $1
                 and not exists (select 1 from inference i where i.id::text = e.payload->>'inferenceId' and i.status <> 'pending')) as events_without_row`,
      [t.tenantId],
    );
    expect(counts).toMatchObject({ rows_without_event: 0, events_without_row: 0 });
    expect(counts.events).toBe(counts.finished);
    expect(chain.length).toBe(counts.events);
    rows += counts.finished;
    events += counts.events;
  }
  return { rows, events };
}

describe('database faults', () => {
  let dir: string;
  let db: EmbeddedDatabase;

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ainfera-db-faults-'));
    // As root, PostgreSQL runs as the postgres user, which must be able to enter the folder.
    await fs.chmod(dir, 0o755);
    db = await startEmbeddedPostgres(dir, { persistent: true });
  });
  afterAll(async () => {
    await db?.stop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('starts with shared buffers sized to the machine: a sixteenth of its memory, 128 MB to 1 GB', async () => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ shared_buffers: string }>('show shared_buffers');
      const mb = embeddedSharedBuffersMb();
      expect(rows[0].shared_buffers).toBe(mb % 1024 === 0 ? `${mb / 1024}GB` : `${mb}MB`);
    } finally {
      await client.end();
    }
    const GiB = 2 ** 30;
    expect([0.5, 2, 8, 16, 24, 64].map((g) => embeddedSharedBuffersMb(g * GiB))).toEqual([128, 128, 512, 1024, 1024, 1024]);
  });

  describe('PostgreSQL stopped and restarted under load', () => {
    const warnings: Array<{ component?: string; msg: string }> = [];
    let app: App;
    let dataDir: string;
    let gqlUrl: string;
    let tenants: TenantKeys[];

    beforeAll(async () => {
      dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ainfera-db-faults-data-'));
      // Migrations run through startApp on the dedicated server; the simulator answers.
      const env = loadEnv({ NODE_ENV: 'test', PORT: '0', HOST: '127.0.0.1', DATABASE_URL: db.url, DATA_DIR: dataDir, LOG_LEVEL: 'silent', AINFERA_SIMULATOR: '1' });
      // Warnings collected: the driver's and the change listener's complaints go to the logger, not the console.
      const sink = { write: (line: string) => void warnings.push(JSON.parse(line)) };
      app = await startApp(env, pino({ level: 'warn' }, sink), { seedDemo: false });
      gqlUrl = `http://127.0.0.1:${(app.server.http.address() as { port: number }).port}/graphql`;
      tenants = [];
      for (let i = 0; i < 2; i++) {
        const slug = uniqueSlug('dbf');
        tenants.push(await createTenant(app.deps.orm.em.fork(), { slug, ownerHandle: `${slug}-o`.slice(0, 39) }));
      }
    });
    afterAll(async () => {
      await app?.stop();
      await fs.rm(dataDir, { recursive: true, force: true });
    });

    it('fails cleanly while PostgreSQL is down, recovers by itself, and loses nothing', { timeout: 120_000 }, async () => {
      const password = new URL(db.url).password;
      const secrets = [password, db.url, new URL(db.url).port && `:${new URL(db.url).port}`];
      const ok: string[] = [];
      const failed: Reply[] = [];
      let phase: 'before' | 'down' | 'after' = 'before';
      let okAfter = 0;
      let sent = 0;
      let stop = false;
      let slowestFailureMs = 0;
      const MAX_REQUESTS = 3000;
      const deadline = Date.now() + 90_000;
      let broken: unknown = null;
      const worker = async (w: number) => {
        while (!stop && !broken && sent < MAX_REQUESTS && Date.now() < deadline) {
          const t = tenants[(sent + w) % tenants.length];
          sent++;
          const at = phase;
          const t0 = Date.now();
          const reply = await post(gqlUrl, t.agentKey, DISPATCH, { input: { model: 'ainfera-auto', taskType: 'CHAT', messages: [{ role: 'USER', content: `load ${w}` }] } });
          if (reply.body.data?.dispatchInference) {
            // Committed; a nested read (model, through a loader) may still have failed as PostgreSQL went down.
            if (reply.body.errors) expectCleanError(reply, secrets);
            expect(reply.body.data.dispatchInference.inference.status).toBe('SUCCEEDED');
            ok.push(reply.body.data.dispatchInference.inference.id);
            if (at === 'after' && phase === 'after') okAfter++;
          } else {
            expectCleanError(reply, secrets);
            failed.push(reply);
            slowestFailureMs = Math.max(slowestFailureMs, Date.now() - t0);
            await sleep(20); // a client backing off, not a hot loop
          }
        }
      };
      // A worker's failed assertion stops the load at once and is rethrown below.
      const load = Promise.all([0, 1, 2, 3].map((w) => worker(w).catch((err) => (broken ??= err))));
      const until = async (what: string, cond: () => boolean, ms: number) => {
        await waitUntil(what, () => cond() || broken !== null, ms);
        if (broken) throw broken;
      };

      let okBefore = 0;
      let started = 0;
      let restartedAfter = 0;
      let recoveredIn = 0;
      let failedWhileDown = 0;
      let readyWhileDown = { status: 0, text: '' };
      try {
        await until('successes before the fault', () => ok.length >= 20, 30_000);
        okBefore = ok.length;
        started = Date.now();
        phase = 'down';
        await db.stop();
        try {
          await sleep(1500);
          failedWhileDown = failed.length;
          const ready = await fetch(gqlUrl.replace('/graphql', '/readyz'));
          readyWhileDown = { status: ready.status, text: await ready.text() };
        } finally {
          // Always back up, so a failure here leaves the rest of the file a database.
          db = await startEmbeddedPostgres(dir, { persistent: true });
        }
        restartedAfter = Date.now() - started;
        phase = 'after';
        // The same app, never restarted, serves again once its pool has replaced the dead connections.
        await until('successes after the restart', () => okAfter >= 40, 45_000);
        recoveredIn = Date.now() - started;
      } finally {
        stop = true;
        await load;
      }
      if (broken) throw broken;

      expect(readyWhileDown.status).toBe(503);
      expect(readyWhileDown.text).not.toContain(password);
      expect(failedWhileDown, 'requests sent while PostgreSQL was down must have failed').toBeGreaterThan(0);
      // Failing fast, not parking requests until PostgreSQL is back.
      expect(slowestFailureMs).toBeLessThan(10_000);
      expect((await fetch(gqlUrl.replace('/graphql', '/readyz'))).status).toBe(200);
      // Every success has its row and its audit event; no failure left a half-written trace.
      const [{ n }] = await query(db.url, `select count(*)::int as n from inference where id = any($1::uuid[]) and status = 'succeeded'`, [ok]);
      expect(n).toBe(ok.length);
      const [{ e }] = await query(db.url, `select count(*)::int as e from audit_event where payload->>'inferenceId' = any($1::text[]) and type = 'inference.routed'`, [ok]);
      expect(e).toBe(ok.length);
      const totals = await expectConsistent(db.url, gqlUrl, tenants);
      expect(totals.rows).toBeGreaterThanOrEqual(ok.length);
      expect(warnings.some((w) => w.component === 'knex' && w.msg.startsWith('Connection Error'))).toBe(true);
      expect(warnings.some((w) => w.msg.startsWith('change listener'))).toBe(true);
      console.log(
        `[db-faults] requests ${sent}: ${ok.length} succeeded (${okBefore} before the stop, ${okAfter} after the restart), ${failed.length} failed cleanly (slowest failure ${slowestFailureMs} ms); ` +
          `PostgreSQL down ${restartedAfter} ms, service recovered ${recoveredIn} ms after the stop; rows ${totals.rows}, events ${totals.events}, rows lost 0`,
      );
    });
  });

  describe('kill -9 of the server mid-dispatch', () => {
    let mock: MockProvider;
    let url: string;
    let dataDir: string;
    let port: number;
    let child: ChildProcess | null = null;
    let orm: Orm;
    let keys: TenantKeys;
    let gqlUrl: string;
    let output = '';

    const startServer = async () => {
      const env: Record<string, string> = {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? os.tmpdir(),
        NODE_ENV: 'test',
        HOST: '127.0.0.1',
        PORT: String(port),
        DATABASE_URL: url,
        DATA_DIR: dataDir,
        LOG_LEVEL: 'warn',
        ANTHROPIC_API_KEY: 'test-anthropic-key',
        ANTHROPIC_BASE_URL: mock.anthropicBaseUrl,
        OPENAI_API_KEY: 'test-openai-key',
        OPENAI_BASE_URL: mock.openaiBaseUrl,
        AINFERA_SIMULATOR: '0',
        PROVIDER_TIMEOUT_MS: '10000',
        IDEMPOTENCY_LEASE_MS: '1500',
      };
      // node itself (not npx) so that SIGKILL hits the server process and nothing else.
      const proc = spawn(process.execPath, ['--import', 'tsx', 'src/index.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
      proc.stdout!.on('data', (d) => (output += d));
      proc.stderr!.on('data', (d) => (output += d));
      child = proc;
      await waitUntil(
        'the server to listen',
        async () => {
          if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}:\n${output}`);
          return fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
        },
        60_000,
      );
    };

    const kill9 = async () => {
      const proc = child!;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
      child = null;
    };

    const dispatch = (label: string, key: string) =>
      post(gqlUrl, keys.agentKey, DISPATCH, { input: { model: 'claude-haiku-4-5', taskType: 'CHAT', idempotencyKey: key, messages: [{ role: 'USER', content: `call ${label}` }] } });

    /** Retry like a well-behaved client: IDEMPOTENCY_IN_PROGRESS means "try again shortly". */
    const retry = async (label: string, key: string): Promise<Reply> => {
      for (let i = 0; i < 100; i++) {
        const r = await dispatch(label, key);
        if (r.body.errors?.[0]?.extensions?.code !== 'IDEMPOTENCY_IN_PROGRESS') return r;
        await sleep(100);
      }
      throw new Error(`${key} stayed in progress`);
    };

    const callsFor = (label: string) => mock.calls.filter((c) => c.kind === 'completion' && JSON.stringify(c.body).includes(`call ${label}"`)).length;

    beforeAll(async () => {
      mock = await startMockProvider();
      await adminQuery(db.url, 'create database ainfera_kill');
      url = withDatabase(db.url, 'ainfera_kill');
      dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ainfera-kill-data-'));
      port = await freePort();
      gqlUrl = `http://127.0.0.1:${port}/graphql`;
      await startServer(); // runs the migrations
      orm = await initOrm(url);
      const slug = uniqueSlug('kill');
      keys = await createTenant(orm.em.fork(), { slug, ownerHandle: `${slug}-o`.slice(0, 39) });
    }, 90_000);
    afterAll(async () => {
      if (child) await kill9();
      await orm?.close();
      await mock?.close();
      await fs.rm(dataDir, { recursive: true, force: true });
    });

    it('a call killed in flight (never committed) is made once more on retry, once its lease lapses', { timeout: 90_000 }, async () => {
      mock.reset();
      mock.script({ kind: 'completion', times: 1, behavior: { type: 'ok', delayMs: 1000 } });
      const inflight = dispatch('inflight', 'kill-inflight').catch((err: Error) => err);
      await waitUntil('the provider call', () => callsFor('inflight') === 1, 10_000);
      await kill9();
      expect(await inflight).toBeInstanceOf(Error); // the connection died with the server
      const [pending] = await query(url, `select id, status from inference where tenant_id = $1 and idempotency_key = 'kill-inflight'`, [keys.tenantId]);
      expect(pending.status).toBe('pending');

      await startServer();
      const retried = await retry('inflight', 'kill-inflight');
      expect(retried.body.errors, JSON.stringify(retried.body)).toBeUndefined();
      expect(retried.body.data.dispatchInference).toMatchObject({ replayed: false, inference: { status: 'SUCCEEDED' } });
      expect(callsFor('inflight')).toBe(2); // the first call never completed
      const rows = await query(url, `select status from inference where tenant_id = $1 and idempotency_key = 'kill-inflight'`, [keys.tenantId]);
      expect(rows).toEqual([{ status: 'succeeded' }]);
      await expectConsistent(url, gqlUrl, [keys]);
      // And now it replays.
      const again = await dispatch('inflight', 'kill-inflight');
      expect(again.body.data.dispatchInference).toMatchObject({ replayed: true, inference: { id: retried.body.data.dispatchInference.inference.id } });
      expect(callsFor('inflight')).toBe(2);
    });

    it('a call that completed before kill -9 is replayed after the restart, without a provider call', { timeout: 90_000 }, async () => {
      mock.reset();
      const first = await dispatch('done', 'kill-done');
      expect(first.body.data.dispatchInference).toMatchObject({ replayed: false, inference: { status: 'SUCCEEDED' } });
      expect(callsFor('done')).toBe(1);
      await kill9();
      await startServer();
      const retried = await retry('done', 'kill-done');
      expect(retried.body.data.dispatchInference).toEqual({ ...first.body.data.dispatchInference, replayed: true });
      expect(callsFor('done')).toBe(1);
      await expectConsistent(url, gqlUrl, [keys]);
    });

    it('kill -9 in the middle of a burst: completed calls replay, the rest run once more, chains verify', { timeout: 120_000 }, async () => {
      mock.reset();
      const N = 12;
      const labels = Array.from({ length: N }, (_, i) => `burst-${i}`);
      // Staggered answers (0 to 1.1 s) so the kill at ~550 ms lands with some calls done and some in flight.
      labels.forEach((label, i) => mock.script({ when: (c) => JSON.stringify(c.body).includes(`call ${label}"`), times: 1, behavior: { type: 'ok', delayMs: i * 100 } }));
      const seen: Record<string, Reply | Error> = {};
      const burst = Promise.all(labels.map((l) => dispatch(l, `k-${l}`).then((r) => (seen[l] = r), (err: Error) => (seen[l] = err))));
      await waitUntil('the burst to reach the provider', () => mock.callCount({ kind: 'completion' }) >= N, 20_000);
      await sleep(550);
      await kill9();
      await burst;

      const completed = labels.filter((l) => !(seen[l] instanceof Error) && (seen[l] as Reply).body.data?.dispatchInference);
      const committed = new Set(
        (await query<{ idempotency_key: string }>(url, `select idempotency_key from inference where tenant_id = $1 and status = 'succeeded' and idempotency_key like 'k-burst-%'`, [keys.tenantId])).map((r) => r.idempotency_key.slice(2)),
      );
      // Whatever a client saw succeed was committed.
      for (const l of completed) expect(committed.has(l), l).toBe(true);
      expect(completed.length, 'some calls should complete before the kill').toBeGreaterThan(0);
      expect(completed.length, 'some calls should still be in flight at the kill').toBeLessThan(N);
      const callsBefore = Object.fromEntries(labels.map((l) => [l, callsFor(l)]));

      await startServer();
      for (const l of labels) {
        const r = await retry(l, `k-${l}`);
        expect(r.body.errors, `${l}: ${JSON.stringify(r.body)}`).toBeUndefined();
        if (committed.has(l)) {
          expect(r.body.data.dispatchInference.replayed, l).toBe(true);
          expect(callsFor(l), `${l} completed, so no second provider call`).toBe(callsBefore[l]);
        } else {
          expect(r.body.data.dispatchInference.replayed, l).toBe(false);
          expect(callsFor(l), `${l} never committed, so exactly one more call`).toBe(callsBefore[l] + 1);
        }
        const rows = await query(url, `select status from inference where tenant_id = $1 and idempotency_key = $2`, [keys.tenantId, `k-${l}`]);
        expect(rows).toEqual([{ status: 'succeeded' }]);
      }
      const totals = await expectConsistent(url, gqlUrl, [keys]);
      console.log(`[db-faults] kill -9 burst: ${N} calls, ${completed.length} seen complete by the client, ${committed.size} committed, ${N - committed.size} re-run after restart; chain length ${totals.events}`);
    });
  });
});
