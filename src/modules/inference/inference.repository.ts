import type { EntityManager } from '@mikro-orm/postgresql';
import { prepared, query } from '../../db/sql.js';
import type { ChainWriter } from '../audit/chain-writer.js';
import { AppError, ErrorCode } from '../../shared/errors.js';
import type { Metrics } from '../../shared/metrics.js';
import { appendWithRow, type RowCte } from '../audit/audit.service.js';
import { formatOccurredAt } from '../audit/envelope.js';
import { storedRequest } from './dispatch.input.js';
import type { DispatchOutcome } from './dispatch.service.js';
import { InferenceStatus } from './inference.entity.js';
import { type InferenceRecord, type InferenceRow, RECORD_COLUMNS, recordFromRow } from './inference.record.js';
import { isUuid } from '../../shared/ids.js';

/** The finished inference, from what the dispatch decided. */
function buildRecord(o: DispatchOutcome): InferenceRecord {
  const a = o.answered;
  return {
    id: o.id,
    createdAt: o.createdAt,
    tenantId: o.tenantId,
    agentId: o.agentId,
    requestedModel: o.request.model,
    routingMode: o.routingMode,
    modelId: a ? a.model.id : null,
    status: a ? InferenceStatus.SUCCEEDED : InferenceStatus.FAILED,
    outputText: a?.text ?? null,
    inputTokens: a?.inputTokens ?? null,
    outputTokens: a?.outputTokens ?? null,
    costUsd: a?.costUsd ?? null,
    latencyMs: o.latencyMs,
    providerLatencyMs: a?.latencyMs ?? null,
    attempts: o.attempts,
    error: a ? null : (o.error ?? { code: ErrorCode.UPSTREAM_UNAVAILABLE, message: 'No provider answered.' }),
    idempotencyKey: o.request.idempotencyKey,
    requestHash: o.request.requestHash,
    taskType: o.taskType,
    taskTypeSource: o.taskTypeSource,
    policyVersion: o.policyVersion,
    cell: o.cell,
    constraintBand: o.band,
    completedAt: new Date(),
  };
}

/** The audit payload: the §16 fields and every attempt; no prompt text (the request hash stands for it), no secrets. */
function auditPayload(o: DispatchOutcome, inf: InferenceRecord): Record<string, unknown> {
  return {
    inferenceId: o.id,
    agentId: o.agentId,
    requestedModel: o.request.model,
    routingMode: o.routingMode,
    model: o.answered?.model.slug ?? null,
    provider: o.answered?.model.providerSlug ?? null,
    taskType: o.taskType,
    taskTypeSource: o.taskTypeSource,
    policyVersion: o.policyVersion,
    cell: o.cell,
    constraintBand: o.band,
    attempts: o.attempts,
    usage: o.answered ? { inputTokens: o.answered.inputTokens, outputTokens: o.answered.outputTokens } : null,
    costUsd: o.answered?.costUsd ?? null,
    requestHash: o.request.requestHash,
    ...(inf.error ? { error: inf.error } : {}),
  };
}

/** A column of the inference row: its name, the cast its parameter needs, and its value. */
type Column = [name: string, cast: string | null, value: (inf: InferenceRecord, o: DispatchOutcome) => unknown];

const json = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));

/** Set once, on insert. */
const IDENTITY_COLUMNS: Column[] = [
  ['id', 'uuid', (inf) => inf.id],
  ['created_at', 'timestamptz', (inf) => inf.createdAt],
  ['tenant_id', 'uuid', (inf) => inf.tenantId],
  ['agent_id', 'uuid', (inf) => inf.agentId],
  ['requested_model', null, (inf) => inf.requestedModel],
  ['routing_mode', null, (inf) => inf.routingMode],
  ['request_payload', 'jsonb', (_, o) => JSON.stringify(storedRequest(o.request))],
  ['idempotency_key', null, (inf) => inf.idempotencyKey],
  ['request_hash', null, (inf) => inf.requestHash],
];

