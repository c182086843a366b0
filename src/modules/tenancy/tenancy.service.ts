import { ref, UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { transaction } from '../../db/transaction.js';
import { isUuid } from '../../shared/ids.js';
import { Agent } from './agent.entity.js';
import { ApiKey, ApiKeyRole } from './api-key.entity.js';
import { generateApiKey } from './auth.js';
import { Tenant } from './tenant.entity.js';
import { HANDLE_PATTERN, User } from './user.entity.js';

const SLUG_PATTERN = /^[a-z0-9][a-z0-9-]{1,62}$/;

export class TenancyError extends Error {}

/** A key just issued: its secret is shown this once, only its hash is stored. */
interface IssuedKey {
  keyId: string;
  keyPrefix: string;
  role: ApiKeyRole;
  secret: string;
}

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

async function issueKey(tx: EntityManager, init: { tenantId: string; role: ApiKeyRole; userId?: string; agentId?: string; label?: string }): Promise<IssuedKey> {
  const key = generateApiKey();
  const apiKey = new ApiKey({
    tenant: ref(Tenant, init.tenantId),
    role: init.role,
    prefix: key.prefix,
    secretHash: key.hash,
    user: init.userId ? ref(User, init.userId) : undefined,
    agent: init.agentId ? ref(Agent, init.agentId) : undefined,
    label: init.label,
  });
  await tx.insert(apiKey);
  return { keyId: apiKey.id, keyPrefix: key.prefix, role: init.role, secret: key.secret };
}

/** A tenant, its owner (admin key) and one agent (agent key), in one transaction. */
export async function createTenant(em: EntityManager, input: { slug: string; ownerHandle: string; name?: string; agentName?: string }): Promise<TenantKeys> {
  const slug = input.slug.toLowerCase();
  const handle = input.ownerHandle.toLowerCase();
  if (!SLUG_PATTERN.test(slug)) throw new TenancyError(`--slug: "${input.slug}" must be 2–63 characters of a-z, 0-9 and "-", starting with a letter or digit.`);
  if (!HANDLE_PATTERN.test(handle)) throw new TenancyError(`--owner: "${input.ownerHandle}" must be 2–39 characters of a-z, 0-9 and "-", starting with a letter or digit.`);
  return transaction(em, async (tx) => {
    if (await tx.count(Tenant, { slug })) throw new TenancyError(`A tenant with slug "${slug}" already exists.`);
    if (await tx.count(User, { handle })) throw new TenancyError(`The handle "${handle}" is taken.`);
    const tenant = new Tenant(slug, input.name ?? slug);
    const user = new User(ref(tenant), handle);
    const agent = new Agent(ref(tenant), ref(user), input.agentName ?? `${handle}-agent`);
    for (const row of [tenant, user, agent]) await tx.insert(row);
    const userKey = (await issueKey(tx, { tenantId: tenant.id, role: ApiKeyRole.ADMIN, userId: user.id, label: 'owner' })).secret;
    const agentKey = (await issueKey(tx, { tenantId: tenant.id, role: ApiKeyRole.AGENT, agentId: agent.id, label: 'agent' })).secret;
    return { tenant: slug, tenantId: tenant.id, userHandle: handle, userId: user.id, agentId: agent.id, userKey, agentKey };
  });
}

export interface UserKeys {
  tenant: string;
  tenantId: string;
  userHandle: string;
  userId: string;
  role: ApiKeyRole;
  keyId: string;
  keyPrefix: string;
  userKey: string;
}

export interface AgentKeys {
  tenant: string;
  tenantId: string;
  agentId: string;
  agentName: string;
  ownerHandle: string;
  keyId: string;
  keyPrefix: string;
  agentKey: string;
}

export interface NewKey {
  tenant: string;
  tenantId: string;
  keyId: string;
  keyPrefix: string;
  role: ApiKeyRole;
  userHandle: string | null;
  agentId: string | null;
  key: string;
}

export interface RevokedKey {
  keyId: string;
  keyPrefix: string;
  tenant: string;
  role: ApiKeyRole;
  userHandle: string | null;
  agentId: string | null;
  revokedAt: string;
  /** True when the key had been revoked before: revoking is idempotent. */
  alreadyRevoked: boolean;
}

export interface TenantSummary {
  slug: string;
  id: string;
  name: string;
  createdAt: string;
  users: number;
  agents: number;
  activeKeys: number;
}

/** A tenant by slug, or a TenancyError naming it. */
export async function tenantBySlug(em: EntityManager, slug: string): Promise<Tenant> {
  const tenant = await em.findOne(Tenant, { slug: slug.toLowerCase() });
  if (!tenant) throw new TenancyError(`No tenant with slug "${slug}".`);
  return tenant;
}

async function userOfTenant(em: EntityManager, tenant: Tenant, handle: string): Promise<User> {
  const user = await em.findOne(User, { handle: handle.toLowerCase(), tenant });
  if (!user) throw new TenancyError(`Tenant "${tenant.slug}" has no user with handle "${handle}".`);
  return user;
}

function userRole(role: string | undefined): ApiKeyRole.ADMIN | ApiKeyRole.MEMBER {
  if (role === undefined || role === ApiKeyRole.MEMBER) return ApiKeyRole.MEMBER;
  if (role === ApiKeyRole.ADMIN) return ApiKeyRole.ADMIN;
  throw new TenancyError(`--role: "${role}" must be admin or member.`);
}

/** Unique-constraint races (two operators at once) read as the same message as the checks. */
async function unique<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof UniqueConstraintViolationException) throw new TenancyError(`${what} already exists.`);
    throw err;
  }
}

