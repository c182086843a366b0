import { ref } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { AppError, ErrorCode } from '../../shared/errors.js';
import type { Metrics } from '../../shared/metrics.js';
import { appendAuditEvent } from '../audit/audit.service.js';
import { formatOccurredAt } from '../audit/envelope.js';
import { Model } from '../catalog/model.entity.js';
import { Agent } from '../tenancy/agent.entity.js';
import { Tenant } from '../tenancy/tenant.entity.js';
import { storedRequest } from './dispatch.input.js';
import type { DispatchOutcome } from './dispatch.service.js';
import { Inference, InferenceStatus } from './inference.entity.js';

/** The finished inference as an entity, from what the dispatch decided. */
function buildInference(o: DispatchOutcome): Inference {
  const inf = new Inference({
    tenant: ref(Tenant, o.tenantId),
    agent: ref(Agent, o.agentId),
    requestedModel: o.request.model,
    routingMode: o.routingMode,
    requestPayload: storedRequest(o.request),
    requestHash: o.request.requestHash,
  });
  inf.id = o.id;
  inf.createdAt = o.createdAt;
  inf.idempotencyKey = o.request.idempotencyKey;
  inf.status = o.answered ? InferenceStatus.SUCCEEDED : InferenceStatus.FAILED;
  inf.model = o.answered ? ref(Model, o.answered.model.id) : null;
  inf.responsePayload = o.answered?.raw ?? null;
  inf.outputText = o.answered?.text ?? null;
  inf.inputTokens = o.answered?.inputTokens ?? null;
  inf.outputTokens = o.answered?.outputTokens ?? null;
  inf.costUsd = o.answered?.costUsd ?? null;
  inf.latencyMs = o.latencyMs;
  inf.providerLatencyMs = o.answered?.latencyMs ?? null;
  inf.attempts = o.attempts;
  inf.error = o.answered ? null : (o.error ?? { code: ErrorCode.UPSTREAM_UNAVAILABLE, message: 'No provider answered.' });
  inf.taskType = o.taskType;
  inf.taskTypeSource = o.taskTypeSource;
  inf.policyVersion = o.policyVersion;
  inf.cell = o.cell;
  inf.constraintBand = o.band;
  inf.completedAt = new Date();
  return inf;
}

/** What a claimed (pending) row gains when the dispatch finishes. */
function finalColumns(inf: Inference) {
  return {
    status: inf.status,
    model: inf.model,
    responsePayload: inf.responsePayload,
    outputText: inf.outputText,
    inputTokens: inf.inputTokens,
    outputTokens: inf.outputTokens,
    costUsd: inf.costUsd,
    latencyMs: inf.latencyMs,
    providerLatencyMs: inf.providerLatencyMs,
    attempts: inf.attempts,
    error: inf.error,
    taskType: inf.taskType,
    taskTypeSource: inf.taskTypeSource,
    policyVersion: inf.policyVersion,
    cell: inf.cell,
    constraintBand: inf.constraintBand,
    completedAt: inf.completedAt,
    leaseExpiresAt: null,
  };
}

/** The audit payload: the §16 fields and every attempt; no prompt text (the request hash stands for it), no secrets. */
function auditPayload(o: DispatchOutcome, inf: Inference): Record<string, unknown> {
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

/**
 * The inference row (all four §16 fields) and its audit event commit in one transaction, or
 * neither does. A claimed idempotency key turns the pending row into the final one.
 */
export async function persistDispatch(em: EntityManager, o: DispatchOutcome, claimed: boolean, metrics?: Metrics): Promise<Inference> {
  const inf = buildInference(o);
  await em.transactional(async (tx) => {
    if (claimed) {
      const updated = await tx.nativeUpdate(Inference, { id: o.id, status: InferenceStatus.PENDING }, finalColumns(inf));
      if (updated !== 1) throw new AppError(ErrorCode.IDEMPOTENCY_IN_PROGRESS, 'Another request took over this idempotency key; retry to read its result.', { retryable: true });
    } else {
      await tx.insert(inf);
    }
    const appended = metrics?.chainAppendDuration.startTimer();
    await appendAuditEvent(tx, {
      chain: o.tenantId,
      type: inf.status === InferenceStatus.SUCCEEDED ? 'inference.routed' : 'inference.failed',
      occurredAt: formatOccurredAt(inf.completedAt ?? new Date()),
      payload: auditPayload(o, inf),
    });
    appended?.();
  });
  return inf;
}

/** One inference of a tenant; another tenant's looks absent. */
export async function findInference(em: EntityManager, tenantId: string, id: string): Promise<Inference | null> {
  return em.findOne(Inference, { id, tenant: tenantId }, { exclude: ['requestPayload'] as never });
}
