import type { EntityManager } from '@mikro-orm/postgresql';
import type { CatalogSnapshot } from './modules/catalog/catalog.js';
import { Model } from './modules/catalog/model.entity.js';
import { Provider } from './modules/catalog/provider.entity.js';
import { AGENT_COLUMNS, type AgentRecord, type AgentRow, agentFromRow } from './modules/tenancy/agent.record.js';
import { Tenant } from './modules/tenancy/tenant.entity.js';
import { User } from './modules/tenancy/user.entity.js';
import { query } from './db/sql.js';
import { byIdLoader, groupLoader } from './shared/loader.js';

/**
 * Per-request DataLoaders, grouped by domain. Tenant-owned rows are fetched within the viewer's
 * tenant only, so a stray id from another tenant resolves to null. `em` is asked for only when a
 * loader reaches SQL: a request whose rows all come from the catalog (a dispatch's model and
 * provider) forks no entity manager.
 */
export function createLoaders(em: () => EntityManager, tenantId: string, catalog: CatalogSnapshot) {
  // The catalog is loaded at start and held in memory; only ids it does not know reach SQL.
  const providerById = byIdLoader(
    async (ids) => {
      const known = ids.map((id) => catalog.providerEntity(id)).filter((p) => p !== undefined);
      const missing = ids.filter((id) => !catalog.providerEntity(id));
      return missing.length ? [...known, ...(await em().find(Provider, { id: { $in: missing } }))] : known;
    },
    (p) => p.id,
  );
  const modelById = byIdLoader(
    async (ids) => {
      const known = ids.map((id) => catalog.modelEntity(id)).filter((m) => m !== undefined);
      const missing = ids.filter((id) => !catalog.modelEntity(id));
      // One statement for unknown models and their providers; the providers prime their own loader.
      const fetched = missing.length ? await em().find(Model, { id: { $in: missing } }, { populate: ['provider'] }) : [];
      for (const m of fetched) providerById.prime(m.provider.id, m.provider.getEntity());
      return [...known, ...fetched];
    },
    (m) => m.id,
  );
  // Agents this request has read, for answering `Inference.agent` without a promise per row.
  const agents = new Map<string, AgentRecord>();
  const agentById = byIdLoader(
    async (ids: readonly string[]) => {
      const rows = (await query<AgentRow>(em(), `/* agentsById */ select ${AGENT_COLUMNS} from agent where id = any(?::uuid[]) and tenant_id = ?`, [ids, tenantId])).map(agentFromRow);
      for (const a of rows) agents.set(a.id, a);
      return rows;
    },
    (a) => a.id,
  );
  return {
    catalog: {
      providerById,
      modelById,
      // Synchronous when the catalog knows the id (always, outside a catalog change): no promise per row of a page.
      model: (id: string): Model | Promise<Model | null> => catalog.modelEntity(id) ?? modelById.load(id),
      provider: (id: string): Provider | Promise<Provider | null> => catalog.providerEntity(id) ?? providerById.load(id),
    },
    tenancy: {
      tenantById: byIdLoader((ids) => em().find(Tenant, { id: { $in: [...ids] } }), (t) => t.id),
      userById: byIdLoader((ids) => em().find(User, { id: { $in: [...ids] }, tenant: tenantId }), (u) => u.id),
      // On every inference page: plain records from one statement (em.find's query building alone cost ~1.7 ms, bench/NOTES.md).
      agentById,
      // Synchronous once this request has read the agent (an inference page loads its agents up front).
      agent: (id: string): AgentRecord | Promise<AgentRecord | null> => agents.get(id) ?? agentById.load(id),
      agentsByOwner: groupLoader(
        async (ids) =>
          (await query<AgentRow>(em(), `/* agentsByOwner */ select ${AGENT_COLUMNS} from agent where owner_id = any(?::uuid[]) and tenant_id = ? order by agent.created_at, agent.id`, [ids, tenantId])).map(agentFromRow),
        (a) => a.ownerId,
      ),
    },
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
