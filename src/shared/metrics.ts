import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ErrorCode } from './errors.js';

/**
 * Every Prometheus metric of the service, in one place. Each app gets its own Registry (never
 * prom-client's global one), so several apps can live in one process, as they do in the tests.
 * Labels hold only bounded, non-secret values: outcomes, routing modes, provider slugs.
 */

/** The part of the database pool (knex's tarn pool) read at scrape time. */
export interface PoolStats {
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
}

export type DispatchMetricOutcome = 'succeeded' | 'replayed' | Lowercase<ErrorCode>;

const SECONDS = 1000;

/** Buckets for a whole call — a dispatch, one provider attempt — from a few ms to a minute: they share the 10/25/50 ms bounds the benchmark reads. */
const CALL_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export function createMetrics(opts: { pool?: () => PoolStats | null | undefined } = {}) {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry });

  const pool = opts.pool ?? (() => null);
  const metrics = {
    registry,

    dispatchDuration: new Histogram<'outcome' | 'routing_mode'>({
      name: 'ainfera_dispatch_duration_seconds',
      help: 'Time to answer dispatchInference, by outcome (succeeded, replayed, or the error code in lower case) and routing mode (auto, direct).',
      labelNames: ['outcome', 'routing_mode'],
      buckets: CALL_SECONDS,
      registers,
    }),

    classifierRequests: new Counter<'outcome'>({
      name: 'ainfera_classifier_requests_total',
      help: 'Task-type classifier calls by outcome (labelled, invalid_label, refusal, timeout, error, not_configured).',
      labelNames: ['outcome'],
      registers,
    }),

    classifierDuration: new Histogram<'outcome'>({
      name: 'ainfera_classifier_duration_seconds',
      help: 'Task-type classifier latency by outcome.',
      labelNames: ['outcome'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 5],
      registers,
    }),

    providerAttempts: new Counter<'provider' | 'outcome'>({
      name: 'ainfera_provider_attempts_total',
      help: 'Calls to LLM providers by provider slug and outcome (succeeded, timeout, rate_limited, …).',
      labelNames: ['provider', 'outcome'],
      registers,
    }),

    providerAttemptDuration: new Histogram<'provider' | 'outcome'>({
      name: 'ainfera_provider_attempt_duration_seconds',
      help: 'Time from sending a call to an LLM provider to its answer or failure (the whole body read), by provider slug and outcome — beside ainfera_audit_chain_append_duration_seconds, where a slow dispatch spent its time.',
      labelNames: ['provider', 'outcome'],
      buckets: CALL_SECONDS,
      registers,
    }),

    chainAppendDuration: new Histogram({
      name: 'ainfera_audit_chain_append_duration_seconds',
      help: "Time to append one event to a tenant audit chain (head lock, hash, insert, commit), including the wait for its chain's group commit.",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),

    chainCommitAppends: new Histogram({
      name: 'ainfera_audit_chain_commit_appends',
      help: 'Audit events per commit: appends to one chain that queued during a write are committed together (ChainWriter).',
      buckets: [1, 2, 4, 8, 16, 32],
      registers,
    }),

    idempotentReplays: new Counter({
      name: 'ainfera_idempotent_replays_total',
      help: 'Dispatches answered from a stored inference because their idempotency key was seen before.',
      registers,
    }),

    dbPoolConnections: new Gauge<'state'>({
      name: 'ainfera_db_pool_connections',
      help: 'Database pool connections by state (used, free), read at scrape time.',
      labelNames: ['state'],
      registers,
      collect() {
        const p = pool();
        if (!p) return;
        this.set({ state: 'used' }, p.numUsed());
        this.set({ state: 'free' }, p.numFree());
      },
    }),

    dbPoolPendingAcquires: new Gauge({
      name: 'ainfera_db_pool_pending_acquires',
      help: 'Requests waiting for a database pool connection, read at scrape time.',
      registers,
      collect() {
        const p = pool();
        if (p) this.set(p.numPendingAcquires());
      },
    }),
  };
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;

const KNOWN_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode));

/** The dispatch histogram's outcome for a thrown error: its catalogued code, else internal_server_error. */
function outcomeOfError(err: unknown): DispatchMetricOutcome {
  const code = (err as { extensions?: { code?: unknown } } | null)?.extensions?.code;
  return (typeof code === 'string' && KNOWN_CODES.has(code) ? code : ErrorCode.INTERNAL_SERVER_ERROR).toLowerCase() as DispatchMetricOutcome;
}

/** Time one dispatch, whatever its ending, into `ainfera_dispatch_duration_seconds`; count replays. */
export async function timeDispatch<T extends { replayed: boolean }>(metrics: Metrics, routingMode: 'auto' | 'direct', run: () => Promise<T>): Promise<T> {
  const end = metrics.dispatchDuration.startTimer({ routing_mode: routingMode });
  try {
    const result = await run();
    end({ outcome: result.replayed ? 'replayed' : 'succeeded' });
    if (result.replayed) metrics.idempotentReplays.inc();
    return result;
  } catch (err) {
    end({ outcome: outcomeOfError(err) });
    // A replayed failure is thrown again as UPSTREAM_UNAVAILABLE, marked `replayed`: still a replay.
    if ((err as { extensions?: { replayed?: unknown } } | null)?.extensions?.replayed === true) metrics.idempotentReplays.inc();
    throw err;
  }
}

/** `GET /metrics`: the Prometheus text exposition of this app's registry. */
export async function metricsResponse(metrics: Metrics): Promise<{ contentType: string; body: string }> {
  return { contentType: metrics.registry.contentType, body: await metrics.registry.metrics() };
}

/** Count one provider attempt and record how long it took. */
export function observeProviderAttempt(metrics: Metrics, a: { provider: string; outcome: string; ms: number }): void {
  const labels = { provider: a.provider, outcome: a.outcome };
  metrics.providerAttempts.inc(labels);
  metrics.providerAttemptDuration.observe(labels, a.ms / SECONDS);
}

/** Count a classifier call and record its latency. */
export function observeClassification(metrics: Metrics, c: { outcome: string; latencyMs: number }): void {
  metrics.classifierRequests.inc({ outcome: c.outcome });
  metrics.classifierDuration.observe({ outcome: c.outcome }, c.latencyMs / SECONDS);
}
