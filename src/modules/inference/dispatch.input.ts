import type { DispatchInferenceInput } from '../../__generated__/resolvers-types.js';
import { badInput } from '../../shared/errors.js';
import { jcs, jcsHash } from '../../shared/hashing.js';
import type { TaskType } from '../routing/sixteen.js';

export const AUTO_MODEL = 'ainfera-auto';
export const DEFAULT_MAX_TOKENS = 1024;
export const LIMITS = {
  messages: 256,
  contentChars: 200_000,
  systemChars: 200_000,
  maxTokens: 64_000,
  idempotencyKeyChars: 255,
  metadataBytes: 16 * 1024,
  metadataDepth: 32,
  maxLatencyMs: 600_000,
} as const;

/** A validated dispatch request; the same shape is stored as the inference's request_payload. */
export interface DispatchRequest {
  model: string;
  messages: Array<{ role: 'user' | 'assistant'; content: string }>;
  system: string | null;
  maxTokens: number;
  maxTokensGiven: boolean;
  temperature: number | null;
  taskType: TaskType | null;
  constraints: { maxLatencyMs: number | null; maxCostUsd: number | null };
  idempotencyKey: string | null;
  agentId: string | null;
  metadata: unknown;
  /** SHA-256 of the JCS form of the input without idempotencyKey (nulls dropped). */
  requestHash: string;
}

const PRINTABLE = /^[\x21-\x7e]+$/;
/** PostgreSQL text and jsonb cannot hold NUL, and jsonb refuses unpaired UTF-16 surrogates. */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** How deep a JSON value nests, counted without recursion (a deep enough value would overflow the stack). */
function jsonDepth(value: unknown): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    max = Math.max(max, depth + 1);
    for (const item of Array.isArray(v) ? v : Object.values(v)) stack.push([item, depth + 1]);
  }
  return max;
}

/** Refuse text the database cannot store up front, rather than fail after the provider was paid. */
function requireStorable(field: string, value: unknown): void {
  const stack = [value];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (UNSTORABLE.test(v)) throw badInput(field, 'must not contain NUL characters or unpaired UTF-16 surrogates.');
    } else if (Array.isArray(v)) stack.push(...v);
    else if (v && typeof v === 'object') for (const [k, item] of Object.entries(v)) stack.push(k, item);
  }
}

/** Check every bound, naming the field at fault; nothing is written before this passes. */
export function parseDispatchInput(input: DispatchInferenceInput): DispatchRequest {
  if (typeof input.model !== 'string' || input.model.trim() === '') throw badInput('input.model', 'must be "ainfera-auto" or a model slug.');
  if (input.messages.length < 1 || input.messages.length > LIMITS.messages) throw badInput('input.messages', `must hold 1 to ${LIMITS.messages} messages.`);
  requireStorable('input.model', input.model);
  input.messages.forEach((m, i) => {
    if (m.content.length > LIMITS.contentChars) throw badInput(`input.messages[${i}].content`, `must be at most ${LIMITS.contentChars} characters.`);
    requireStorable(`input.messages[${i}].content`, m.content);
  });
  if (input.system != null && input.system.length > LIMITS.systemChars) throw badInput('input.system', `must be at most ${LIMITS.systemChars} characters.`);
  requireStorable('input.system', input.system);
  requireStorable('input.agentId', input.agentId);
  if (input.maxTokens != null && (input.maxTokens < 1 || input.maxTokens > LIMITS.maxTokens)) throw badInput('input.maxTokens', `must be between 1 and ${LIMITS.maxTokens}.`);
  if (input.temperature != null && !(input.temperature >= 0 && input.temperature <= 2)) throw badInput('input.temperature', 'must be between 0 and 2.');
  const c = input.constraints;
  if (c?.maxLatencyMs != null && (c.maxLatencyMs < 1 || c.maxLatencyMs > LIMITS.maxLatencyMs)) throw badInput('input.constraints.maxLatencyMs', `must be between 1 and ${LIMITS.maxLatencyMs}.`);
  if (c?.maxCostUsd != null && !(Number.isFinite(c.maxCostUsd) && c.maxCostUsd >= 0)) throw badInput('input.constraints.maxCostUsd', 'must be a non-negative number.');
  if (input.idempotencyKey != null && (input.idempotencyKey.length < 1 || input.idempotencyKey.length > LIMITS.idempotencyKeyChars || !PRINTABLE.test(input.idempotencyKey))) {
    throw badInput('input.idempotencyKey', `must be 1 to ${LIMITS.idempotencyKeyChars} printable ASCII characters without spaces.`);
  }
  if (input.metadata !== undefined && input.metadata !== null) {
    // Before anything recursive (canonical JSON, the request hash) walks it.
    if (jsonDepth(input.metadata) > LIMITS.metadataDepth) throw badInput('input.metadata', `must nest at most ${LIMITS.metadataDepth} levels deep.`);
    let size: number;
    try {
      size = Buffer.byteLength(jcs(input.metadata));
    } catch {
      throw badInput('input.metadata', 'must be plain JSON.');
    }
    if (size > LIMITS.metadataBytes) throw badInput('input.metadata', `must be at most ${LIMITS.metadataBytes} bytes of JSON.`);
    requireStorable('input.metadata', input.metadata);
  }

  const messages = input.messages.map((m) => ({ role: m.role as 'user' | 'assistant', content: m.content }));
  const request = {
    model: input.model,
    messages,
    system: input.system ?? null,
    maxTokens: input.maxTokens ?? null,
    temperature: input.temperature ?? null,
    taskType: (input.taskType as TaskType | null | undefined) ?? null,
    constraints: { maxLatencyMs: c?.maxLatencyMs ?? null, maxCostUsd: c?.maxCostUsd ?? null },
    agentId: input.agentId ?? null,
    metadata: input.metadata ?? null,
  };
  return {
    ...request,
    maxTokens: request.maxTokens ?? DEFAULT_MAX_TOKENS,
    maxTokensGiven: request.maxTokens !== null,
    idempotencyKey: input.idempotencyKey ?? null,
    requestHash: jcsHash(dropNulls(request)),
  };
}

/** An absent field and an explicit null mean the same request, so they fingerprint the same. */
function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (value && typeof value === 'object') {
    // No prototype, so a "__proto__" key in metadata is assigned as a key, never as a prototype.
    const out: Record<string, unknown> = Object.create(null);
    for (const k of Object.keys(value)) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== null && v !== undefined) out[k] = dropNulls(v);
    }
    return out;
  }
  return value;
}

/** The request as stored on the row (prompt included; the audit log carries only the hash). */
export function storedRequest(r: DispatchRequest): Record<string, unknown> {
  return {
    model: r.model,
    messages: r.messages,
    system: r.system,
    maxTokens: r.maxTokens,
    temperature: r.temperature,
    taskType: r.taskType,
    constraints: r.constraints,
    idempotencyKey: r.idempotencyKey,
    agentId: r.agentId,
    metadata: r.metadata,
  };
}
