import { ref } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../../db/sql.js';
import { transaction } from '../../db/transaction.js';
import { AppError, ErrorCode } from '../../shared/errors.js';
import type { CatalogSnapshot } from '../catalog/catalog.js';
import { type Viewer, requireAdmin } from '../tenancy/auth.js';
import { Tenant } from '../tenancy/tenant.entity.js';
import { User } from '../tenancy/user.entity.js';
import { RoutingPolicy } from './routing-policy.entity.js';
import { parseRuleset, policyVersion, type Ruleset, rulesetHash } from './sixteen.js';

/** What `RoutingPolicy` resolves to: a stored policy or the platform default. */
export interface PolicyView {
  id: string;
  policyVersion: string;
  rulesetHash: string;
  ruleset: Ruleset;
  active: boolean;
  isPlatformDefault: boolean;
  createdAt: Date;
}

/**
 * Applies while a tenant has published none. The simulator models come last in each route, so
 * an offline first run works, and a configured real provider is always preferred.
 */
export const PLATFORM_DEFAULT_RULESET: Ruleset = {
  rules: [
    { when: { taskTypes: ['code', 'reasoning'], bands: ['fast', 'tight'] }, route: ['claude-haiku-4-5', 'gpt-4.1-mini', 'sim-small'] },
    { when: { taskTypes: ['code', 'reasoning'] }, route: ['claude-sonnet-4-5', 'gpt-4.1', 'sim-large'] },
    { when: { bands: ['cheap', 'tight'] }, route: ['gpt-4.1-mini', 'claude-haiku-4-5', 'sim-small'] },
  ],
  fallback: ['claude-haiku-4-5', 'gpt-4.1-mini', 'sim-small'],
};

export const PLATFORM_DEFAULT_POLICY: PolicyView = Object.freeze({
  id: 'platform-default',
  policyVersion: policyVersion(PLATFORM_DEFAULT_RULESET),
  rulesetHash: rulesetHash(PLATFORM_DEFAULT_RULESET),
  ruleset: PLATFORM_DEFAULT_RULESET,
  active: true,
  isPlatformDefault: true,
  createdAt: new Date('2026-11-25T00:00:00.000Z'),
});

function toView(p: { id: string; policy_version: string; ruleset_hash: string; ruleset: Ruleset; active: boolean; created_at: Date }): PolicyView {
  return { id: p.id, policyVersion: p.policy_version, rulesetHash: p.ruleset_hash, ruleset: p.ruleset, active: p.active, isPlatformDefault: false, createdAt: new Date(p.created_at) };
}

/** The policy dispatches use now: the tenant's active one, else the platform default. */
export async function activePolicy(em: EntityManager, tenantId: string): Promise<PolicyView> {
  const [row] = await query<Parameters<typeof toView>[0]>(
    em,
    `/* activeRoutingPolicy */ select id, policy_version, ruleset_hash, ruleset, active, created_at from routing_policy where tenant_id = ? and active`,
    [tenantId],
  );
  return row ? toView(row) : PLATFORM_DEFAULT_POLICY;
}

/**
 * Each tenant's active policy, kept for a second per process: a dispatch then costs one
 * statement less. A publish through this process is seen at once (invalidate); one through
 * another process within `ttlMs`. The inference records the version it was actually routed by.
 */
export class PolicyCache {
  private readonly entries = new Map<string, { view: PolicyView; expires: number }>();

  constructor(private readonly ttlMs = 1000) {}

  async get(em: EntityManager, tenantId: string): Promise<PolicyView> {
    const hit = this.entries.get(tenantId);
    if (hit && hit.expires > performance.now()) return hit.view;
    const view = await activePolicy(em, tenantId);
    if (this.entries.size > 10_000) this.entries.clear();
    this.entries.set(tenantId, { view, expires: performance.now() + this.ttlMs });
    return view;
  }

  invalidate(tenantId: string): void {
    this.entries.delete(tenantId);
  }
}

/** Validate, store and activate a ruleset; the previous active policy is retired in the same transaction. */
export async function publishPolicy(em: EntityManager, viewer: Viewer, input: unknown, catalog: CatalogSnapshot): Promise<PolicyView> {
  requireAdmin(viewer);
  const parsed = parseRuleset(input, catalog.slugs());
  if (!parsed.ok) {
    throw new AppError(ErrorCode.BAD_USER_INPUT, `input.ruleset: ${parsed.problems.join('; ')}`, { field: 'input.ruleset', problems: parsed.problems });
  }
  const ruleset = parsed.ruleset;
  return transaction(em, async (tx) => {
    // Serialize publishes per tenant, so two concurrent publishes cannot both be active.
    await tx.execute(`/* lockTenantForPolicy */ select id from tenant where id = ? for update`, [viewer.tenantId]);
    await tx.execute(`/* retireActivePolicy */ update routing_policy set active = false where tenant_id = ? and active`, [viewer.tenantId]);
    const policy = new RoutingPolicy({
      tenant: ref(Tenant, viewer.tenantId),
      ruleset,
      rulesetHash: rulesetHash(ruleset),
      policyVersion: policyVersion(ruleset),
      createdBy: viewer.userId ? ref(User, viewer.userId) : null,
    });
    await tx.insert(policy);
    return { id: policy.id, policyVersion: policy.policyVersion, rulesetHash: policy.rulesetHash, ruleset, active: true, isPlatformDefault: false, createdAt: policy.createdAt };
  });
}
