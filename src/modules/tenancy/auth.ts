import { randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../../db/sql.js';
import { forbidden, unauthenticated } from '../../shared/errors.js';
import { sha256Hex } from '../../shared/hashing.js';
import { ApiKeyRole } from './api-key.entity.js';
import type { ApiKeyCache } from './key-cache.js';

/** Who is calling, as established from the bearer key. */
export interface Viewer {
  keyId: string;
  tenantId: string;
  role: ApiKeyRole;
  userId: string | null;
  agentId: string | null;
}

const KEY_PREFIX = 'ainf_';
const KEY_PATTERN = /^ainf_[A-Za-z0-9_-]{32}$/;

/** A new secret, shown once; only `hash` is stored. */
export function generateApiKey(): { secret: string; prefix: string; hash: string } {
  const secret = KEY_PREFIX + randomBytes(24).toString('base64url');
  return { secret, prefix: secret.slice(0, 12), hash: sha256Hex(secret) };
}

/** Parse `Authorization: Bearer <key>`; null when the header is absent. */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined || header === '') return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw unauthenticated('Malformed Authorization header: expected "Bearer <key>".');
  return match[1];
}

/**
 * Resolve a bearer secret to its viewer: from the key cache when it holds the key, else in one
 * statement; unknown, malformed or revoked → UNAUTHENTICATED.
 */
export async function authenticate(em: EntityManager, secret: string | null, cache?: ApiKeyCache): Promise<Viewer> {
  if (secret === null) throw unauthenticated();
  if (!KEY_PATTERN.test(secret)) throw unauthenticated('Malformed API key.');
  const hash = sha256Hex(secret);
  const cached = cache?.get(hash);
  if (cached) return cached;
  const ticket = cache?.ticket() ?? 0;
  const rows = await query<{ id: string; tenant_id: string; role: ApiKeyRole; user_id: string | null; agent_id: string | null }>(
    em,
    `/* authenticateApiKey */ select id, tenant_id, role, user_id, agent_id from api_key where secret_hash = ? and revoked_at is null`,
    [hash],
  );
  const row = rows[0];
  if (!row) throw unauthenticated('Unknown or revoked API key.');
  const viewer: Viewer = { keyId: row.id, tenantId: row.tenant_id, role: row.role, userId: row.user_id, agentId: row.agent_id };
  cache?.set(hash, viewer, ticket);
  return viewer;
}

const RANK: Record<ApiKeyRole, number> = { [ApiKeyRole.AGENT]: 0, [ApiKeyRole.MEMBER]: 0, [ApiKeyRole.ADMIN]: 1 };

export function requireAdmin(viewer: Viewer): void {
  if (RANK[viewer.role] < 1) throw forbidden('This needs an admin key.');
}

/** Agent keys dispatch as their agent; admin keys may dispatch for any agent of their tenant; member keys read only. */
export function requireDispatcher(viewer: Viewer): void {
  if (viewer.role === ApiKeyRole.MEMBER) throw forbidden('Member keys are read-only; dispatch with an agent key or an admin key.');
}

/** The audit chain and other tenant-wide records are for people: member and admin keys. */
export function requireReader(viewer: Viewer): void {
  if (viewer.role === ApiKeyRole.AGENT) throw forbidden('Agent keys cannot read the audit chain; use a member or admin key.');
}
