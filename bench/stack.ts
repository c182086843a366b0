/**
 * The processes of one benchmark run, all on loopback: mock providers (one per fixed latency),
 * the server (restartable onto another mock, same database), the load generator, the pg floor,
 * Portkey and the bare node:http handler — each started on first use and stopped at the end.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from '../src/db/embedded.js';
import { PLATFORM_DEFAULT_POLICY } from '../src/modules/routing/routing.service.js';
import type { TenantKeys } from '../src/modules/tenancy/tenancy.service.js';
import type { FloorJob } from './floor-pg.js';
import type { HttpTarget, LoadJob } from './loadgen.js';
import type { LoadResult } from './openloop.js';
import type { PhaseName, PhaseTail } from './stats.js';
import { cpuDuring, cpuMsOf, descendants, firstJsonLine, IpcChannel, ipcMessage, LineChannel, spawnCompiled, stopChild, waitExit } from './proc.js';

/** The reference servers of the GraphQL layer (bench/bare-http.ts --mode). */
export type ReferenceMode = 'bare' | 'graphql' | 'apollo';

export interface Mock {
  latencyMs: number;
  anthropicBaseUrl: string;
  openaiBaseUrl: string;
  child: ChildProcess;
}

export interface ServerHandle {
  child: ChildProcess;
  ipc: IpcChannel;
  pid: number;
  port: number;
  origin: string;
  dbUrl: string;
  dataDir: string;
  mock: Mock;
  demo: TenantKeys;
}

/** The server as WEB_CONCURRENCY=N runs it (bench/cluster-server.ts), on the single-process server's database. */
export interface ClusterServerHandle {
  child: ChildProcess;
  ipc: IpcChannel;
  workers: number;
  /** The primary, then the server processes: whose CPU is the server's. */
  pids: number[];
  origin: string;
  mock: Mock;
}

/** Ask a server process to drain and stop (its `stop` command); kill it if it has not exited in `waitMs`. */
async function stopServerProcess(s: { child: ChildProcess; ipc: IpcChannel }, waitMs: number): Promise<void> {
  await s.ipc.call('stop').catch(() => {});
  if (!(await waitExit(s.child, waitMs))) await stopChild(s.child);
}

/** A load job's result plus the CPU each process spent while it ran. */
export interface MeasuredLoad extends LoadResult {
  cpuMs: Record<string, number>;
  /** The server's main-thread pauses during the job (bench/server.ts `pauses`), when asked for. */
  pauses?: ServerPauses;
}

/** GC pauses (by kind) and event-loop delay of the server's main thread over one measured job. */
export interface ServerPauses {
  gc: Record<string, { count: number; totalMs: number; maxMs: number }>;
  gcMaxMs: number;
  loopDelay: { p50: number; p99: number; max: number };
  /** The main thread's time runnable but waiting for a core (the scheduler's run queue), ms. */
  runQueueWaitMs: number;
  /** Audit appends and the commits that wrote them (the ChainWriter's group commit), from its metric. */
  chainWrites: { appends: number; commits: number };
  /**
   * Where slow dispatches spent their time, from the server's own histograms over the job: each
   * dispatch, each provider attempt, each audit append — how many, their summed time, and how many
   * took longer than 10, 25 and 50 ms (bucket bounds all three share). Absent in runs before it was recorded.
   */
  phases?: Record<PhaseName, PhaseTail>;
}

/** `run` with the server recording its pauses around it; the job's result carries them. */
export async function withPauses(server: ServerHandle, run: () => Promise<MeasuredLoad>): Promise<MeasuredLoad> {
  await server.ipc.call('pauses', { action: 'start' });
  const res = await run();
  return { ...res, pauses: await server.ipc.call<ServerPauses>('pauses', { action: 'stop' }) };
}

export class Stack {
  readonly tmp: string;
  readonly logDir: string;
  private readonly mocks = new Map<number, Mock>();
  server: ServerHandle | null = null;
  cluster: ClusterServerHandle | null = null;
  private loadgenChild: ChildProcess | null = null;
  private loadgen: LineChannel | null = null;
  private floorChild: ChildProcess | null = null;
  private floor: LineChannel | null = null;
  private portkeyChild: ChildProcess | null = null;
  portkeyOrigin: string | null = null;
  /** The GraphQL layer's reference servers (bench/bare-http.ts), by mode. */
  private readonly references = new Map<ReferenceMode, { child: ChildProcess; origin: string }>();

