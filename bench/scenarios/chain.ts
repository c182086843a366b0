/**
 * Scenario 6b — chain verification speed: a valid chain of N events (sealed with the server's
 * own envelope code, bulk-inserted), then `verifyChain` timed inside the server process (it
 * streams the chain from PostgreSQL and recomputes every hash), and once through GraphQL
 * `auditChain { verify }` with the tenant's admin key.
 */
import path from 'node:path';
import type { TenantKeys } from '../../src/modules/tenancy/tenancy.service.js';
import { seedChain } from '../chain.js';
import type { BenchConfig } from '../config.js';
import type { ProfileSummary } from '../profile.js';
import { cpuDuring } from '../proc.js';
import type { Stack } from '../stack.js';
import { median, round } from '../stats.js';
import { profiled } from './profiled.js';

export interface ChainResult {
  events: number;
  seed: { sealMs: number; insertMs: number };
  verify: { valid: boolean; checked: number; runsMs: number[]; medianMs: number; eventsPerSec: number; cpuUsPerEvent?: { server: number; postgres: number } };
  graphql: { valid: boolean | null; checked: number | null; ms: number; eventsPerSec: number; error: string | null };
  profile: ProfileSummary | null;
}

export async function runChain(stack: Stack, cfg: BenchConfig, log: (s: string) => void, profileDir: string): Promise<ChainResult> {
  const mock = await stack.mock(0);
  const server = await stack.startServer(mock);
  const keys = await server.ipc.call<TenantKeys>('newTenant', { label: 'chain' });
  const seeded = await seedChain(server.dbUrl, { chain: keys.tenantId, agentId: keys.agentId, events: cfg.chain.events });
  log(`chain: seeded ${seeded.events} events (seal ${Math.round(seeded.sealMs)} ms, insert ${Math.round(seeded.insertMs)} ms)`);
  // Verification is measured on a quiet database: the earlier scenarios' and the seed's background
  // work (autovacuum, checkpoints) would otherwise share the two cores with it.
  await stack.settle(60_000);

  const runsMs: number[] = [];
  const cpu: { server: number; postgres: number }[] = [];
  let last: { valid: boolean; checked: number; reason: string | null } = { valid: false, checked: 0, reason: null };
  for (let r = 0; r < Math.max(cfg.rounds, 2); r++) {
    // CPU of the server process (its verifier threads included) and of PostgreSQL, per event: where the time goes.
    const { result: res, cpuMs } = await cpuDuring(
      { server: [server.pid], postgres: stack.pgPids() },
      () => server.ipc.call<{ valid: boolean; checked: number; reason: string | null; ms: number }>('verifyChain', { chain: keys.tenantId }),
      { postgres: () => stack.pgPids() },
    );
    cpu.push({ server: (cpuMs.server * 1000) / res.checked, postgres: (cpuMs.postgres * 1000) / res.checked });
    runsMs.push(res.ms);
    last = res;
    log(`chain: verify round ${r + 1}: ${res.valid ? 'valid' : `INVALID (${res.reason})`}, ${res.checked} events in ${res.ms.toFixed(0)} ms`);
  }
  // The first run reads the table from disk into shared buffers; all runs are kept, the median reported.
  const medianMs = median(runsMs);

  const t0 = performance.now();
  let gq: ChainResult['graphql'];
  try {
    const res = await fetch(`${server.origin}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${keys.userKey}` },
      body: JSON.stringify({ query: '{ auditChain { verify { valid checked } } }' }),
    });
    const body = (await res.json()) as { data?: { auditChain: { verify: { valid: boolean; checked: number } } }; errors?: unknown };
    const ms = performance.now() - t0;
    const v = body.data?.auditChain.verify;
    gq = { valid: v?.valid ?? null, checked: v?.checked ?? null, ms: round(ms, 0), eventsPerSec: v ? Math.round((v.checked * 1000) / ms) : 0, error: body.errors ? JSON.stringify(body.errors).slice(0, 300) : null };
  } catch (err) {
    gq = { valid: null, checked: null, ms: 0, eventsPerSec: 0, error: (err as Error).message };
  }
  log(`chain: GraphQL auditChain.verify: ${JSON.stringify(gq)}`);

  const profile = await profiled(stack, { label: `verifyChain over ${cfg.chain.events} events`, file: path.join(profileDir, 'verify-chain.cpuprofile') }, async () => {
    await server.ipc.call('verifyChain', { chain: keys.tenantId });
    return { ok: 1 };
  });

  return {
    events: cfg.chain.events,
    seed: { sealMs: Math.round(seeded.sealMs), insertMs: Math.round(seeded.insertMs) },
    verify: {
      valid: last.valid,
      checked: last.checked,
      runsMs: runsMs.map((m) => Math.round(m)),
      medianMs: Math.round(medianMs),
      eventsPerSec: Math.round((last.checked * 1000) / medianMs),
      cpuUsPerEvent: { server: round(median(cpu.map((c) => c.server)), 1), postgres: round(median(cpu.map((c) => c.postgres)), 1) },
    },
    graphql: gq,
    profile,
  };
}