/** A user of a tenant and a user key (member unless `role` says admin), in one transaction. */
export async function createUser(em: EntityManager, input: { tenant: string; handle: string; role?: string }): Promise<UserKeys> {
  const handle = input.handle.toLowerCase();
  if (!HANDLE_PATTERN.test(handle)) throw new TenancyError(`--handle: "${input.handle}" must be 2–39 characters of a-z, 0-9 and "-", starting with a letter or digit.`);
  const role = userRole(input.role);
  return unique(`The handle "${handle}"`, () =>
    transaction(em, async (tx) => {
      const tenant = await tenantBySlug(tx, input.tenant);
      if (await tx.count(User, { handle })) throw new TenancyError(`The handle "${handle}" is taken.`);
      const user = new User(ref(tenant), handle);
      await tx.insert(user);
      const key = await issueKey(tx, { tenantId: tenant.id, role, userId: user.id, label: 'cli' });
      return { tenant: tenant.slug, tenantId: tenant.id, userHandle: handle, userId: user.id, role, keyId: key.keyId, keyPrefix: key.keyPrefix, userKey: key.secret };
    }),
  );
}

/** An agent owned by a user of the tenant, and its agent key, in one transaction. */
export async function createAgent(em: EntityManager, input: { tenant: string; ownerHandle: string; name?: string }): Promise<AgentKeys> {
  const name = input.name?.trim();
  if (name !== undefined && (name === '' || name.length > 100)) throw new TenancyError('--name: must be 1–100 characters.');
  return transaction(em, async (tx) => {
    const tenant = await tenantBySlug(tx, input.tenant);
    const owner = await userOfTenant(tx, tenant, input.ownerHandle);
    const agent = new Agent(ref(tenant), ref(owner), name ?? `${owner.handle}-agent`);
    await tx.insert(agent);
    const key = await issueKey(tx, { tenantId: tenant.id, role: ApiKeyRole.AGENT, agentId: agent.id, label: 'cli' });
    return { tenant: tenant.slug, tenantId: tenant.id, agentId: agent.id, agentName: agent.name, ownerHandle: owner.handle, keyId: key.keyId, keyPrefix: key.keyPrefix, agentKey: key.secret };
  });
}