  constructor() {
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ainfera-bench-'));
    // Embedded PostgreSQL runs as its own user when we are root: it must be able to enter the directory.
    fs.chmodSync(this.tmp, 0o755);
    this.logDir = path.join(this.tmp, 'logs');
    fs.mkdirSync(this.logDir);
  }

  log(name: string): string {
    return path.join(this.logDir, `${name}.log`);
  }

  async mock(latencyMs: number): Promise<Mock> {
    const existing = this.mocks.get(latencyMs);
    if (existing) return existing;
    const child = spawnCompiled('test/support/mock-provider.ts', ['--port', '0', '--latency', String(latencyMs)], { log: this.log(`mock-${latencyMs}ms`) });
    const urls = await firstJsonLine<{ anthropicBaseUrl: string; openaiBaseUrl: string }>(child, 30_000, `mock provider (${latencyMs} ms)`);
    const mock = { latencyMs, ...urls, child };
    this.mocks.set(latencyMs, mock);
    return mock;
  }

  /** The server on `mock`, on the database under `dataDir` (a new one unless reused): restarts it if it is on another mock. */
  async startServer(mock: Mock, opts: { fresh?: boolean; label?: string } = {}): Promise<ServerHandle> {
    if (this.server && this.server.mock === mock && !opts.fresh) return this.server;
    const dataDir = opts.fresh || !this.server ? fs.mkdtempSync(path.join(this.tmp, `${opts.label ?? 'server'}-`)) : this.server.dataDir;
    fs.chmodSync(dataDir, 0o755);
    await this.stopServer();
    const child = spawnCompiled('bench/server.ts', ['--data-dir', dataDir, '--anthropic', mock.anthropicBaseUrl, '--openai', mock.openaiBaseUrl], {
      ipc: true,
      log: this.log(`server-${path.basename(dataDir)}`),
      // As deployed: libraries read NODE_ENV from the process (graphql-js skips its development checks in production).
      env: { NODE_ENV: 'production' },
    });
    const ready = await ipcMessage<{ pid: number; port: number; dbUrl: string; demo: TenantKeys }>(child, 'ready', 180_000, 'server');
    this.server = { child, ipc: new IpcChannel(child, 'server'), pid: ready.pid, port: ready.port, origin: `http://127.0.0.1:${ready.port}`, dbUrl: ready.dbUrl, dataDir, mock, demo: ready.demo };
    return this.server;
  }

  /** `workers` server processes on the running server's database and mock (restarted if on another mock). */
  async startCluster(workers: number): Promise<ClusterServerHandle> {
    const server = this.server;
    if (!server) throw new Error('startCluster: start the single-process server first (the cluster uses its database)');
    if (this.cluster && this.cluster.mock === server.mock && this.cluster.workers === workers) return this.cluster;
    await this.stopCluster();
    const { mock } = server;
    const child = spawnCompiled(
      'bench/cluster-server.ts',
      ['--workers', String(workers), '--database-url', server.dbUrl, '--data-dir', server.dataDir, '--anthropic', mock.anthropicBaseUrl, '--openai', mock.openaiBaseUrl],
      { ipc: true, log: this.log(`cluster-${path.basename(server.dataDir)}`), env: { NODE_ENV: 'production' } },
    );
    const ready = await ipcMessage<{ pid: number; port: number; servers: number[] }>(child, 'ready', 120_000, 'cluster server');
    this.cluster = { child, ipc: new IpcChannel(child, 'cluster server'), workers, pids: [ready.pid, ...ready.servers], origin: `http://127.0.0.1:${ready.port}`, mock };
    return this.cluster;
  }

  async stopCluster(): Promise<void> {
    const c = this.cluster;
    this.cluster = null;
    if (c) await stopServerProcess(c, 40_000);
  }

  async stopServer(): Promise<void> {
    // The cluster runs on this server's database: it goes first.
    await this.stopCluster();
    const s = this.server;
    this.server = null;
    if (s) await stopServerProcess(s, 30_000);
  }

  /** The server's PostgreSQL processes (postmaster and backends; the cluster's backends too, on the same database). */
  pgPids(): number[] {
    return this.server ? descendants(this.server.pid) : [];
  }

