import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../../db/sql.js';
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

/** The finished inference's columns, in one order for both the insert and the claimed-row update. */
function finalColumns(inf: InferenceRecord, responsePayload: unknown): Array<[column: string, value: unknown, cast?: string]> {
  return [
    ['status', inf.status],
    ['model_id', inf.modelId, 'uuid'],
    ['response_payload', responsePayload === null || responsePayload === undefined ? null : JSON.stringify(responsePayload), 'jsonb'],
    ['output_text', inf.outputText],
    ['input_tokens', inf.inputTokens, 'int'],
    ['output_tokens', inf.outputTokens, 'int'],
    ['cost_usd', inf.costUsd, 'numeric'],
    ['latency_ms', inf.latencyMs, 'int'],
    ['provider_latency_ms', inf.providerLatencyMs, 'int'],
    ['attempts', JSON.stringify(inf.attempts), 'jsonb'],
    ['error', inf.error === null ? null : JSON.stringify(inf.error), 'jsonb'],
    ['task_type', inf.taskType, 'inference_task_type'],
    ['task_type_source', inf.taskTypeSource, 'inference_task_type_source'],
    ['policy_version', inf.policyVersion],
    ['cell', inf.cell],
    ['constraint_band', inf.constraintBand],
    ['completed_at', inf.completedAt, 'timestamptz'],
    ['lease_expires_at', null, 'timestamptz'],
  ];
}

const placeholder = ([, , cast]: [string, unknown, string?]) => (cast ? `?::${cast}` : '?');

/** The statement text of each shape (insert, or finish a claimed row): the column lists are fixed, so it is built once. */
const rowSql = new Map<boolean, string>();

/** The `row` CTE: insert the finished inference, or finish the pending row of a claimed idempotency key. */
function inferenceRow(inf: InferenceRecord, o: DispatchOutcome, claimed: boolean): RowCte {
  const cols = finalColumns(inf, o.answered?.raw ?? null);
  if (claimed) {
    let sql = rowSql.get(true);
    if (sql === undefined) rowSql.set(true, (sql = `with row as (update inference set ${cols.map((c) => `${c[0]} = ${placeholder(c)}`).join(', ')} where id = ? and status = 'pending' returning id)`));
    return { sql, params: [...cols.map((c) => c[1]), inf.id] };
  }
  const identity: Array<[string, unknown, string?]> = [
    ['id', inf.id, 'uuid'],
    ['created_at', inf.createdAt, 'timestamptz'],
    ['tenant_id', inf.tenantId, 'uuid'],
    ['agent_id', inf.agentId, 'uuid'],
    ['requested_model', inf.requestedModel],
    ['routing_mode', inf.routingMode],
    ['request_payload', JSON.stringify(storedRequest(o.request)), 'jsonb'],
    ['idempotency_key', inf.idempotencyKey],
    ['request_hash', inf.requestHash],
  ];
  const all = [...identity, ...cols];
  let sql = rowSql.get(false);
  if (sql === undefined) rowSql.set(false, (sql = `with row as (insert into inference (${all.map((c) => c[0]).join(', ')}) values (${all.map(placeholder).join(', ')}) returning id)`));
  return { sql, params: all.map((c) => c[1]) };
}

/**
 * The inference row (all four §16 fields) and its audit event are written by ONE statement
 * (appendWithRow), so they commit together or not at all, in a single round trip. A claimed
 * idempotency key turns its pending row into the final one.
 */
export async function persistDispatch(em: EntityManager, o: DispatchOutcome, claimed: boolean, metrics?: Metrics): Promise<InferenceRecord> {
  const inf = buildRecord(o);
  const { sql, params } = appendWithRow(inferenceRow(inf, o, claimed), {
    chain: o.tenantId,
    type: inf.status === InferenceStatus.SUCCEEDED ? 'inference.routed' : 'inference.failed',
    occurredAt: formatOccurredAt(inf.completedAt ?? new Date()),
    payload: auditPayload(o, inf),
  });
  const appended = metrics?.chainAppendDuration.startTimer();
  const rows = await query<{ seq: number }>(em, sql, params);
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
