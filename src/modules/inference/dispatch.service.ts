import { randomUUID } from 'node:crypto';
import type { DispatchInferenceInput } from '../../__generated__/resolvers-types.js';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Context } from '../../context.js';
import { type AttemptOutcome, ProviderError } from '../../providers/provider.js';
import { AppError, badInput, ErrorCode, forbidden } from '../../shared/errors.js';
import { observeClassification, observeProviderAttempt, timeDispatch } from '../../shared/metrics.js';
import type { CatalogModel } from '../catalog/catalog.js';
import { cell, compareDecimal, type ConstraintBand, constraintBand, costUsd, decimalFromNumber, estimateInputTokens, resolveTaskType, selectRoute, type TaskType, type TaskTypeSource, worstCaseCostUsd } from '../routing/sixteen.js';
import { requireDispatcher } from '../tenancy/auth.js';
import { AUTO_MODEL, type DispatchRequest, parseDispatchInput } from './dispatch.input.js';
import { claimIdempotencyKey, releaseClaim, upstreamUnavailable } from './idempotency.js';
import { InferenceStatus, RoutingMode } from './inference.entity.js';
import type { InferenceRecord } from './inference.record.js';
import { persistDispatch } from './inference.repository.js';
import { isUuid } from '../../shared/ids.js';

export interface AttemptRecord {
  model: string;
  provider: string;
  outcome: AttemptOutcome;
  latencyMs: number;
}

/** Everything decided about a dispatch before and while calling providers. */
export interface DispatchOutcome {
  id: string;
  createdAt: Date;
  tenantId: string;
  agentId: string;
  request: DispatchRequest;
  routingMode: RoutingMode;
  taskType: TaskType;
  taskTypeSource: TaskTypeSource;
  band: ConstraintBand;
  cell: string;
  policyVersion: string;
  attempts: AttemptRecord[];
  answered: { model: CatalogModel; text: string; inputTokens: number; outputTokens: number; costUsd: string; raw: unknown; latencyMs: number } | null;
  error: { code: string; message: string } | null;
  latencyMs: number;
}

/** DESIGN §4: authenticate, gate, classify, compute, choose, call, persist, return — timed for /metrics. */
export async function dispatch(ctx: Context, input: DispatchInferenceInput): Promise<{ inference: InferenceRecord; replayed: boolean }> {
  return timeDispatch(ctx.deps.metrics, input.model === AUTO_MODEL ? 'auto' : 'direct', () => runDispatch(ctx, input));
}

async function runDispatch(ctx: Context, input: DispatchInferenceInput): Promise<{ inference: InferenceRecord; replayed: boolean }> {
  const started = performance.now();
  const createdAt = new Date();
  // ctx.em forks an entity manager on first use: only the idempotency gate needs one.
  const { viewer, deps } = ctx;
  requireDispatcher(viewer);
  const request = parseDispatchInput(input);
  const agentId = await resolveAgent(ctx, request.agentId);
  const deadline = request.constraints.maxLatencyMs !== null ? started + request.constraints.maxLatencyMs : Number.POSITIVE_INFINITY;

  // Direct mode fails fast on an unknown model or an unconfigured provider: nothing is written.
  const routingMode = request.model === AUTO_MODEL ? RoutingMode.AUTO : RoutingMode.DIRECT;
  const direct = routingMode === RoutingMode.DIRECT ? directModel(ctx, request) : null;

  const id = randomUUID();
  let claimed = false;
  if (request.idempotencyKey !== null) {
    const gate = await claimIdempotencyKey(ctx.em, { id, tenantId: viewer.tenantId, agentId, request, routingMode, createdAt, leaseMs: deps.env.idempotencyLeaseMs });
    if (gate.kind === 'replay') return { inference: gate.inference, replayed: true };
    claimed = true;
  }
  try {
    const classification = request.taskType === null ? await deps.classifier.classify(request, { timeoutMs: remaining(deadline, deps.env.classifier?.timeoutMs ?? 1500) }) : null;
    if (classification) observeClassification(deps.metrics, classification);
    const { taskType, source } = resolveTaskType(request.taskType, classification?.label ?? null);
    const band = constraintBand(request.constraints);
    // One prepared statement on the pool when the cached policy has expired: no fork needed, as for authentication.
    const policy = await deps.policies.get(deps.orm.em as EntityManager, viewer.tenantId);
    const candidates = direct ? [direct] : autoCandidates(ctx, request, selectRoute(policy.ruleset, taskType, band).route);

    const outcome: DispatchOutcome = {
      id,
      createdAt,
      tenantId: viewer.tenantId,
      agentId,
      request,
      routingMode,
      taskType,
      taskTypeSource: source,
      band,
      cell: cell(taskType, band),
      policyVersion: policy.policyVersion,
      attempts: [],
      answered: null,
      error: null,
      latencyMs: 0,
    };
    await callProviders(ctx, outcome, candidates, deadline);
    outcome.latencyMs = Math.round(performance.now() - started);
    const inference = await persistDispatch(deps.chains, outcome, claimed, deps.metrics);
    if (inference.status === InferenceStatus.FAILED) throw upstreamUnavailable(inference);
    return { inference, replayed: false };
  } catch (err) {
    if (claimed && !(err instanceof AppError && err.extensions.code === ErrorCode.UPSTREAM_UNAVAILABLE)) await releaseClaim(ctx.em, id);
    throw err;
  }
}