  private ensureLoadgen(): LineChannel {
    if (!this.loadgen) {
      this.loadgenChild = spawnCompiled('bench/loadgen.ts', ['-'], { log: this.log('loadgen') });
      this.loadgen = new LineChannel(this.loadgenChild, 'load generator');
    }
    return this.loadgen;
  }

  /** Which processes' CPU to account for a job; always the load generator's. */
  private pidsFor(extra: Record<string, number[]>): Record<string, number[]> {
    const pids: Record<string, number[]> = { ...extra };
    if (this.loadgenChild?.pid) pids.loadgen = [this.loadgenChild.pid];
    return pids;
  }

  private async measured(pids: Record<string, number[]>, run: () => Promise<LoadResult>): Promise<MeasuredLoad> {
    const { result, cpuMs } = await cpuDuring(pids, run, { postgres: () => this.pgPids() });
    if ((result as { fatal?: string }).fatal) throw new Error((result as unknown as { fatal: string }).fatal);
    return { ...result, cpuMs: Object.fromEntries(Object.entries(cpuMs).map(([k, v]) => [k, Math.round(v)])) };
  }

  /** Run one load job against an HTTP target; `processes` names the pids whose CPU to report. */
  async load(job: LoadJob, processes: Record<string, number[]> = {}): Promise<MeasuredLoad> {
    const lg = this.ensureLoadgen();
    return this.measured(this.pidsFor(processes), () => lg.call<LoadResult>(job));
  }

  /**
   * The bare-pg floor's jobs on a tenant of its own (each chain serializes on its head row), on the
   * running server's database: the model a dispatch answers with, the platform default policy.
   */
  async floorJobs(label: string): Promise<{ chain: string; job: (rate: number, durationMs: number, timeoutMs: number) => FloorJob }> {
    const server = this.server;
    if (!server) throw new Error('floorJobs: start the server first (the floor writes to its database)');
    const keys = await server.ipc.call<TenantKeys>('newTenant', { label });
    const db = new pg.Client({ connectionString: server.dbUrl });
    await db.connect();
    const { rows } = await db.query<{ id: string }>(`/* benchModelId */ select id from model where slug = 'claude-haiku-4-5'`).finally(() => db.end());
    const base = { dbUrl: server.dbUrl, tenantId: keys.tenantId, agentId: keys.agentId, modelId: rows[0].id, policyVersion: PLATFORM_DEFAULT_POLICY.policyVersion, poolSize: 10 };
    return { chain: keys.tenantId, job: (rate, durationMs, timeoutMs) => ({ ...base, rate, durationMs, timeoutMs }) };
  }

  /** Run one open-loop job of the bare-pg floor transaction. */
  async floorLoad(job: FloorJob): Promise<MeasuredLoad> {
    if (!this.floor) {
      this.floorChild = spawnCompiled('bench/floor-pg.ts', ['-'], { log: this.log('floor-pg') });
      this.floor = new LineChannel(this.floorChild, 'pg floor');
    }
    const floor = this.floor;
    const pids: Record<string, number[]> = { floor: [this.floorChild!.pid!], postgres: this.pgPids() };
    return this.measured(pids, () => floor.call<LoadResult>(job));
  }

  async portkey(): Promise<{ origin: string; pid: number }> {
    if (!this.portkeyOrigin) {
      const port = await freePort();
      this.portkeyChild = spawnCompiled('bench/peer-portkey.ts', ['--port', String(port)], { log: this.log('portkey'), env: { NODE_ENV: 'production' } });
      const origin = `http://127.0.0.1:${port}`;
      const deadline = Date.now() + 60_000;
      for (;;) {
        if (this.portkeyChild.exitCode !== null) throw new Error(`Portkey exited with ${this.portkeyChild.exitCode}; see ${this.log('portkey')}`);
        const ok = await fetch(`${origin}/`).then((r) => r.ok, () => false);
        if (ok) break;
        if (Date.now() > deadline) throw new Error(`Portkey did not answer on ${origin} within 60 s; see ${this.log('portkey')}`);
        await sleep(200);
      }
      this.portkeyOrigin = origin;
    }
    return { origin: this.portkeyOrigin, pid: this.portkeyChild!.pid! };
  }

