/**
 * Scenarios 1 and 3 — dispatch overhead, ours and the peer's. At each arrival rate the same
 * chat request goes (a) straight to the mock's POST /v1/messages, (b) through dispatchInference
 * (caller task type, auto mode → claude-haiku-4-5 on the mock, persisted and chained), and
 * (c) through Portkey's gateway to the same mock, and (d) through dispatchInference on the same
 * database served by cfg.cluster.workers processes (WEB_CONCURRENCY). Rounds alternate them;
 * Δ = gateway − direct. Requests come from cfg.clients clients, each on its own connections.
 */
import type { BenchConfig } from '../config.js';
import type { HttpTarget } from '../loadgen.js';
import { PORTKEY_VERSION, portkeyTarget } from '../peer-portkey.js';
import { directTarget, dispatchBody, dispatchTarget, type MeasuredLoad, PROMPT, type ServerHandle, type Stack, sleep, withPauses } from '../stack.js';
import { pairedDelta, round, type RoundSummary, summarize } from '../stats.js';
import type { TenantKeys } from '../../src/modules/tenancy/tenancy.service.js';

type TargetName = 'direct' | 'ainfera' | 'cluster' | 'portkey' | 'floor';

export interface Saturation {
  /** The lower rate it could not keep up with, and what it served there (req/s). */
  rate: number;
  served: number;
}

export interface OverheadAtRate {
  rate: number;
  /** null: not run at this rate (see `saturated`), or (Portkey) not run at all. */
  direct: RoundSummary | null;
  ainfera: RoundSummary | null;
  /** Ainfera with WEB_CONCURRENCY = `OverheadResult.clusterWorkers`. */
  cluster: RoundSummary | null;
  portkey: RoundSummary | null;
  /**
   * The bare-pg floor (bench/floor-pg.ts: the statement a dispatch commits, nothing else) at the
   * same rate, in the same rounds — what the commit alone costs in latency; 0 ms variant only.
   */
  floor: RoundSummary | null;
  delta: Record<'ainfera' | 'cluster' | 'portkey', { p50: number; p99: number } | null>;
  /** Targets skipped at this rate in some round because they were saturated at a lower one. */
  saturated: Partial<Record<TargetName, Saturation>>;
}

export interface OverheadResult {
  variants: { mockLatencyMs: number; rates: OverheadAtRate[] }[];
  /** SQL statements of one dispatch, from the ORM's query logger (the same for every variant). */
  statementsPerDispatch: { count: number; statements: string[] } | null;
  portkey: { version: string; ran: boolean; error: string | null };
  clusterWorkers: number;
}