/** Another key for an existing user (member unless `role` says admin) or agent. */
export async function createKey(em: EntityManager, input: { tenant: string; userHandle?: string; role?: string; agentId?: string }): Promise<NewKey> {
  if ((input.userHandle === undefined) === (input.agentId === undefined)) throw new TenancyError('Give exactly one of --user <handle> or --agent <id>.');
  if (input.agentId !== undefined && input.role !== undefined) throw new TenancyError('--role applies to user keys only; agent keys always have the agent role.');
  if (input.agentId !== undefined && !isUuid(input.agentId)) throw new TenancyError(`--agent: "${input.agentId}" is not an agent id (a UUID).`);
  const role = input.userHandle !== undefined ? userRole(input.role) : ApiKeyRole.AGENT;
  return transaction(em, async (tx) => {
    const tenant = await tenantBySlug(tx, input.tenant);
    let userHandle: string | null = null;
    let agentId: string | null = null;
    let key: IssuedKey;
    if (input.userHandle !== undefined) {
      const user = await userOfTenant(tx, tenant, input.userHandle);
      userHandle = user.handle;
      key = await issueKey(tx, { tenantId: tenant.id, role, userId: user.id, label: 'cli' });
    } else {
      const agent = await tx.findOne(Agent, { id: input.agentId, tenant });
      if (!agent) throw new TenancyError(`Tenant "${tenant.slug}" has no agent ${input.agentId}.`);
      agentId = agent.id;
      key = await issueKey(tx, { tenantId: tenant.id, role, agentId: agent.id, label: 'cli' });
    }
    return { tenant: tenant.slug, tenantId: tenant.id, keyId: key.keyId, keyPrefix: key.keyPrefix, role, userHandle, agentId, key: key.secret };
  });
}

/** Revoke a key by id or by its shown prefix; revoked keys stop authenticating at once. */
export async function revokeKey(em: EntityManager, input: { keyId?: string; prefix?: string }): Promise<RevokedKey> {
  if ((input.keyId === undefined) === (input.prefix === undefined)) throw new TenancyError('Give exactly one of --key-id <id> or --prefix <prefix>.');
  if (input.keyId !== undefined && !isUuid(input.keyId)) throw new TenancyError(`--key-id: "${input.keyId}" is not a key id (a UUID).`);
  return transaction(em, async (tx) => {
    const where = input.keyId !== undefined ? { id: input.keyId } : { prefix: input.prefix };
    const keys = await tx.find(ApiKey, where, { populate: ['tenant', 'user'], limit: 2 });
    if (keys.length === 0) throw new TenancyError(input.keyId !== undefined ? `No API key with id ${input.keyId}.` : `No API key with prefix "${input.prefix}".`);
    if (keys.length > 1) throw new TenancyError(`More than one API key has the prefix "${input.prefix}"; revoke by --key-id instead.`);
    const key = keys[0];
    const alreadyRevoked = key.revokedAt !== null;
    if (!alreadyRevoked) {
      key.revokedAt = new Date();
      await tx.nativeUpdate(ApiKey, { id: key.id }, { revokedAt: key.revokedAt });
    }
    return {
      keyId: key.id,
      keyPrefix: key.prefix,
      tenant: key.tenant.getEntity().slug,
      role: key.role,
      userHandle: key.user?.getEntity().handle ?? null,
      agentId: key.agent?.id ?? null,
      revokedAt: key.revokedAt!.toISOString(),
      alreadyRevoked,
    };
  });
}

/** Every tenant with the size of its population, by slug. */
export async function listTenants(em: EntityManager): Promise<TenantSummary[]> {
  const rows = await em.getConnection().execute<{ id: string; slug: string; name: string; created_at: Date; users: number; agents: number; active_keys: number }[]>(
    `/* listTenants */ select t.id, t.slug, t.name, t.created_at,
       (select count(*) from "user" u where u.tenant_id = t.id)::int as users,
       (select count(*) from agent a where a.tenant_id = t.id)::int as agents,
       (select count(*) from api_key k where k.tenant_id = t.id and k.revoked_at is null)::int as active_keys
     from tenant t order by t.slug`,
  );
  return rows.map((r) => ({ slug: r.slug, id: r.id, name: r.name, createdAt: new Date(r.created_at).toISOString(), users: r.users, agents: r.agents, activeKeys: r.active_keys }));
}