async function resolveAgent(ctx: Context, requested: string | null): Promise<string> {
  const { viewer } = ctx;
  if (viewer.agentId !== null) {
    if (requested !== null && requested !== viewer.agentId) throw forbidden('An agent key dispatches as its own agent only.');
    return viewer.agentId;
  }
  if (requested === null) throw badInput('input.agentId', 'is required when dispatching with a user key.');
  const agent = isUuid(requested) ? await ctx.loaders.tenancy.agentById.load(requested) : null;
  if (!agent) throw badInput('input.agentId', 'no such agent.');
  return agent.id;
}

function remaining(deadline: number, cap: number): number {
  return Math.max(1, Math.min(cap, Math.floor(deadline - performance.now())));
}

function directModel(ctx: Context, request: DispatchRequest): CatalogModel {
  const model = ctx.deps.catalog.model(request.model);
  if (!model || !model.active) throw new AppError(ErrorCode.MODEL_NOT_FOUND, `input.model: unknown model "${request.model}"; use "${AUTO_MODEL}" or a slug from \`models\`.`, { field: 'input.model' });
  if (!ctx.deps.providers.isConfigured(model.providerSlug)) throw new AppError(ErrorCode.PROVIDER_NOT_CONFIGURED, `Provider "${model.providerSlug}" of model "${model.slug}" is not configured on this deployment.`);
  if (request.maxTokens > model.maxOutputTokens) throw badInput('input.maxTokens', `must be at most ${model.maxOutputTokens} for model "${model.slug}".`);
  return model;
}

/** The policy's route, less models that are unknown, unconfigured, too small or possibly too expensive. */
function autoCandidates(ctx: Context, request: DispatchRequest, route: string[]): CatalogModel[] {
  const estInput = estimateInputTokens(request.system, request.messages);
  const budget = request.constraints.maxCostUsd !== null ? decimalFromNumber(request.constraints.maxCostUsd) : null;
  const eligible = route
    .map((slug) => ctx.deps.catalog.model(slug))
    .filter((m): m is CatalogModel => !!m && m.active && ctx.deps.providers.isConfigured(m.providerSlug))
    .filter((m) => !request.maxTokensGiven || request.maxTokens <= m.maxOutputTokens)
    .filter((m) => budget === null || compareDecimal(worstCaseCostUsd(estInput, request.maxTokens, m.inputPricePerMTok, m.outputPricePerMTok), budget) <= 0);
  if (eligible.length === 0) {
    throw new AppError(ErrorCode.NO_ELIGIBLE_MODEL, `No model of the route [${route.join(', ')}] is configured and within the request's constraints.`);
  }
  return eligible;
}

/** Try candidates in order; auto mode moves on after a retryable failure, direct mode never substitutes. */
async function callProviders(ctx: Context, outcome: DispatchOutcome, candidates: CatalogModel[], deadline: number): Promise<void> {
  const { request } = outcome;
  const call = { system: request.system, messages: request.messages, maxTokens: request.maxTokens, temperature: request.temperature };
  // Within a millisecond of the deadline counts as past it: an attempt would only get a 1 ms timeout.
  const pastDeadline = () => deadline - performance.now() <= 1;
  for (const model of candidates) {
    if (pastDeadline()) {
      outcome.error = { code: ErrorCode.UPSTREAM_UNAVAILABLE, message: 'The dispatch deadline (maxLatencyMs) passed before a provider answered.' };
      return;
    }
    const adapter = ctx.deps.providers.get(model.providerSlug);
    const timeoutMs = Math.max(1, Math.min(ctx.deps.env.providerTimeoutMs, Math.floor(deadline - performance.now())));
    // The SDKs' own timeout stops at the response headers; this bounds a slowly trickled body too.
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    const t0 = performance.now();
    // One attempt's record and metrics, whatever its ending; its latency in whole ms.
    const attempted = (result: AttemptOutcome): number => {
      const ms = performance.now() - t0;
      outcome.attempts.push({ model: model.slug, provider: model.providerSlug, outcome: result, latencyMs: Math.round(ms) });
      observeProviderAttempt(ctx.deps.metrics, { provider: model.providerSlug, outcome: result, ms });
      return Math.round(ms);
    };
    try {
      if (!adapter) throw new ProviderError('client_error', `Provider "${model.providerSlug}" is not configured.`);
      const res = await adapter.complete({ ...call, upstreamModel: model.upstreamName }, { timeoutMs, signal: abort.signal });
      const latencyMs = attempted('succeeded');
      outcome.answered = { model, text: res.text, inputTokens: res.inputTokens, outputTokens: res.outputTokens, costUsd: costUsd(res.inputTokens, res.outputTokens, model.inputPricePerMTok, model.outputPricePerMTok), raw: res.raw, latencyMs };
      return;
    } catch (err) {
      let e = err instanceof ProviderError ? err : new ProviderError('bad_response', 'The provider sent an unreadable response.');
      if (abort.signal.aborted || e.outcome === 'timeout') {
        const byDeadline = pastDeadline();
        e = new ProviderError(byDeadline ? 'deadline_exceeded' : 'timeout', byDeadline ? 'The dispatch deadline (maxLatencyMs) passed.' : 'The provider did not answer in time.');
      }
      attempted(e.outcome);
      outcome.error = { code: ErrorCode.UPSTREAM_UNAVAILABLE, message: `${model.slug}: ${e.message}` };
      // The deadline is the whole dispatch's: once it has passed, no candidate is left to try.
      if (outcome.routingMode === RoutingMode.DIRECT || !e.retryable || e.outcome === 'deadline_exceeded') return;
    } finally {
      clearTimeout(timer);
    }
  }
}
