/**
 * The database floor for a dispatch: a bare `pg` script writing what persistDispatch writes
 * (src/modules/inference/inference.repository.ts), under the same open-loop load as the server.
 *
 * The server persists a dispatch with ONE statement: a `row` CTE inserting the finished inference
 * (all four §16 fields), the chain-head upsert that locks the tenant's chain and finishes the
 * envelope's SHA-256 in SQL, and the audit_event insert. Its ChainWriter sends it alone in
 * autocommit, or — when appends queued while the chain's previous write ran — in one transaction
 * with them (group commit). The chain part is built here by the server's own `appendWithRow`
 * (src/modules/audit/audit.service.ts) and sent through the server's own ChainWriter
 * (src/modules/audit/chain-writer.ts), so both follow the server; the `row` CTE mirrors
 * `inferenceRow()` (same columns, same casts). The statement goes out as a named prepared
 * statement with bind parameters, as the server sends it, on the same kind of pool the server's
 * ChainWriter has (pipelinedPool, src/db/sql.ts): no HTTP, no GraphQL, no provider call, no ORM.
 *
 *   node dist/bench/floor-pg.js '<job JSON>'   (or jobs on stdin, one per line)
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { appendWithRow, type RowCte } from '../src/modules/audit/audit.service.js';
import { ChainWriter } from '../src/modules/audit/chain-writer.js';
import { formatOccurredAt } from '../src/modules/audit/envelope.js';
import { pipelinedPool, prepared } from '../src/db/sql.js';
import { sha256Hex } from '../src/shared/hashing.js';
import { type LoadResult, runOpenLoop, serveJobs } from './openloop.js';

export interface FloorJob {
  dbUrl: string;
  tenantId: string;
  agentId: string;
  modelId: string;
  policyVersion: string;
  rate: number;
  durationMs: number;
  poolSize?: number;
  timeoutMs?: number;
}

const PROMPT = 'Benchmark: say hello in one short sentence.';

/** The `row` CTE of one finished auto-mode CHAT dispatch answered by the mock: inferenceRow()'s columns and casts. */
function inferenceRow(job: FloorJob, id: string, now: Date, n: number, requestHash: string, attempts: unknown[]): RowCte {
  const request = { model: 'ainfera-auto', messages: [{ role: 'user', content: PROMPT }], system: null, maxTokens: 1024, temperature: null, taskType: 'chat', constraints: { maxLatencyMs: null, maxCostUsd: null }, idempotencyKey: null, agentId: null, metadata: null };
  const response = { id: `msg_mock_${n}`, type: 'message', role: 'assistant', model: 'claude-haiku-4-5', content: [{ type: 'text', text: 'Hello from claude-haiku-4-5' }], stop_reason: 'end_turn', stop_sequence: null, stop_details: null, container: null, usage: { input_tokens: 11, output_tokens: 12, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, service_tier: 'standard' } };
  const cols: Array<[string, unknown, string?]> = [
    ['id', id, 'uuid'],
    ['created_at', now, 'timestamptz'],
    ['tenant_id', job.tenantId, 'uuid'],
    ['agent_id', job.agentId, 'uuid'],
    ['requested_model', 'ainfera-auto'],
    ['routing_mode', 'auto'],
    ['request_payload', JSON.stringify(request), 'jsonb'],
    ['idempotency_key', null],
    ['request_hash', requestHash],
    ['status', 'succeeded'],
    ['model_id', job.modelId, 'uuid'],
    ['response_payload', JSON.stringify(response), 'jsonb'],
    ['output_text', 'Hello from claude-haiku-4-5'],
    ['input_tokens', 11, 'int'],
    ['output_tokens', 12, 'int'],
    ['cost_usd', '0.000071000000', 'numeric'],
    ['latency_ms', 3, 'int'],
    ['provider_latency_ms', 2, 'int'],
    ['attempts', JSON.stringify(attempts), 'jsonb'],
    ['error', null, 'jsonb'],
    ['task_type', 'chat', 'inference_task_type'],
    ['task_type_source', 'caller', 'inference_task_type_source'],
    ['policy_version', job.policyVersion],
    ['cell', 'chat/open'],
    ['constraint_band', 'open'],
    ['completed_at', now, 'timestamptz'],
    ['lease_expires_at', null, 'timestamptz'],
  ];
  return {
    sql: `with row as (insert into inference (${cols.map((c) => c[0]).join(', ')}) values (${cols.map((c) => (c[2] ? `?::${c[2]}` : '?')).join(', ')}) returning id)`,
    params: cols.map((c) => c[1]),
  };
}

function statementFor(job: FloorJob, n: number): { text: string; values: unknown[] } {
  const id = randomUUID();
  const now = new Date();
  const requestHash = sha256Hex(`floor request ${n}`);
  const attempts = [{ model: 'claude-haiku-4-5', provider: 'anthropic', outcome: 'succeeded', latencyMs: 2 }];
  const payload = {
    inferenceId: id, agentId: job.agentId, requestedModel: 'ainfera-auto', routingMode: 'auto', model: 'claude-haiku-4-5', provider: 'anthropic',
    taskType: 'chat', taskTypeSource: 'caller', policyVersion: job.policyVersion, cell: 'chat/open', constraintBand: 'open', attempts,
    usage: { inputTokens: 11, outputTokens: 12 }, costUsd: '0.000071', requestHash,
  };
  const { sql, params } = appendWithRow(inferenceRow(job, id, now, n, requestHash, attempts), { chain: job.tenantId, type: 'inference.routed', occurredAt: formatOccurredAt(now), payload });
  // Prepared and named exactly as the server's query() does (src/db/sql.ts); the text is the same for every job, built once as the server's is.
  statement ??= prepared(`/* floorPersistDispatch */ ${sql}`);
  return { ...statement, values: params };
}

let statement: ReturnType<typeof prepared> | undefined;

/** One pool, and the ChainWriter over it, per database and pool size. */
const writers = new Map<string, ChainWriter<pg.PoolClient>>();

export async function runFloor(job: FloorJob): Promise<LoadResult> {
  const size = job.poolSize ?? 10;
  const key = `${job.dbUrl}#${size}`;
  let writer = writers.get(key);
  if (!writer) {
    // The server's kind of pool: pipelining connections. One ended by the database (stopped after a scenario) is dropped and logged.
    writer = new ChainWriter(pipelinedPool(job.dbUrl, { max: size, onConnectionError: (err) => console.error(`pg floor: connection lost: ${err.message}`) }));
    writers.set(key, writer);
  }
  const w = writer;
  const op = async (n: number): Promise<string | null> => {
    const rows = await w.append(job.tenantId, statementFor(job, n));
    return rows.length === 1 ? null : `expected one appended event, got ${rows.length}`;
  };
  return runOpenLoop({ rate: job.rate, durationMs: job.durationMs, drainMs: job.timeoutMs ?? 10_000 }, op);
}

await serveJobs(runFloor);
