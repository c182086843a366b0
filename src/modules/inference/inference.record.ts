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

/** The columns a record is read from, for `select ${RECORD_COLUMNS} from inference …` (times as ISO text). */
export const RECORD_COLUMNS = `id, ${isoUtc('created_at')}, tenant_id, agent_id, requested_model, routing_mode, model_id, status, output_text, input_tokens, output_tokens, cost_usd::text as cost_usd, latency_ms, provider_latency_ms, attempts, error, idempotency_key, request_hash, task_type, task_type_source, policy_version, cell, constraint_band, ${isoUtc('completed_at')}`;

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
    completedAt: r.completed_at === null ? null : new Date(r.completed_at),
  };
}