  /** A reference server for `{ __typename }` (bench/bare-http.ts): the bare handler, graphql-js alone, or Apollo Server alone. */
  async reference(mode: ReferenceMode): Promise<{ origin: string; pid: number }> {
    let ref = this.references.get(mode);
    if (!ref) {
      const child = spawnCompiled('bench/bare-http.ts', ['--mode', mode], { log: this.log(`reference-${mode}`), env: { NODE_ENV: 'production' } });
      const { port } = await firstJsonLine<{ port: number }>(child, 30_000, `reference server (${mode})`);
      ref = { child, origin: `http://127.0.0.1:${port}` };
      this.references.set(mode, ref);
    }
    return { origin: ref.origin, pid: ref.child.pid! };
  }

  async stopPeers(): Promise<void> {
    for (const c of [this.portkeyChild, this.floorChild, ...[...this.references.values()].map((r) => r.child)]) if (c) await stopChild(c, 5_000);
    this.portkeyChild = this.floorChild = null;
    this.references.clear();
    this.portkeyOrigin = null;
    this.floor = null;
  }

  /** Wait until the server and its database are (nearly) idle: after an overloaded step, queued work drains first. */
  async settle(maxMs = 15_000): Promise<void> {
    const pids = [...(this.server ? [this.server.pid] : []), ...this.pgPids()];
    const deadline = Date.now() + maxMs;
    let prev = cpuMsOf(pids);
    while (Date.now() < deadline) {
      await sleep(250);
      const now = cpuMsOf(pids);
      if (now - prev < 25) return; // < 10 % of one core
      prev = now;
    }
  }

  async close(): Promise<void> {
    await this.stopServer().catch(() => {});
    await this.stopPeers().catch(() => {});
    for (const c of [this.loadgenChild, ...[...this.mocks.values()].map((m) => m.child)]) if (c) await stopChild(c, 5_000);
    this.mocks.clear();
    this.loadgenChild = null;
    this.loadgen = null;
  }

  /** Remove the temporary databases (logs are kept only when asked). */
  cleanup(keepLogs: boolean): void {
    if (keepLogs) {
      for (const entry of fs.readdirSync(this.tmp)) if (entry !== 'logs') fs.rmSync(path.join(this.tmp, entry), { recursive: true, force: true });
    } else fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Targets: the same dispatch as GraphQL, as a straight Anthropic call, and the read/typename queries. */
export const PROMPT = 'Benchmark: say hello in one short sentence.';
const DISPATCH = 'mutation($input: DispatchInferenceInput!) { dispatchInference(input: $input) { replayed inference { id status model { slug } } } }';

export function dispatchBody(input: Record<string, unknown> = {}): string {
  return JSON.stringify({ query: DISPATCH, variables: { input: { model: 'ainfera-auto', taskType: 'CHAT', messages: [{ role: 'USER', content: PROMPT }], ...input } } });
}

export function dispatchTarget(server: { origin: string }, key: string, bodies = [dispatchBody()]): HttpTarget {
  return { origin: server.origin, path: '/graphql', headers: { authorization: `Bearer ${key}` }, bodies, expect: { status: 200, contains: '"SUCCEEDED"', notContains: '"errors"' } };
}

/** What the Anthropic SDK sends for that dispatch (model, max_tokens default 1024, the message). */
export function directTarget(mock: Mock): HttpTarget {
  return {
    origin: mock.anthropicBaseUrl,
    path: '/v1/messages',
    headers: { 'x-api-key': 'bench-anthropic-key', 'anthropic-version': '2023-06-01' },
    bodies: [JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 1024, messages: [{ role: 'user', content: PROMPT }] })],
    expect: { status: 200, contains: '"type":"message"' },
  };
}

export const READS_QUERY = 'query($first: Int) { inferences(first: $first) { nodes { id model { slug } provider { slug } agent { id } } } }';

export function readsTarget(server: ServerHandle, key: string, first: number): HttpTarget {
  return {
    origin: server.origin,
    path: '/graphql',
    headers: { authorization: `Bearer ${key}` },
    bodies: [JSON.stringify({ query: READS_QUERY, variables: { first } })],
    expect: { status: 200, contains: '"nodes"', notContains: '"errors"' },
  };
}

export function typenameTarget(origin: string, key: string | null): HttpTarget {
  return {
    origin,
    path: '/graphql',
    headers: key ? { authorization: `Bearer ${key}` } : {},
    bodies: [JSON.stringify({ query: '{ __typename }' })],
    expect: { status: 200, contains: '"__typename":"Query"' },
  };
}
