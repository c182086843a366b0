/**
 * Scenario 5 — the GraphQL layer: `{ __typename }` through the server (a valid key, so the
 * request authenticates like any other) vs a bare node:http handler answering the same JSON.
 * Throughput at saturation: a closed loop of N concurrent requests for a fixed time, rounds
 * alternating between the two. The load generator shares the 2 cores: against the bare handler
 * it can be the bottleneck, which lowers the bare figure and so raises our ratio — the CPU per
 * request of each process is recorded to show it.
 */
import path from 'node:path';
import type { TenantKeys } from '../../src/modules/tenancy/tenancy.service.js';
import type { BenchConfig } from '../config.js';
import type { ProfileSummary } from '../profile.js';
import { type MeasuredLoad, type Stack, sleep, typenameTarget } from '../stack.js';
import { round, type RoundSummary, summarize } from '../stats.js';
import { profiled } from './profiled.js';

export interface GraphqlResult {
  concurrency: number;
  server: RoundSummary;
  bare: RoundSummary;
  ratio: number;
  profile: ProfileSummary | null;
}

export async function runGraphql(stack: Stack, cfg: BenchConfig, log: (s: string) => void, profileDir: string): Promise<GraphqlResult> {
  const mock = await stack.mock(0);
  const server = await stack.startServer(mock);
  const keys = await server.ipc.call<TenantKeys>('newTenant', { label: 'typename' });
  const bare = await stack.bare();
  const targets = {
    server: { target: typenameTarget(server.origin, keys.agentKey), procs: () => ({ server: [server.pid], postgres: stack.pgPids() }) },
    bare: { target: typenameTarget(bare.origin, null), procs: () => ({ bare: [bare.pid] }) },
  };
  const concurrency = cfg.graphql.concurrency;
  for (const t of Object.values(targets)) await stack.load({ mode: 'closed', target: t.target, concurrency, durationMs: cfg.warmupMs, timeoutMs: 10_000 }, t.procs());
  const runs: Record<'server' | 'bare', MeasuredLoad[]> = { server: [], bare: [] };
  for (let r = 0; r < cfg.rounds; r++) {
    for (const name of r % 2 === 0 ? (['server', 'bare'] as const) : (['bare', 'server'] as const)) {
      const res = await stack.load({ mode: 'closed', target: targets[name].target, concurrency, durationMs: cfg.roundMs, timeoutMs: 10_000 }, targets[name].procs());
      runs[name].push(res);
      log(`graphql round ${r + 1} ${name}: ${res.throughput.toFixed(0)} req/s, p50 ${res.latency.p50.toFixed(2)} ms, errors ${res.errors}`);
      await stack.settle(5_000);
      await sleep(200);
    }
  }
  const s = summarize(runs.server);
  const b = summarize(runs.bare);
  const profile = await profiled(stack, { label: `{ __typename }, closed loop ×${concurrency}`, file: path.join(profileDir, 'typename.cpuprofile') }, () =>
    stack.load({ mode: 'closed', target: targets.server.target, concurrency, durationMs: cfg.profile.ms, timeoutMs: 10_000 }, targets.server.procs()),
  );
  return { concurrency, server: s, bare: b, ratio: round(s.throughput / b.throughput, 3), profile };
}
