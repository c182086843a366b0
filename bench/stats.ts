/** Medians of rounds: every figure in the report is the median over the rounds it was measured in. */
import type { MeasuredLoad } from './stack.js';

/** The server-side phases of a dispatch the benchmark reads from the server's histograms (ServerPauses.phases). */
export type PhaseName = 'dispatch' | 'provider' | 'append';
/** Bounds (ms) that the dispatch, provider-attempt and audit-append histograms all have among their buckets. */
export const TAIL_BOUNDS = [10, 25, 50] as const;
export type TailBound = (typeof TAIL_BOUNDS)[number];
const PHASE_NAMES: readonly PhaseName[] = ['dispatch', 'provider', 'append'];
/** A record with one entry per phase. */
export const mapPhases = <T>(f: (name: PhaseName) => T): Record<PhaseName, T> => Object.fromEntries(PHASE_NAMES.map((n) => [n, f(n)])) as Record<PhaseName, T>;
/** One phase over one job: how many, their summed time, how many took longer than each bound. */
export interface PhaseTail {
  count: number;
  sumMs: number;
  over: Record<TailBound, number>;
}

export function median(xs: number[]): number {
  const a = xs.filter((x) => Number.isFinite(x)).sort((p, q) => p - q);
  if (a.length === 0) return NaN;
  const mid = a.length >> 1;
  return a.length % 2 ? a[mid] : (a[mid - 1] + a[mid]) / 2;
}

export function round(x: number, digits = 2): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** One target over its rounds. */
export interface RoundSummary {
  rounds: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  throughput: number;
  /** Summed over rounds. */
  requests: number;
  errors: number;
  errorSamples: Record<string, number>;
  /** Worst round's p99 send lag of the load generator (ms): high means the generator itself fell behind. */
  sendLagP99: number | null;
  /** CPU ms per successful request, per process (median of rounds). */
  cpuMsPerRequest: Record<string, number>;
  /** The server's main-thread pauses, when recorded (medians of rounds): longest GC pause, GC time per round, longest event-loop delay, run-queue wait per request; and `phases`, summed over the rounds. */
  pauses?: { gcMaxMs: number; gcTotalMs: number; loopDelayMaxMs: number; runQueueWaitMsPerRequest: number; appendsPerCommit: number; phases?: Record<PhaseName, PhaseShare> };
}

/** A server-side phase over all rounds (ServerPauses.phases summed): mean time, and the share of observations over each bound, in %. */
export interface PhaseShare {
  count: number;
  meanMs: number;
  overPct: Record<TailBound, number>;
}

function phaseShares(tails: Record<PhaseName, PhaseTail>[]): Record<PhaseName, PhaseShare> {
  const share = (name: PhaseName): PhaseShare => {
    const count = tails.reduce((t, x) => t + x[name].count, 0);
    const sumMs = tails.reduce((t, x) => t + x[name].sumMs, 0);
    const overPct = Object.fromEntries(TAIL_BOUNDS.map((b) => [b, count ? round((100 * tails.reduce((t, x) => t + x[name].over[b], 0)) / count, 2) : NaN])) as PhaseShare['overPct'];
    return { count, meanMs: count ? round(sumMs / count, 2) : NaN, overPct };
  };
  return mapPhases(share);
}

export function summarize(runs: MeasuredLoad[]): RoundSummary {
  const errorSamples: Record<string, number> = {};
  for (const r of runs) for (const [k, v] of Object.entries(r.errorSamples)) errorSamples[k] = (errorSamples[k] ?? 0) + v;
  const procs = new Set(runs.flatMap((r) => Object.keys(r.cpuMs)));
  const cpuMsPerRequest: Record<string, number> = {};
  for (const p of procs) cpuMsPerRequest[p] = round(median(runs.map((r) => (r.ok ? (r.cpuMs[p] ?? NaN) / r.ok : NaN))), 3);
  const lags = runs.map((r) => r.sendLag?.p99 ?? NaN).filter(Number.isFinite);
  return {
    rounds: runs.length,
    p50: round(median(runs.map((r) => r.latency.p50))),
    p90: round(median(runs.map((r) => r.latency.p90))),
    p99: round(median(runs.map((r) => r.latency.p99))),
    p999: round(median(runs.map((r) => r.latency.p999))),
    max: round(Math.max(...runs.map((r) => r.latency.max))),
    throughput: round(median(runs.map((r) => r.throughput)), 1),
    requests: runs.reduce((s, r) => s + r.sent, 0),
    errors: runs.reduce((s, r) => s + r.errors, 0),
    errorSamples,
    sendLagP99: lags.length ? round(Math.max(...lags)) : null,
    cpuMsPerRequest,
    ...(runs.every((r) => r.pauses)
      ? {
          pauses: {
            gcMaxMs: round(median(runs.map((r) => r.pauses!.gcMaxMs))),
            gcTotalMs: round(median(runs.map((r) => Object.values(r.pauses!.gc).reduce((t, k) => t + k.totalMs, 0)))),
            loopDelayMaxMs: round(median(runs.map((r) => r.pauses!.loopDelay.max))),
            runQueueWaitMsPerRequest: round(median(runs.map((r) => (r.ok ? r.pauses!.runQueueWaitMs / r.ok : NaN))), 3),
            appendsPerCommit: round(median(runs.map((r) => (r.pauses!.chainWrites.commits ? r.pauses!.chainWrites.appends / r.pauses!.chainWrites.commits : NaN))), 2),
            ...(runs.every((r) => r.pauses!.phases) ? { phases: phaseShares(runs.map((r) => r.pauses!.phases!)) } : {}),
          },
        }
      : {}),
  };
}

/** Median over rounds of (a − b) for a percentile, pairing the rounds in order (rounds where either did not run are left out). */
export function pairedDelta(a: (MeasuredLoad | null)[], b: (MeasuredLoad | null)[], key: 'p50' | 'p99'): number {
  const n = Math.min(a.length, b.length);
  const ds: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[i];
    const y = b[i];
    if (x && y) ds.push(x.latency[key] - y.latency[key]);
  }
  return round(median(ds));
}
