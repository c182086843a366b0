import { isoUtc } from '../../db/sql.js';
import type { ConstraintBand, TaskType, TaskTypeSource } from '../routing/sixteen.js';
import type { InferenceStatus, RoutingMode } from './inference.entity.js';

/**
 * An inference as the API serves it: plain values, read from a row or built from a finished
 * dispatch — no ORM entity, no identity map, no request or response payload. (The `Inference`
 * entity still defines the table; hydrating a page of them cost most of a read's CPU.)
 */
export interface InferenceRecord {
  id: string;
  createdAt: Date;
  tenantId: string;
  agentId: string;
  requestedModel: string;
  routingMode: RoutingMode;
  modelId: string | null;
  status: InferenceStatus;
  outputText: string | null;
  inputTokens: number | null;
  outputTokens: number | null;
  costUsd: string | null;
  latencyMs: number | null;
  providerLatencyMs: number | null;
  attempts: unknown;
  error: { code: string; message: string } | null;
  idempotencyKey: string | null;
  requestHash: string;
  taskType: TaskType | null;
  taskTypeSource: TaskTypeSource | null;
  policyVersion: string | null;
  cell: string | null;
  constraintBand: ConstraintBand | null;
  completedAt: Date | null;
}

/** Each column a record is read from, as it is selected (times as ISO text, money as exact text), in one fixed order. */
const COLUMN_SQL = {
  id: 'id',
  created_at: isoUtc('created_at'),
  tenant_id: 'tenant_id',
  agent_id: 'agent_id',
  requested_model: 'requested_model',
  routing_mode: 'routing_mode',
  model_id: 'model_id',
  status: 'status',
  output_text: 'output_text',
  input_tokens: 'input_tokens',
  output_tokens: 'output_tokens',
  cost_usd: 'cost_usd::text as cost_usd',
  latency_ms: 'latency_ms',
  provider_latency_ms: 'provider_latency_ms',
  attempts: 'attempts',
  error: 'error',
  idempotency_key: 'idempotency_key',
  request_hash: 'request_hash',
  task_type: 'task_type',
  task_type_source: 'task_type_source',
  policy_version: 'policy_version',
  cell: 'cell',
  constraint_band: 'constraint_band',
  completed_at: isoUtc('completed_at'),
} as const satisfies Record<keyof InferenceRow, string>;

type Column = keyof typeof COLUMN_SQL;
const ALL = Object.keys(COLUMN_SQL) as Column[];

/** Every column of a record, for `select ${RECORD_COLUMNS} from inference …`. */
export const RECORD_COLUMNS = ALL.map((c) => COLUMN_SQL[c]).join(', ');

/**
 * The columns each GraphQL `Inference` field reads (its resolver included). A page selects only
 * the columns of the fields its query asks for — plus id and created_at, which order the page
 * and make its cursors — so a dashboard listing ids and models does not fetch and decode every
 * output text. A field not listed here reads every column.
 */
const FIELD_COLUMNS: Record<string, readonly Column[]> = {
  __typename: [],
  id: [],
  createdAt: [],
  status: ['status'],
  requestedModel: ['requested_model'],
  routingMode: ['routing_mode'],
  model: ['model_id'],
  provider: ['model_id'],
  agent: ['agent_id'],
  taskType: ['task_type'],
  taskTypeSource: ['task_type_source'],
  policyVersion: ['policy_version'],
  cell: ['cell'],
  constraintBand: ['constraint_band'],
  outputText: ['output_text'],
  usage: ['input_tokens', 'output_tokens'],
  costUsd: ['cost_usd'],
  latencyMs: ['latency_ms'],
  attempts: ['attempts'],
  error: ['error'],
};

/** The select list for records that answer `fields` (GraphQL field names of `Inference`), in the fixed column order. */
export function recordColumnsFor(fields: Iterable<string>): string {
  const wanted = new Set<Column>(['id', 'created_at']);
  for (const field of fields) {
    const columns = FIELD_COLUMNS[field];
    if (!columns) return RECORD_COLUMNS;
    for (const c of columns) wanted.add(c);
  }
  return ALL.filter((c) => wanted.has(c)).map((c) => COLUMN_SQL[c]).join(', ');
}

export interface InferenceRow {
  id: string;
  created_at: string;
  tenant_id: string;
  agent_id: string;
  requested_model: string;
  routing_mode: RoutingMode;
  model_id: string | null;
  status: InferenceStatus;
  output_text: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  cost_usd: string | null;
  latency_ms: number | null;
  provider_latency_ms: number | null;
  attempts: unknown;
  error: { code: string; message: string } | null;
  idempotency_key: string | null;
  request_hash: string;
  task_type: TaskType | null;
  task_type_source: TaskTypeSource | null;
  policy_version: string | null;
  cell: string | null;
  constraint_band: ConstraintBand | null;
  completed_at: string | null;
}

/** A record from a row; a page's rows may lack the columns its query did not ask for (recordColumnsFor), left undefined. */
export function recordFromRow(r: InferenceRow): InferenceRecord {
  return {
    id: r.id,
    createdAt: new Date(r.created_at),
    tenantId: r.tenant_id,
    agentId: r.agent_id,
    requestedModel: r.requested_model,
    routingMode: r.routing_mode,
    modelId: r.model_id,
    status: r.status,
    outputText: r.output_text,
    inputTokens: r.input_tokens,
    outputTokens: r.output_tokens,
    costUsd: r.cost_usd,
    latencyMs: r.latency_ms,
    providerLatencyMs: r.provider_latency_ms,
    attempts: r.attempts,
    error: r.error,
    idempotencyKey: r.idempotency_key,
    requestHash: r.request_hash,
    taskType: r.task_type,
    taskTypeSource: r.task_type_source,
    policyVersion: r.policy_version,
    cell: r.cell,
    constraintBand: r.constraint_band,
    // Absent (undefined) when the page did not select it; null when the row has none.
    completedAt: r.completed_at == null ? null : new Date(r.completed_at),
  };
}
