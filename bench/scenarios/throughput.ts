/**
 * Scenario 2 — dispatch throughput: the highest open-loop arrival rate with p99 ≤ the limit and
 * no errors, found by a step search (grow until a step fails, then bisect), for the server's
 * dispatchInference (0 ms mock) — one server process, and cfg.cluster.workers as WEB_CONCURRENCY
 * runs them — and for the bare-pg floor (floor-pg.ts) writing the same statement on the same
 * database. Each writes to one tenant's chain, so each serializes on its chain head; the chains
 * are verified afterwards, to show the floor did the same work.
 */
import type { TenantKeys } from '../../src/modules/tenancy/tenancy.service.js';
import type { BenchConfig } from '../config.js';
import { dispatchTarget, type MeasuredLoad, type Stack, sleep } from '../stack.js';
import { median, round } from '../stats.js';

export interface Step {
  rate: number;
  pass: boolean;
  p50: number;
  p99: number;
  ok: number;
  errors: number;
  throughput: number;
  cpuMs: Record<string, number>;
  error: string | null;
}

export interface Search {
  maxRate: number;
  steps: Step[];
}

export interface ThroughputResult {
  p99LimitMs: number;
  /** verifyChain over each tenant's chain after the search. */
  chains: Record<'ainfera' | 'cluster' | 'floor', { valid: boolean; checked: number }>;
  ainfera: { maxRate: number; rounds: Search[] };
  /** WEB_CONCURRENCY = clusterWorkers. */
  cluster: { maxRate: number; rounds: Search[] };
  clusterWorkers: number;
  floor: { maxRate: number; rounds: Search[] };
  ratio: number;
  clusterRatio: number;
}

async function stepSearch(cfg: BenchConfig['throughput'], runAt: (rate: number) => Promise<MeasuredLoad>, settle: () => Promise<void>, log: (s: string) => void, label: string): Promise<Search> {
  let lo = 0;
  let hi = Number.POSITIVE_INFINITY;
  let rate = cfg.startRate;
  const steps: Step[] = [];
  for (let i = 0; i < cfg.maxSteps; i++) {
    const res = await runAt(rate);
    const pass = res.errors === 0 && res.ok === res.scheduled && res.latency.p99 <= cfg.p99LimitMs;
    steps.push({ rate, pass, p50: round(res.latency.p50), p99: round(res.latency.p99), ok: res.ok, errors: res.errors, throughput: round(res.throughput, 1), cpuMs: res.cpuMs, error: Object.keys(res.errorSamples)[0] ?? null });
    log(`throughput ${label} ${rate}/s: ${pass ? 'pass' : 'FAIL'} p50 ${res.latency.p50.toFixed(2)} p99 ${res.latency.p99.toFixed(2)} ms, errors ${res.errors}`);
    if (pass) lo = Math.max(lo, rate);
    else hi = Math.min(hi, rate);
    await settle();
    if (Number.isFinite(hi) && (hi - lo) / hi <= cfg.resolution) break;
    const next = Number.isFinite(hi) ? (lo + hi) / 2 : rate * cfg.growth;
    if (next > cfg.maxRate) break;
    rate = Math.round(next);
  }
  return { maxRate: lo, steps };
}

export async function runThroughput(stack: Stack, cfg: BenchConfig, log: (s: string) => void): Promise<ThroughputResult> {
  const t = cfg.throughput;
  const mock = await stack.mock(0);
  const server = await stack.startServer(mock);
  const keys = await server.ipc.call<TenantKeys>('newTenant', { label: 'throughput' });
  const floor = await stack.floorJobs('floor');
  const cluster = await stack.startCluster(cfg.cluster.workers);
  const clusterKeys = await server.ipc.call<TenantKeys>('newTenant', { label: 'throughput-cluster' });
  const target = dispatchTarget(server, keys.agentKey);
  const procs = () => ({ server: [server.pid], postgres: stack.pgPids() });
  const clusterTarget = dispatchTarget(cluster, clusterKeys.agentKey);
  const clusterProcs = () => ({ server: cluster.pids, postgres: stack.pgPids() });
  const open = (rate: number) => ({ mode: 'open' as const, rate, durationMs: t.stepMs, timeoutMs: t.timeoutMs, drainMs: t.timeoutMs + 1000, clients: cfg.clients });
  const runServer = (rate: number) => stack.load({ ...open(rate), target }, procs());
  const runCluster = (rate: number) => stack.load({ ...open(rate), target: clusterTarget }, clusterProcs());
  const runFloor = (rate: number) => stack.floorLoad(floor.job(rate, t.stepMs, t.timeoutMs));
  const settle = async () => {
    await stack.settle(60_000);
    await sleep(300);
  };

  await stack.load({ mode: 'closed', target, concurrency: 8, durationMs: cfg.warmupMs, timeoutMs: 10_000, clients: cfg.clients }, procs());
  await stack.load({ mode: 'closed', target: clusterTarget, concurrency: 8, durationMs: cfg.warmupMs, timeoutMs: 10_000, clients: cfg.clients }, clusterProcs());
  await stack.floorLoad(floor.job(t.startRate, cfg.warmupMs, t.timeoutMs));
  await settle();

  const searches: Record<'ainfera' | 'cluster' | 'floor', Search[]> = { ainfera: [], cluster: [], floor: [] };
  const runs = { ainfera: runServer, cluster: runCluster, floor: runFloor };
  const names = ['ainfera', 'cluster', 'floor'] as const;
  for (let r = 0; r < cfg.rounds; r++) {
    // Each round in another order, so none is always measured first.
    for (const which of [...names.slice(r % 3), ...names.slice(0, r % 3)]) searches[which].push(await stepSearch(t, runs[which], settle, log, `${which === 'floor' ? 'pg floor' : which} round ${r + 1}`));
  }
  await stack.settle(60_000);
  const verify = (chain: string) => server.ipc.call<{ valid: boolean; checked: number; reason: string | null }>('verifyChain', { chain });
  const chains = { ainfera: await verify(keys.tenantId), cluster: await verify(clusterKeys.tenantId), floor: await verify(floor.chain) };
  const said = (c: { valid: boolean; checked: number }) => `${c.valid ? 'valid' : 'INVALID'} (${c.checked})`;
  log(`throughput: chains after the search: ours ${said(chains.ainfera)}, ours ×${cfg.cluster.workers} ${said(chains.cluster)}, floor ${said(chains.floor)}`);
  const max = (which: keyof typeof searches) => median(searches[which].map((s) => s.maxRate));
  const floorMax = max('floor');
  const ratio = (which: 'ainfera' | 'cluster') => (floorMax > 0 ? round(max(which) / floorMax, 3) : NaN);
  const checked = (c: { valid: boolean; checked: number }) => ({ valid: c.valid, checked: c.checked });
  return {
    p99LimitMs: t.p99LimitMs,
    chains: { ainfera: checked(chains.ainfera), cluster: checked(chains.cluster), floor: checked(chains.floor) },
    ainfera: { maxRate: max('ainfera'), rounds: searches.ainfera },
    cluster: { maxRate: max('cluster'), rounds: searches.cluster },
    clusterWorkers: cfg.cluster.workers,
    floor: { maxRate: floorMax, rounds: searches.floor },
    ratio: ratio('ainfera'),
    clusterRatio: ratio('cluster'),
  };
}
