/**
 * Scenario 2 — dispatch throughput: the highest open-loop arrival rate with p99 ≤ the limit and
 * no errors, found by a step search (grow until a step fails, then bisect), for the server's
 * dispatchInference (0 ms mock) and for the bare-pg floor (floor-pg.ts) writing the same
 * statement on the same database. Each writes to one tenant's chain, so each serializes on its
 * chain head; both chains are verified afterwards, to show the floor did the same work.
 */
import pg from 'pg';
import type { TenantKeys } from '../../src/modules/tenancy/tenancy.service.js';
import { PLATFORM_DEFAULT_POLICY } from '../../src/modules/routing/routing.service.js';
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
  chains: { ainfera: { valid: boolean; checked: number }; floor: { valid: boolean; checked: number } };
  ainfera: { maxRate: number; rounds: Search[] };
  floor: { maxRate: number; rounds: Search[] };
  ratio: number;
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
  const floorKeys = await server.ipc.call<TenantKeys>('newTenant', { label: 'floor' });
  const db = new pg.Client({ connectionString: server.dbUrl });
  await db.connect();
  const { rows } = await db.query<{ id: string }>(`/* benchModelId */ select id from model where slug = 'claude-haiku-4-5'`);
  await db.end();
  const target = dispatchTarget(server, keys.agentKey);
  const procs = () => ({ server: [server.pid], postgres: stack.pgPids() });
  const floorJob = (rate: number, durationMs: number) => ({
    dbUrl: server.dbUrl,
    tenantId: floorKeys.tenantId,
    agentId: floorKeys.agentId,
    modelId: rows[0].id,
    policyVersion: PLATFORM_DEFAULT_POLICY.policyVersion,
    rate,
    durationMs,
    poolSize: 10,
    timeoutMs: t.timeoutMs,
  });
  const runServer = (rate: number) => stack.load({ mode: 'open', target, rate, durationMs: t.stepMs, timeoutMs: t.timeoutMs, drainMs: t.timeoutMs + 1000 }, procs());
  const runFloor = (rate: number) => stack.floorLoad(floorJob(rate, t.stepMs));
  const settle = async () => {
    await stack.settle(60_000);
    await sleep(300);
  };

  await stack.load({ mode: 'closed', target, concurrency: 8, durationMs: cfg.warmupMs, timeoutMs: 10_000 }, procs());
  await stack.floorLoad(floorJob(t.startRate, cfg.warmupMs));
  await settle();

  const ours: Search[] = [];
  const floor: Search[] = [];
  for (let r = 0; r < cfg.rounds; r++) {
    const order: Array<'ainfera' | 'floor'> = r % 2 === 0 ? ['ainfera', 'floor'] : ['floor', 'ainfera'];
    for (const which of order) {
      if (which === 'ainfera') ours.push(await stepSearch(t, runServer, settle, log, `ainfera round ${r + 1}`));
      else floor.push(await stepSearch(t, runFloor, settle, log, `pg floor round ${r + 1}`));
    }
  }
  await stack.settle(60_000);
  const verify = (chain: string) => server.ipc.call<{ valid: boolean; checked: number; reason: string | null }>('verifyChain', { chain });
  const chains = { ainfera: await verify(keys.tenantId), floor: await verify(floorKeys.tenantId) };
  log(`throughput: chains after the search: ours ${chains.ainfera.valid ? 'valid' : 'INVALID'} (${chains.ainfera.checked}), floor ${chains.floor.valid ? 'valid' : 'INVALID'} (${chains.floor.checked})`);
  const oursMax = median(ours.map((s) => s.maxRate));
  const floorMax = median(floor.map((s) => s.maxRate));
  return {
    p99LimitMs: t.p99LimitMs,
    chains: { ainfera: { valid: chains.ainfera.valid, checked: chains.ainfera.checked }, floor: { valid: chains.floor.valid, checked: chains.floor.checked } },
    ainfera: { maxRate: oursMax, rounds: ours },
    floor: { maxRate: floorMax, rounds: floor },
    ratio: floorMax > 0 ? round(oursMax / floorMax, 3) : NaN,
  };
}
