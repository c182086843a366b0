import { isoUtc } from '../../db/sql.js';

/**
 * An agent as the API serves it: plain values read with one statement (the `Agent` entity still
 * defines the table). Every inference page resolves its agents, and mapping rows to entities
 * cost more than the statement itself (bench/NOTES.md).
 */
export interface AgentRecord {
  id: string;
  tenantId: string;
  ownerId: string;
  name: string;
  createdAt: Date;
}

export const AGENT_COLUMNS = `id, tenant_id, owner_id, name, ${isoUtc('created_at')}`;

export interface AgentRow {
  id: string;
  tenant_id: string;
  owner_id: string;
  name: string;
  created_at: string;
}

export function agentFromRow(r: AgentRow): AgentRecord {
  return { id: r.id, tenantId: r.tenant_id, ownerId: r.owner_id, name: r.name, createdAt: new Date(r.created_at) };
}