export async function runOverhead(stack: Stack, cfg: BenchConfig, log: (s: string) => void): Promise<OverheadResult> {
  const result: OverheadResult = { variants: [], statementsPerDispatch: null, portkey: { version: PORTKEY_VERSION, ran: false, error: null }, clusterWorkers: cfg.cluster.workers };
  let portkey: { origin: string; pid: number } | null = null;
  try {
    portkey = await stack.portkey();
  } catch (err) {
    result.portkey.error = (err as Error).message;
    log(`portkey: cannot start: ${result.portkey.error}`);
  }

  for (const variant of cfg.overhead.variants) {
    const mock = await stack.mock(variant.mockLatencyMs);
    const server = await stack.startServer(mock);
    const keys = await server.ipc.call<TenantKeys>('newTenant', { label: 'overhead' });
    const cluster = await stack.startCluster(cfg.cluster.workers);
    const clusterKeys = await server.ipc.call<TenantKeys>('newTenant', { label: 'overhead-cluster' });
    const http = (target: HttpTarget, procs: () => Record<string, number[]>) => ({
      run: (rate: number, durationMs: number) => stack.load({ mode: 'open', target, rate, durationMs, timeoutMs: 10_000, clients: cfg.clients }, procs()),
      // Closed loop: warms up without building a backlog on a server slower than the rates below.
      warm: () => stack.load({ mode: 'closed', target, concurrency: 8, durationMs: cfg.warmupMs, timeoutMs: 10_000, clients: cfg.clients }, procs()),
    });
    const ainfera = http(dispatchTarget(server, keys.agentKey), () => ({ server: [server.pid], postgres: stack.pgPids(), mock: [mock.child.pid!] }));
    const targets: Record<TargetName, { run: (rate: number, durationMs: number) => Promise<MeasuredLoad>; warm: () => Promise<MeasuredLoad> } | null> = {
      direct: http(directTarget(mock), () => ({ mock: [mock.child.pid!] })),
      // The server's GC pauses and event-loop delay are recorded in its rounds: what its tail is made of.
      ainfera: { ...ainfera, run: (rate, durationMs) => withPauses(server, () => ainfera.run(rate, durationMs)) },
      cluster: http(dispatchTarget(cluster, clusterKeys.agentKey), () => ({ server: cluster.pids, postgres: stack.pgPids(), mock: [mock.child.pid!] })),
      portkey: portkey ? http(portkeyTarget(portkey.origin, mock.anthropicBaseUrl, PROMPT), () => ({ portkey: [portkey!.pid], mock: [mock.child.pid!] })) : null,
      floor: variant.mockLatencyMs === 0 ? await floorTarget(stack, cfg) : null,
    };
    const names = (Object.keys(targets) as TargetName[]).filter((n) => targets[n]);

    // Warm-up (JIT, connection pools on both sides), discarded. A peer that fails here is reported, not retried.
    for (const name of names) {
      const warm = await targets[name]!.warm();
      log(`overhead ${variant.mockLatencyMs}ms warm-up ${name}: ok ${warm.ok}/${warm.sent}, ${warm.throughput.toFixed(0)} req/s, p50 ${warm.latency.p50.toFixed(2)} ms`);
      if (warm.ok === 0) {
        const why = Object.keys(warm.errorSamples)[0] ?? 'no successful request';
        if (name === 'portkey') {
          result.portkey.error = `Portkey answered no request during warm-up: ${why}`;
          targets.portkey = null;
        } else throw new Error(`${name}: no successful request during warm-up: ${why}`);
      }
    }
    const active = names.filter((n) => targets[n]);
    if (!result.statementsPerDispatch) result.statementsPerDispatch = await countStatements(server, keys.agentKey);
    if (targets.portkey) result.portkey.ran = true;

    // A target that could not keep up with a rate in a round (served < 90 % of it, or errors) is
    // not driven at the higher rates of that round: it would only queue for minutes and say the same.
    const runs: Record<number, Record<TargetName, (MeasuredLoad | null)[]>> = {};
    const skipped: Record<number, Partial<Record<TargetName, Saturation>>> = {};
    for (const rate of variant.rates) {
      runs[rate] = { direct: [], ainfera: [], cluster: [], portkey: [], floor: [] };
      skipped[rate] = {};
    }
    for (let r = 0; r < cfg.rounds; r++) {
      const saturated: Partial<Record<TargetName, Saturation>> = {};
      for (const [ri, rate] of variant.rates.entries()) {
        const shift = (r + ri) % active.length;
        const order = [...active.slice(shift), ...active.slice(0, shift)];
        for (const name of order) {
          const sat = saturated[name];
          if (sat && sat.rate < rate) {
            runs[rate][name][r] = null;
            skipped[rate][name] ??= sat;
            log(`overhead ${variant.mockLatencyMs}ms round ${r + 1} ${rate}/s ${name}: skipped (served ${sat.served.toFixed(0)} req/s of ${sat.rate}/s)`);
            continue;
          }
          const res = await targets[name]!.run(rate, cfg.roundMs);
          runs[rate][name][r] = res;
          if (res.throughput < 0.9 * rate || res.errors > 0) saturated[name] = { rate, served: round(res.throughput, 1) };
          log(`overhead ${variant.mockLatencyMs}ms round ${r + 1} ${rate}/s ${name}: p50 ${res.latency.p50.toFixed(2)} p99 ${res.latency.p99.toFixed(2)} ms, ${res.throughput.toFixed(0)} req/s served, errors ${res.errors}`);
          await stack.settle(60_000); // an overloaded round leaves the server working off abandoned requests
          await sleep(200);
        }
      }
    }

    const rates: OverheadAtRate[] = variant.rates.map((rate) => {
      const r = runs[rate];
      const ran = (name: TargetName) => r[name].filter((x): x is MeasuredLoad => !!x);
      const sum = (name: TargetName) => (ran(name).length ? summarize(ran(name)) : null);
      const delta = (name: TargetName) => (ran(name).length && ran('direct').length ? { p50: pairedDelta(r[name], r.direct, 'p50'), p99: pairedDelta(r[name], r.direct, 'p99') } : null);
      return {
        rate,
        direct: sum('direct'),
        ainfera: sum('ainfera'),
        cluster: sum('cluster'),
        portkey: sum('portkey'),
        floor: sum('floor'),
        delta: { ainfera: delta('ainfera'), cluster: delta('cluster'), portkey: delta('portkey') },
        saturated: skipped[rate],
      };
    });
    result.variants.push({ mockLatencyMs: variant.mockLatencyMs, rates });
  }
  return result;
}

/** The bare-pg floor as an overhead target: the dispatch's statement on a tenant of its own, at the same open-loop rates. */
async function floorTarget(stack: Stack, cfg: BenchConfig) {
  const { job } = await stack.floorJobs('overhead-floor');
  return { run: (rate: number, durationMs: number) => stack.floorLoad(job(rate, durationMs, 10_000)), warm: () => stack.floorLoad(job(100, cfg.warmupMs, 10_000)) };
}

/** Three sequential dispatches with the ORM's query logger on: statements per dispatch. */
async function countStatements(server: ServerHandle, key: string): Promise<{ count: number; statements: string[] }> {
  const send = () => fetch(`${server.origin}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: dispatchBody() }).then((r) => r.text());
  await server.ipc.call('queries', { action: 'start' });
  for (let i = 0; i < 3; i++) await send();
  const sql = await server.ipc.call<string[]>('queries', { action: 'stop' });
  const per = sql.length / 3;
  return { count: per, statements: sql.slice(0, Math.ceil(per)).map((q) => (q.length > 140 ? `${q.slice(0, 137)}…` : q)) };
}
