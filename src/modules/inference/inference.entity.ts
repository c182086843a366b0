import { Entity, Enum, Index, ManyToOne, type Opt, Property, type Ref, Unique } from '@mikro-orm/core';
import { BaseEntity } from '../../shared/base.entity.js';
import { Model } from '../catalog/model.entity.js';
import { Agent } from '../tenancy/agent.entity.js';
import { Tenant } from '../tenancy/tenant.entity.js';
import { CONSTRAINT_BANDS, type ConstraintBand, TASK_TYPE_SOURCES, TASK_TYPES, type TaskType, type TaskTypeSource } from '../routing/sixteen.js';

export enum InferenceStatus {
  PENDING = 'pending',
  SUCCEEDED = 'succeeded',
  FAILED = 'failed',
}

export enum RoutingMode {
  AUTO = 'auto',
  DIRECT = 'direct',
}

/** One dispatched call, from request to answer (or failure). */
@Entity({ tableName: 'inference' })
@Index({ name: 'inference_tenant_created_idx', properties: ['tenant', 'createdAt', 'id'] })
@Index({ name: 'inference_agent_created_idx', properties: ['agent', 'createdAt'] })
@Index({
  name: 'inference_task_type_idx',
  expression: 'create index "inference_task_type_idx" on "inference" ("task_type") where "task_type" is not null',
})
@Index({
  name: 'inference_policy_version_idx',
  expression: 'create index "inference_policy_version_idx" on "inference" ("policy_version", "created_at") where "policy_version" is not null',
})
// Coverage reads the partial first day of a `since` window raw, index-only (coverage.service.ts).
@Index({
  name: 'inference_coverage_idx',
  expression: 'create index "inference_coverage_idx" on "inference" ("agent_id", "created_at") include ("cell", "policy_version") where "cell" is not null',
})
// One owner per idempotency key (idempotency.ts); only rows with a key are in it.
@Unique({
  name: 'inference_idempotency_key_unique',
  expression: 'create unique index "inference_idempotency_key_unique" on "inference" ("tenant_id", "agent_id", "idempotency_key") where "idempotency_key" is not null',
})
export class Inference extends BaseEntity {
  @ManyToOne({ entity: () => Tenant, ref: true, deleteRule: 'cascade' })
  tenant: Ref<Tenant>;

  @ManyToOne({ entity: () => Agent, ref: true })
  agent: Ref<Agent>;

  @Property({ type: 'text' })
  requestedModel: string;

  @Enum({ items: () => RoutingMode, type: 'text' })
  routingMode: RoutingMode;

  /** The model that actually answered; null when none did. */
  @ManyToOne({ entity: () => Model, ref: true, nullable: true, index: true })
  model: Ref<Model> | null = null;

  @Enum({ items: () => InferenceStatus, type: 'text' })
  status: InferenceStatus & Opt = InferenceStatus.PENDING;

  @Property({ type: 'json' })
  requestPayload: unknown;

  @Property({ type: 'json', nullable: true, lazy: true })
  responsePayload: unknown = null;

  @Property({ type: 'text', nullable: true })
  outputText: string | null = null;

  @Property({ type: 'integer', nullable: true })
  inputTokens: number | null = null;

  @Property({ type: 'integer', nullable: true })
  outputTokens: number | null = null;

  @Property({ type: 'decimal', precision: 20, scale: 12, nullable: true })
  costUsd: string | null = null;

  /** Wall time of the whole dispatch, and of the provider call that answered. */
  @Property({ type: 'integer', nullable: true })
  latencyMs: number | null = null;

  @Property({ type: 'integer', nullable: true })
  providerLatencyMs: number | null = null;

  @Property({ type: 'json', nullable: true })
  attempts: unknown = null;

  @Property({ type: 'json', nullable: true })
  error: { code: string; message: string } | null = null;

  @Property({ type: 'text', nullable: true })
  idempotencyKey: string | null = null;

  @Property({ type: 'text' })
  requestHash: string;

  /** While pending: when a crashed owner's claim on the idempotency key lapses. */
  @Property({ type: 'datetime', columnType: 'timestamptz(3)', nullable: true })
  leaseExpiresAt: Date | null = null;

  // §16 fields (methodology v1.1), added by the §16 schema lock migration. Null on pre-§16 rows
  // forever: those are permanent gaps, never backfilled.

  @Enum({ items: [...TASK_TYPES], nativeEnumName: 'inference_task_type', nullable: true })
  taskType: TaskType | null = null;

  @Enum({ items: [...TASK_TYPE_SOURCES], nativeEnumName: 'inference_task_type_source', nullable: true })
  taskTypeSource: TaskTypeSource | null = null;

  @Property({ type: 'text', nullable: true })
  policyVersion: string | null = null;

  @Property({ type: 'text', nullable: true })
  cell: string | null = null;

  @Enum({ items: [...CONSTRAINT_BANDS], type: 'text', nullable: true })
  constraintBand: ConstraintBand | null = null;

  @Property({ type: 'datetime', columnType: 'timestamptz(3)', nullable: true })
  completedAt: Date | null = null;

  constructor(init: { tenant: Ref<Tenant>; agent: Ref<Agent>; requestedModel: string; routingMode: RoutingMode; requestPayload: unknown; requestHash: string }) {
    super();
    this.tenant = init.tenant;
    this.agent = init.agent;
    this.requestedModel = init.requestedModel;
    this.routingMode = init.routingMode;
    this.requestPayload = init.requestPayload;
    this.requestHash = init.requestHash;
  }
}
