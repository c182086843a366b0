import { ref } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Agent } from './agent.entity.js';
import { ApiKey, ApiKeyRole } from './api-key.entity.js';
import { generateApiKey } from './auth.js';
import { Tenant } from './tenant.entity.js';
import { HANDLE_PATTERN, User } from './user.entity.js';

const SLUG_PATTERN = /^[a-z0-9][a-z0-9-]{1,62}$/;

export class TenancyError extends Error {}

/** The shape of demo-keys.json and of `admin create-tenant` (DESIGN §7). */
export interface TenantKeys {
  tenant: string;
  tenantId: string;
  userHandle: string;
  userId: string;
  agentId: string;
  userKey: string;
  agentKey: string;
}

function issueKey(em: EntityManager, init: { tenantId: string; role: ApiKeyRole; userId?: string; agentId?: string; label?: string }): string {
  const key = generateApiKey();
  em.persist(
    new ApiKey({
      tenant: ref(Tenant, init.tenantId),
      role: init.role,
      prefix: key.prefix,
      secretHash: key.hash,
      user: init.userId ? ref(User, init.userId) : undefined,
      agent: init.agentId ? ref(Agent, init.agentId) : undefined,
      label: init.label,
    }),
  );
  return key.secret;
}

/** A tenant, its owner (admin key) and one agent (agent key), in one transaction. */
export async function createTenant(em: EntityManager, input: { slug: string; ownerHandle: string; name?: string; agentName?: string }): Promise<TenantKeys> {
  const slug = input.slug.toLowerCase();
  const handle = input.ownerHandle.toLowerCase();
  if (!SLUG_PATTERN.test(slug)) throw new TenancyError(`--slug: "${input.slug}" must be 2–63 characters of a-z, 0-9 and "-", starting with a letter or digit.`);
  if (!HANDLE_PATTERN.test(handle)) throw new TenancyError(`--owner: "${input.ownerHandle}" must be 2–39 characters of a-z, 0-9 and "-", starting with a letter or digit.`);
  return em.transactional(async (tx) => {
    if (await tx.count(Tenant, { slug })) throw new TenancyError(`A tenant with slug "${slug}" already exists.`);
    if (await tx.count(User, { handle })) throw new TenancyError(`The handle "${handle}" is taken.`);
    const tenant = new Tenant(slug, input.name ?? slug);
    const user = new User(ref(tenant), handle);
    const agent = new Agent(ref(tenant), ref(user), input.agentName ?? `${handle}-agent`);
    tx.persist([tenant, user, agent]);
    const userKey = issueKey(tx, { tenantId: tenant.id, role: ApiKeyRole.ADMIN, userId: user.id, label: 'owner' });
    const agentKey = issueKey(tx, { tenantId: tenant.id, role: ApiKeyRole.AGENT, agentId: agent.id, label: 'agent' });
    await tx.flush();
    return { tenant: slug, tenantId: tenant.id, userHandle: handle, userId: user.id, agentId: agent.id, userKey, agentKey };
  });
}
