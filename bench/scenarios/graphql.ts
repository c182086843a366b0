/**
 * Scenario 5 — the GraphQL layer: `{ __typename }` through the server (a valid key, so the
 * request authenticates like any other) vs a bare node:http handler answering the same JSON.
 * Throughput at saturation: a closed loop of N concurrent requests for a fixed time, rounds
 * alternating between the targets. Two more references place our figure: graphql-js alone and
 * Apollo Server alone (bench/bare-http.ts), each with nothing of ours. The load generator
 * shares the 2 cores: against the bare handler it can be the bottleneck, which lowers the bare
 * figure and so raises our ratio — the CPU per request of each process is recorded to show it.
 */
import path from 'node:path';
import type { TenantKeys } from '../../src/modules/tenancy/tenancy.service.js';
import type { BenchConfig } from '../config.js';
import type { ProfileSummary } from '../profile.js';
import type { HttpTarget } from '../loadgen.js';
import { type MeasuredLoad, type ReferenceMode, type Stack, sleep, typenameTarget } from '../stack.js';
import { round, type RoundSummary, summarize } from '../stats.js';
import { profiled } from './profiled.js';

export interface GraphqlResult {
  concurrency: number;
  server: RoundSummary;
  bare: RoundSummary;
  ratio: number;
  /**
   * The same request through graphql-js alone and through Apollo Server alone (bench/bare-http.ts):
   * what GraphQL itself and the framework cost, with nothing of ours. Absent in runs before they were measured.
   */
  references?: { graphqlJs: RoundSummary; apollo: RoundSummary; graphqlJsRatio: number; apolloRatio: number };
  profile: ProfileSummary | null;
}

type Name = 'server' | 'bare' | 'graphqlJs' | 'apollo';
type Target = { target: HttpTarget; procs: () => Record<string, number[]> };

export async function runGraphql(stack: Stack, cfg: BenchConfig, log: (s: string) => void, profileDir: string): Promise<GraphqlResult> {
  const mock = await stack.mock(0);
  const server = await stack.startServer(mock);
  const keys = await server.ipc.call<TenantKeys>('newTenant', { label: 'typename' });
  // A reference server (bench/bare-http.ts --mode): no key, its CPU counted as 'bare'.
  const reference = async (mode: ReferenceMode): Promise<Target> => {
    const ref = await stack.reference(mode);
    return { target: typenameTarget(ref.origin, null), procs: () => ({ bare: [ref.pid] }) };
  };
  const targets: Record<Name, Target> = {
    server: { target: typenameTarget(server.origin, keys.agentKey), procs: () => ({ server: [server.pid], postgres: stack.pgPids() }) },
    bare: await reference('bare'),
    graphqlJs: await reference('graphql'),
    apollo: await reference('apollo'),
  };
  const names = Object.keys(targets) as Name[];
  const concurrency = cfg.graphql.concurrency;
  for (const t of Object.values(targets)) await stack.load({ mode: 'closed', target: t.target, concurrency, durationMs: cfg.warmupMs, timeoutMs: 10_000 }, t.procs());
  const runs: Record<Name, MeasuredLoad[]> = { server: [], bare: [], graphqlJs: [], apollo: [] };
  for (let r = 0; r < cfg.rounds; r++) {
    // Each round in another order (rotated), so no target always follows the same one.
    for (const name of names.map((_, k) => names[(k + r) % names.length])) {
      const res = await stack.load({ mode: 'closed', target: targets[name].target, concurrency, durationMs: cfg.roundMs, timeoutMs: 10_000 }, targets[name].procs());
      runs[name].push(res);
      log(`graphql round ${r + 1} ${name}: ${res.throughput.toFixed(0)} req/s, p50 ${res.latency.p50.toFixed(2)} ms, errors ${res.errors}`);
      await stack.settle(5_000);
      await sleep(200);
    }
  }
  const [s, b, gj, ap] = (['server', 'bare', 'graphqlJs', 'apollo'] as const).map((n) => summarize(runs[n]));
  const profile = await profiled(stack, { label: `{ __typename }, closed loop ×${concurrency}`, file: path.join(profileDir, 'typename.cpuprofile') }, () =>
    stack.load({ mode: 'closed', target: targets.server.target, concurrency, durationMs: cfg.profile.ms, timeoutMs: 10_000 }, targets.server.procs()),
  );
  return {
    concurrency,
    server: s,
    bare: b,
    ratio: round(s.throughput / b.throughput, 3),
    references: { graphqlJs: gj, apollo: ap, graphqlJsRatio: round(gj.throughput / b.throughput, 3), apolloRatio: round(ap.throughput / b.throughput, 3) },
    profile,
  };
}
