import type { EntityManager } from '@mikro-orm/postgresql';
import { AppError, ErrorCode } from '../../shared/errors.js';
import { type DispatchRequest, storedRequest } from './dispatch.input.js';
import { query } from '../../db/sql.js';
import { InferenceStatus, type RoutingMode } from './inference.entity.js';
import { type InferenceRecord, type InferenceRow, RECORD_COLUMNS, recordFromRow } from './inference.record.js';

/** A failed inference surfaces as UPSTREAM_UNAVAILABLE, carrying its id (also on replay). */
export function upstreamUnavailable(inference: InferenceRecord, replayed = false): AppError {
  return new AppError(ErrorCode.UPSTREAM_UNAVAILABLE, inference.error?.message ?? 'No provider could answer.', { inferenceId: inference.id, ...(replayed ? { replayed: true } : {}) });
}

export type GateResult = { kind: 'claimed' } | { kind: 'replay'; inference: InferenceRecord };

/**
 * DESIGN §4 step 2. The unique (tenant, agent, key) index decides who owns a key, so
 * concurrent requests across any number of processes make exactly one provider call.
 */
export async function claimIdempotencyKey(
  em: EntityManager,
  c: { id: string; tenantId: string; agentId: string; request: DispatchRequest; routingMode: RoutingMode; createdAt: Date; /** IDEMPOTENCY_LEASE_MS: how long the claim holds the key, so a crashed owner never blocks it forever. */ leaseMs: number },
): Promise<GateResult> {
  const key = c.request.idempotencyKey;
  const { leaseMs } = c;
  const inserted = await em.execute<{ id: string }[]>(
    `/* claimIdempotencyKey */ insert into inference (id, created_at, tenant_id, agent_id, requested_model, routing_mode, status, request_payload, request_hash, idempotency_key, lease_expires_at)
     values (?, ?, ?, ?, ?, ?, 'pending', ?::jsonb, ?, ?, ?)
     on conflict (tenant_id, agent_id, idempotency_key) where idempotency_key is not null do nothing returning id`,
    [c.id, c.createdAt, c.tenantId, c.agentId, c.request.model, c.routingMode, JSON.stringify(storedRequest(c.request)), c.request.requestHash, key, new Date(Date.now() + leaseMs)],
  );
  if (inserted.length === 1) return { kind: 'claimed' };

  const [row] = await query<InferenceRow>(
    em,
    `/* findIdempotentInference */ select ${RECORD_COLUMNS} from inference where tenant_id = ? and agent_id = ? and idempotency_key = ?`,
    [c.tenantId, c.agentId, key],
  );
  const existing = row ? recordFromRow(row) : null;
  if (!existing) throw new AppError(ErrorCode.IDEMPOTENCY_IN_PROGRESS, 'The first request with this idempotency key is still running; retry shortly.', { retryable: true });
  if (existing.requestHash !== c.request.requestHash) {
    throw new AppError(ErrorCode.IDEMPOTENCY_KEY_REUSED, 'This idempotency key was already used with a different request.', { field: 'input.idempotencyKey' });
  }
  if (existing.status === InferenceStatus.SUCCEEDED) return { kind: 'replay', inference: existing };
  if (existing.status === InferenceStatus.FAILED) throw upstreamUnavailable(existing, true);

  // Pending: still running, or left by a crash. Take it over only once its lease has lapsed.
  const taken = await em.execute<{ id: string }[]>(
    `/* takeOverStaleClaim */ update inference set id = ?, created_at = ?, lease_expires_at = ? where id = ? and status = 'pending' and lease_expires_at < now() returning id`,
    [c.id, c.createdAt, new Date(Date.now() + leaseMs), existing.id],
  );
  if (taken.length === 1) return { kind: 'claimed' };
  throw new AppError(ErrorCode.IDEMPOTENCY_IN_PROGRESS, 'The first request with this idempotency key is still running; retry shortly.', { retryable: true });
}

/** Give the key back when the dispatch ends before anything was recorded (bad route, crash of a step). */
export async function releaseClaim(em: EntityManager, id: string): Promise<void> {
  await em.execute(`/* releaseIdempotencyClaim */ delete from inference where id = ? and status = 'pending'`, [id]);
}