/** The finished inference's columns, in one order for both the insert and the claimed-row update. */
const FINAL_COLUMNS: Column[] = [
  ['status', null, (inf) => inf.status],
  ['model_id', 'uuid', (inf) => inf.modelId],
  ['response_payload', 'jsonb', (_, o) => json(o.answered?.raw)],
  ['output_text', null, (inf) => inf.outputText],
  ['input_tokens', 'int', (inf) => inf.inputTokens],
  ['output_tokens', 'int', (inf) => inf.outputTokens],
  ['cost_usd', 'numeric', (inf) => inf.costUsd],
  ['latency_ms', 'int', (inf) => inf.latencyMs],
  ['provider_latency_ms', 'int', (inf) => inf.providerLatencyMs],
  ['attempts', 'jsonb', (inf) => JSON.stringify(inf.attempts)],
  ['error', 'jsonb', (inf) => json(inf.error)],
  ['task_type', 'inference_task_type', (inf) => inf.taskType],
  ['task_type_source', 'inference_task_type_source', (inf) => inf.taskTypeSource],
  ['policy_version', null, (inf) => inf.policyVersion],
  ['cell', null, (inf) => inf.cell],
  ['constraint_band', null, (inf) => inf.constraintBand],
  ['completed_at', 'timestamptz', (inf) => inf.completedAt],
  ['lease_expires_at', 'timestamptz', () => null],
];

const placeholder = ([, cast]: Column) => (cast ? `?::${cast}` : '?');

/** The two shapes of the `row` CTE; the column lists are fixed, so their text is too. */
const INSERT_ROW = `with row as (insert into inference (${[...IDENTITY_COLUMNS, ...FINAL_COLUMNS].map((c) => c[0]).join(', ')}) values (${[...IDENTITY_COLUMNS, ...FINAL_COLUMNS].map(placeholder).join(', ')}) returning id)`;
const FINISH_CLAIMED_ROW = `with row as (update inference set ${FINAL_COLUMNS.map((c) => `${c[0]} = ${placeholder(c)}`).join(', ')} where id = ? and status = 'pending' returning id)`;

/** The `row` CTE: insert the finished inference, or finish the pending row of a claimed idempotency key. */
function inferenceRow(inf: InferenceRecord, o: DispatchOutcome, claimed: boolean): RowCte {
  const values = (columns: Column[]) => columns.map(([, , value]) => value(inf, o));
  return claimed ? { sql: FINISH_CLAIMED_ROW, params: [...values(FINAL_COLUMNS), inf.id] } : { sql: INSERT_ROW, params: [...values(IDENTITY_COLUMNS), ...values(FINAL_COLUMNS)] };
}

/**
 * The inference row (all four §16 fields) and its audit event are written by ONE statement
 * (appendWithRow), so they commit together or not at all. The tenant's ChainWriter sends it, alone
 * or in one transaction with the appends that queued beside it. A claimed idempotency key turns
 * its pending row into the final one.
 */
export async function persistDispatch(chains: ChainWriter, o: DispatchOutcome, claimed: boolean, metrics?: Metrics): Promise<InferenceRecord> {
  const inf = buildRecord(o);
  const { sql, params } = appendWithRow(inferenceRow(inf, o, claimed), {
    chain: o.tenantId,
    type: inf.status === InferenceStatus.SUCCEEDED ? 'inference.routed' : 'inference.failed',
    occurredAt: formatOccurredAt(inf.completedAt ?? new Date()),
    payload: auditPayload(o, inf),
  });
  const appended = metrics?.chainAppendDuration.startTimer();
  const rows = await chains.append(o.tenantId, { ...prepared(sql), values: params });
  appended?.();
  if (rows.length !== 1) throw new AppError(ErrorCode.IDEMPOTENCY_IN_PROGRESS, 'Another request took over this idempotency key; retry to read its result.', { retryable: true });
  return inf;
}

/** One inference of a tenant; another tenant's looks absent. */
export async function findInference(em: EntityManager, tenantId: string, id: string): Promise<InferenceRecord | null> {
  if (!isUuid(id)) return null;
  const [row] = await query<InferenceRow>(em, `/* findInference */ select ${RECORD_COLUMNS} from inference where id = ? and tenant_id = ?`, [id, tenantId]);
  return row ? recordFromRow(row) : null;
}
