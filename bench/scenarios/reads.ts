/**
 * Scenario 4 — reads: `inferences(first: N) { nodes { id model { slug } provider { slug } agent { id } } }`
 * after seeding real dispatches (four models on two providers). Statements per request are
 * counted with the ORM's query logger (authentication included); latency is open-loop at a
 * dashboard-like rate with an admin (user) key, as dashboards read.
 */
import path from 'node:path';
import type { TenantKeys } from '../../src/modules/tenancy/tenancy.service.js';
import type { BenchConfig } from '../config.js';
import type { ProfileSummary } from '../profile.js';
import { dispatchBody, dispatchTarget, type MeasuredLoad, READS_QUERY, readsTarget, type Stack, sleep } from '../stack.js';
import { type RoundSummary, summarize } from '../stats.js';
import { profiled } from './profiled.js';

export interface ReadsResult {
  seeded: number;
  seedErrors: number;
  nodesReturned: number;
  statements: { pageSize: number; perRequest: number; sample: string[] }[];
  maxStatements: number;
  pageSize: number;
  /** One entry per arrival rate, the target's rate first. */
  latency: (RoundSummary & { rate: number })[];
  profile: ProfileSummary | null;
}

async function gql(origin: string, key: string, query: string, variables: Record<string, unknown>): Promise<any> {
  const res = await fetch(`${origin}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify({ query, variables }) });
  return res.json();
}

export async function runReads(stack: Stack, cfg: BenchConfig, log: (s: string) => void, profileDir: string): Promise<ReadsResult> {
  const mock = await stack.mock(0);
  const server = await stack.startServer(mock);
  const keys = await server.ipc.call<TenantKeys>('newTenant', { label: 'reads' });

  const bodies = [
    dispatchBody(),
    dispatchBody({ model: 'gpt-4.1-mini' }),
    dispatchBody({ model: 'claude-sonnet-4-5' }),
    dispatchBody({ model: 'gpt-4.1' }),
  ];
  // Seeding is not measured: a closed loop gets the rows in as fast as the server takes them.
  const seed = await stack.load({ mode: 'closed', target: dispatchTarget(server, keys.agentKey, bodies), concurrency: 8, maxRequests: cfg.reads.seed, durationMs: 10 * 60_000, timeoutMs: 10_000 });
  log(`reads: seeded ${seed.ok} inferences (${seed.errors} errors)`);
  await stack.settle();

  const page = await gql(server.origin, keys.userKey, READS_QUERY, { first: 100 });
  if (page.errors) throw new Error(`reads: ${JSON.stringify(page.errors).slice(0, 300)}`);
  const nodesReturned = page.data.inferences.nodes.length as number;

  const statements: ReadsResult['statements'] = [];
  const repeats = 3;
  for (const first of cfg.reads.pageSizes) {
    await gql(server.origin, keys.userKey, READS_QUERY, { first }); // not counted: any first-use work
    await server.ipc.call('queries', { action: 'start' });
    for (let i = 0; i < repeats; i++) await gql(server.origin, keys.userKey, READS_QUERY, { first });
    const sql = await server.ipc.call<string[]>('queries', { action: 'stop' });
    const per = sql.length / repeats;
    statements.push({ pageSize: first, perRequest: per, sample: sql.slice(0, Math.ceil(per)).map((s) => (s.length > 160 ? `${s.slice(0, 157)}…` : s)) });
    log(`reads: first ${first}: ${per} statements per request`);
  }

  const target = readsTarget(server, keys.userKey, 100);
  const procs = () => ({ server: [server.pid], postgres: stack.pgPids() });
  await stack.load({ mode: 'closed', target, concurrency: 4, durationMs: cfg.warmupMs, timeoutMs: 10_000 }, procs());
  const latency: ReadsResult['latency'] = [];
  const runs = new Map<number, MeasuredLoad[]>(cfg.reads.rates.map((rate) => [rate, []]));
  for (let r = 0; r < cfg.rounds; r++) {
    for (const rate of cfg.reads.rates) {
      const res = await stack.load({ mode: 'open', target, rate, durationMs: cfg.roundMs, timeoutMs: 10_000 }, procs());
      runs.get(rate)!.push(res);
      log(`reads round ${r + 1} ${rate}/s: p50 ${res.latency.p50.toFixed(2)} p99 ${res.latency.p99.toFixed(2)} ms, errors ${res.errors}`);
      await stack.settle(60_000);
      await sleep(200);
    }
  }
  for (const [rate, rs] of runs) latency.push({ rate, ...summarize(rs) });
  const profile = await profiled(stack, { label: `inferences(first: 100), closed loop ×${cfg.profile.concurrency}`, file: path.join(profileDir, 'reads.cpuprofile') }, () =>
    stack.load({ mode: 'closed', target, concurrency: cfg.profile.concurrency, durationMs: cfg.profile.ms, timeoutMs: 10_000 }, procs()),
  );
  return {
    seeded: seed.ok,
    seedErrors: seed.errors,
    nodesReturned,
    statements,
    maxStatements: Math.max(...statements.map((s) => s.perRequest)),
    pageSize: 100,
    latency,
    profile,
  };
}
