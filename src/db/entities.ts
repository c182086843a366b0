import { AuditChainHead } from '../modules/audit/audit-chain-head.entity.js';
import { AuditEvent } from '../modules/audit/audit-event.entity.js';
import { Model } from '../modules/catalog/model.entity.js';
import { Provider } from '../modules/catalog/provider.entity.js';
import { CellCoverageDay, CellCoverageTotal, PolicyVersionDay } from '../modules/coverage/coverage-rollup.entity.js';
import { Inference } from '../modules/inference/inference.entity.js';
import { RoutingPolicy } from '../modules/routing/routing-policy.entity.js';
import { Agent } from '../modules/tenancy/agent.entity.js';
import { ApiKey } from '../modules/tenancy/api-key.entity.js';
import { Tenant } from '../modules/tenancy/tenant.entity.js';
import { User } from '../modules/tenancy/user.entity.js';
import { BaseEntity } from '../shared/base.entity.js';

/** Every entity, listed explicitly: no folder scanning, so tsx, vitest and tsc see the same set. */
export const entities = [BaseEntity, Tenant, User, Agent, ApiKey, Provider, Model, RoutingPolicy, Inference, AuditEvent, AuditChainHead, CellCoverageTotal, CellCoverageDay, PolicyVersionDay];
