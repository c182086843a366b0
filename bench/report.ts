/**
 * The run's results as data (RunResult, written to bench/results/*.json), the targets of issue #7
 * judged against them, and the Markdown report (bench/RESULTS.md for a full run).
 */
import path from 'node:path';
import type { BenchConfig } from './config.js';
import { ROOT } from './proc.js';
import type { ProfileSummary } from './profile.js';
import type { ChainResult } from './scenarios/chain.js';
import type { CoverageResult } from './scenarios/coverage.js';
import type { GraphqlResult } from './scenarios/graphql.js';
import type { MemoryResult } from './scenarios/memory.js';
import type { OverheadAtRate, OverheadResult } from './scenarios/overhead.js';
import type { ReadsResult } from './scenarios/reads.js';
import type { ThroughputResult } from './scenarios/throughput.js';
import { type PhaseName, type RoundSummary, TAIL_BOUNDS } from './stats.js';

export interface RunEnv {
  date: string;
  cpu: string;
  node: string;
  os: string;
  memTotalGiB: number;
  postgres: { version: string; synchronousCommit: string; fsync: string; sharedBuffers: string } | null;
  portkey: string;
  loadAvgStart: string;
  loadAvgEnd: string;
}

export interface Target {
  id: string;
  text: string;
  met: boolean | null;
  detail: string;
  /** The profile that explains a miss. */
  profile: ProfileSummary | null;
}

export interface RunResult {
  mode: 'full' | 'quick';
  only: string[] | null;
  startedAt: string;
  finishedAt: string;
  durationS: number;
  env: RunEnv;
  config: BenchConfig;
  overhead?: OverheadResult;
  throughput?: ThroughputResult;
  reads?: ReadsResult;
  graphql?: GraphqlResult;
  coverage?: CoverageResult;
  chain?: ChainResult;
  memory?: MemoryResult;
  failures: { scenario: string; error: string }[];
  targets: Target[];
}

const f = (x: number | null | undefined, d = 2) => (x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(d));
const at = (r: OverheadResult | undefined, latency: number, rate: number): OverheadAtRate | undefined =>
  r?.variants.find((v) => v.mockLatencyMs === latency)?.rates.find((x) => x.rate === rate);

/** "Δp50 x / Δp99 y ms", or why there is no figure. */
function overheadDetail(x: OverheadAtRate, who: 'ainfera' | 'cluster' | 'portkey'): string {
  const d = x.delta[who];
  const sat = x.saturated[who];
  if (!d) return sat ? `saturated: served only ${f(sat.served, 0)} req/s when offered ${sat.rate}/s, so not driven at ${x.rate}/s` : 'not measured';
  const errors = x[who]?.errors ?? 0;
  return `Δp50 ${f(d.p50)} ms, Δp99 ${f(d.p99)} ms${errors ? ` (${errors} errors)` : ''}${sat ? ` (in rounds where it kept up; saturated at ${sat.rate}/s in others)` : ''}`;
}

export function evaluateTargets(r: RunResult): Target[] {
  const dispatchProfile = r.memory?.profile ?? null;
  const t: Target[] = [];
  const o200 = at(r.overhead, 0, 200);
  const o200slow = at(r.overhead, 50, 200);
  const o500 = at(r.overhead, 0, 500);
  // The single server process, then the same server as WEB_CONCURRENCY=N runs it (bench/cluster-server.ts).
  for (const who of ['ainfera', 'cluster'] as const) {
    const suffix = who === 'cluster' ? ` — ${r.overhead?.clusterWorkers ?? '?'} server processes (WEB_CONCURRENCY)` : '';
    const id = who === 'cluster' ? '-cluster' : '';
    t.push({
      id: `overhead-200${id}`,
      text: `Dispatch overhead at 200 req/s: Δp50 ≤ 3 ms and Δp99 ≤ 10 ms${suffix}`,
      met: !o200 ? null : o200.delta[who] && o200[who] ? o200.delta[who]!.p50 <= 3 && o200.delta[who]!.p99 <= 10 && o200[who]!.errors === 0 : false,
      detail: !o200
        ? 'not measured'
        : overheadDetail(o200, who) + ' (0 ms mock)' + (o200slow ? `; with the 50 ms mock ${overheadDetail(o200slow, who)}` : '') + (o200.floor ? `; the commit alone (bare-pg floor) at 200 req/s: p50 ${f(o200.floor.p50)} ms, p99 ${f(o200.floor.p99)} ms` : ''),
      profile: dispatchProfile,
    });
    const ours500 = o500?.delta[who];
    const peer500 = o500?.delta.portkey;
    t.push({
      id: `peer-500${id}`,
      text: `At 500 req/s our Δp50 and Δp99 below Portkey's${suffix}`,
      met: !o500 ? null : !ours500 || !o500[who] ? false : !peer500 ? (o500.saturated.portkey ? true : null) : ours500.p50 < peer500.p50 && ours500.p99 < peer500.p99 && o500[who]!.errors === 0,
      detail: !o500
        ? 'not measured'
        : `ours ${overheadDetail(o500, who)} vs Portkey ${r.overhead?.portkey.ran ? overheadDetail(o500, 'portkey') : `not measured: ${r.overhead?.portkey.error ?? 'unknown reason'}`} (0 ms mock)`,
      profile: dispatchProfile,
    });
  }
  const tp = r.throughput;
  for (const who of ['ainfera', 'cluster'] as const) {
    const x = tp?.[who];
    const ratio = who === 'cluster' ? tp?.clusterRatio : tp?.ratio;
    t.push({
      id: who === 'cluster' ? 'throughput-cluster' : 'throughput',
      text: `Max dispatch rate ≥ 0.7 × the bare-pg floor (p99 ≤ 50 ms, no errors)${who === 'cluster' ? ` — ${tp?.clusterWorkers ?? '?'} server processes (WEB_CONCURRENCY)` : ''}`,
      met: tp && x && ratio !== undefined ? ratio >= 0.7 : null,
      detail: tp && x ? `${f(x.maxRate, 0)} req/s vs floor ${f(tp.floor.maxRate, 0)} req/s = ${f(ratio)} ×` : 'not measured',
      profile: dispatchProfile,
    });
  }
  const rd = r.reads;
  const rd0 = rd?.latency[0];
  const constant = rd ? new Set(rd.statements.map((s) => s.perRequest)).size === 1 : false;
  t.push({
    id: 'reads-statements',
    text: 'Reads: constant statements (≤ 4) for any page size',
    met: rd ? rd.maxStatements <= 4 && constant : null,
    detail: rd ? `${rd.statements.map((s) => `first ${s.pageSize}: ${f(s.perRequest, 1)}`).join(', ')} statements per request (authentication included)` : 'not measured',
    profile: rd?.profile ?? null,
  });
  t.push({
    id: 'reads-p99',
    text: 'Reads: p99 ≤ 15 ms for 100 rows',
    met: rd0 ? rd0.p99 <= 15 && rd0.errors === 0 && rd!.nodesReturned === 100 : null,
    detail: rd && rd0 ? `p50 ${f(rd0.p50)} ms, p99 ${f(rd0.p99)} ms at ${rd0.rate} req/s, ${rd.nodesReturned} rows per page` + rd.latency.slice(1).map((x) => `; at ${x.rate} req/s p50 ${f(x.p50)} ms, p99 ${f(x.p99)} ms`).join('') : 'not measured',
    profile: rd?.profile ?? null,
  });
  const g = r.graphql;
  t.push({
    id: 'graphql',
    text: '{ __typename } throughput ≥ 0.4 × bare node:http',
    met: g ? g.ratio >= 0.4 && g.server.errors === 0 : null,
    detail: g
      ? `${f(g.server.throughput, 0)} vs ${f(g.bare.throughput, 0)} req/s = ${f(g.ratio)} ×` +
        (g.references ? `; with nothing of ours, Apollo Server alone ${f(g.references.apolloRatio)} × and graphql-js alone ${f(g.references.graphqlJsRatio)} ×` : '')
      : 'not measured',
    profile: g?.profile ?? null,
  });
  const c = r.chain;
  t.push({
    id: 'chain',
    text: 'Chain verification ≥ 100k events/s',
    met: c ? c.verify.valid && c.verify.eventsPerSec >= 100_000 : null,
    detail: c ? `${f(c.verify.eventsPerSec, 0)} events/s over ${c.verify.checked} events (${c.verify.valid ? 'valid' : 'INVALID'})${c.verify.cpuUsPerEvent ? `; CPU per event: server ${f(c.verify.cpuUsPerEvent.server, 1)} µs (its verifier threads), PostgreSQL ${f(c.verify.cpuUsPerEvent.postgres, 1)} µs` : ''}` : 'not measured',
    profile: c?.profile ?? null,
  });
  const m = r.memory;
  const m1 = m?.checkpoints[0];
  const m2 = m?.checkpoints[m.checkpoints.length - 1];
  t.push({
    id: 'rss',
    text: 'RSS(100k) ≤ 1.1 × RSS(10k)',
    met: m ? m.rssRatio <= 1.1 : null,
    detail: m && m1 && m2 ? `RSS after ${m1.dispatches} ${mib(m1.rssKiB)}, after ${m2.dispatches} ${mib(m2.rssKiB)} = ${f(m.rssRatio, 3)} ×${r.mode === 'quick' ? ' (quick run: fewer dispatches, indicative only)' : ''}` : 'not measured',
    profile: null,
  });
  t.push({
    id: 'cpu',
    text: '≤ 1 ms server CPU per dispatch',
    met: m ? m.cpu.serverMsPerDispatch <= 1 : null,
    detail: m ? `${f(m.cpu.serverMsPerDispatch, 3)} ms server CPU per dispatch (PostgreSQL: ${f(m.cpu.postgresMsPerDispatch, 3)} ms more) over ${m.cpu.dispatches} dispatches (closed loop ×${m.concurrency}, ${f(m.throughput, 0)} dispatches/s)` : 'not measured',
    profile: dispatchProfile,
  });
  return t;
}

const PHASES: Array<[PhaseName, string]> = [
  ['dispatch', 'dispatches'],
  ['provider', 'provider attempts'],
  ['append', 'audit appends'],
];

/** Where one server process's slow dispatches spent their time: its own histograms over all its rounds at each rate. */
function phaseTable(rates: OverheadAtRate[]): string[] {
  const bounds = TAIL_BOUNDS.map((b) => `${b}`).join(' / ');
  const L = [
    `Where the slow dispatches spent their time, from the server's own histograms over all its rounds at the rate (\`/metrics\`: \`ainfera_dispatch_duration_seconds\` — the resolver, from parsed request to persisted answer; \`ainfera_provider_attempt_duration_seconds\` — the provider call; \`ainfera_audit_chain_append_duration_seconds\` — the append, the wait for its chain's group commit included): the share of each that took longer than ${bounds} ms, and the mean. A dispatch is a provider attempt followed by an append, so a tail in the dispatches that the appends share is the database's commit, and one the provider attempts share is the provider call — against the 0 ms mock, time the server or the mock spent waiting for a core.`,
    '',
    `| rate | ${PHASES.map(([, label]) => `${label} over ${bounds} ms`).join(' | ')} | mean: dispatch · provider · append |`,
    `|---:|${PHASES.map(() => '---:').join('|')}|---:|`,
  ];
  for (const x of rates) {
    const ph = x.ainfera?.pauses?.phases;
    if (!ph) continue;
    const cells = PHASES.map(([name]) => TAIL_BOUNDS.map((b) => `${f(ph[name].overPct[b], 1)} %`).join(' / '));
    L.push(`| ${x.rate}/s | ${cells.join(' | ')} | ${PHASES.map(([name]) => f(ph[name].meanMs)).join(' · ')} ms |`);
  }
  L.push('');
  return L;
}

/** Nest another report's Markdown under ours: its headings go `levels` deeper (code blocks untouched). */
function demoteHeadings(md: string, levels: number): string {
  let fence = false;
  return md
    .split('\n')
    .map((line) => {
      if (line.startsWith('```')) fence = !fence;
      return !fence && /^#{1,6} /.test(line) ? `${'#'.repeat(levels)}${line}` : line;
    })
    .join('\n');
}

function mib(kib: number): string {
  return `${(kib / 1024).toFixed(1)} MiB`;
}

function verdict(t: Target): string {
  return t.met === null ? '— not measured' : t.met ? '**met**' : '**not met**';
}

function cpuCell(s: RoundSummary | null, proc: string): string {
  return s && s.cpuMsPerRequest[proc] !== undefined ? f(s.cpuMsPerRequest[proc], 3) : '—';
}

function profileSection(p: ProfileSummary, heading: string): string[] {
  const out = [`#### ${heading}`, ''];
  out.push(
    `${p.label}: ${p.wallMs} ms wall, ${p.busyMs} ms on the main thread (the rest idle)` +
      (p.busyMsPerOperation !== null ? `, **${f(p.busyMsPerOperation, 3)} ms busy per request** over ${p.operations} requests` : '') +
      '. Sampled in-process with the V8 profiler (0.5 ms interval); self time, so a function\'s callees are not in its row.' +
      (p.file ? ` Raw profile: \`${path.relative(ROOT, p.file)}\` (not committed; Chrome DevTools → Performance → Load profile).` : ''),
    '',
    '| who the time is for (Node internals and native code charged to the package or file that called them) | ms | % of busy |' + (p.operations ? ' ms per request |' : ''),
    '|---|---:|---:|' + (p.operations ? '---:|' : ''),
    ...p.byOwner.map((r) => `| ${r.name} | ${f(r.ms, 1)} | ${f(r.pct, 1)} |` + (p.operations ? ` ${f(r.ms / p.operations, 3)} |` : '')),
    '',
    '| where the code is (self time) | ms | % of busy |',
    '|---|---:|---:|',
    ...p.byComponent.map((r) => `| ${r.name} | ${f(r.ms, 1)} | ${f(r.pct, 1)} |`),
    '',
    '| top functions (self time) | ms | % |',
    '|---|---:|---:|',
    ...p.topFunctions.map((r) => `| \`${r.name.replace(/\|/g, '\\|')}\` | ${f(r.ms, 1)} | ${f(r.pct, 1)} |`),
    '',
  );
  return out;
}

export function renderReport(r: RunResult): string {
  const L: string[] = [];
  const e = r.env;
  L.push(`# Ainfera benchmark — ${r.mode === 'full' ? 'full run' : 'quick run (smoke test: 1 short round per target, not for comparison)'}`, '');
  L.push(`Generated by \`npm run bench${r.mode === 'quick' ? ' -- --quick' : ''}\`${r.only ? ` with \`--only ${r.only.join(',')}\`` : ''} on ${e.date} in ${Math.round(r.durationS)} s.`, '');
  L.push('| | |', '|---|---|');
  L.push(`| CPU | ${e.cpu} |`, `| memory | ${e.memTotalGiB} GiB |`, `| OS | ${e.os} |`, `| Node | ${e.node} |`);
  L.push(`| PostgreSQL | ${e.postgres ? `${e.postgres.version} (embedded), synchronous_commit = \`${e.postgres.synchronousCommit}\`, fsync = \`${e.postgres.fsync}\`, shared_buffers = ${e.postgres.sharedBuffers}` : '—'} |`);
  L.push(`| peer | @portkey-ai/gateway ${e.portkey} |`, `| load average (1/5/15 min) | start ${e.loadAvgStart}, end ${e.loadAvgEnd} |`);
  L.push(`| rounds | ${r.config.rounds} × ${r.config.roundMs / 1000} s per target and rate, after ${r.config.warmupMs / 1000} s warm-up; figures are medians of rounds |`, '');
  L.push(
    'Everything runs on this one machine over loopback: the server (its own embedded PostgreSQL), the mock provider (fixed latency), Portkey, and the load generator, each a separate process sharing the same cores. Load is open-loop: request *i* is sent at t0 + i/rate whatever happened before, and latency runs from that scheduled time to the last byte of the response, so queueing anywhere is counted. Percentiles use every sample of a round.',
    '',
  );

  L.push('## Targets', '', '| target | verdict | measured |', '|---|---|---|');
  for (const t of r.targets) L.push(`| ${t.text} | ${verdict(t)} | ${t.detail} |`);
  L.push('');
  if (r.failures.length) {
    L.push('**Scenarios that failed to run:**', '');
    for (const x of r.failures) L.push(`- ${x.scenario}: \`${x.error.split('\n')[0].slice(0, 300)}\``);
    L.push('');
  }

  if (r.overhead) {
    L.push('## 1 + 3. Dispatch overhead, ours and Portkey\'s', '');
    L.push(
      `Same chat request four ways: **direct** = POST /v1/messages to the mock (Anthropic body); **Ainfera** = \`dispatchInference\` (caller task type CHAT, \`ainfera-auto\` → claude-haiku-4-5 on the mock through the Anthropic SDK, inference row + hash-chained audit event committed), one server process; **Ainfera ×${r.overhead.clusterWorkers}** = the same server as \`WEB_CONCURRENCY=${r.overhead.clusterWorkers}\` runs it (a primary and ${r.overhead.clusterWorkers} server processes on one port, src/cluster.ts), on the same database; **Portkey** = its OpenAI-format /v1/chat/completions with \`x-portkey-provider: anthropic\` and \`x-portkey-custom-host: <mock>/v1\` (one process, stateless, writes nothing). Requests come from ${r.config.clients} clients in turn, each with its own keep-alive connections (as from several agents; a multi-process server spreads connections, not requests). Δ = median over rounds of (gateway − direct) for that percentile. CPU columns: ms of CPU per request of that process (PG = all PostgreSQL processes; ×${r.overhead.clusterWorkers} servers = the primary and its servers).`,
      '',
    );
    if (!r.overhead.portkey.ran) L.push(`**Portkey did not run:** ${r.overhead.portkey.error ?? 'unknown'}`, '');
    const sp = r.overhead.statementsPerDispatch;
    if (sp) L.push(`One dispatch runs **${f(sp.count, 1)} SQL statements** (ORM query logger): ${sp.statements.map((q) => `\`${q.replace(/\s+/g, ' ').slice(0, 60)}${q.length > 60 ? '…' : ''}\``).join(' · ')}.`, '');
    for (const v of r.overhead.variants) {
      L.push(`### Mock latency ${v.mockLatencyMs} ms`, '');
      const n = r.overhead.clusterWorkers;
      L.push(`| rate | direct p50 / p99 | Ainfera p50 / p99 | **Ainfera Δp50 / Δp99** | Ainfera ×${n} p50 / p99 | **Ainfera ×${n} Δp50 / Δp99** | Portkey p50 / p99 | **Portkey Δp50 / Δp99** | errors A / A×${n} / P | CPU ms/req server · PG · ×${n} servers · PG · Portkey | gen. lag p99 |`);
      L.push('|---:|---|---|---|---|---|---|---|---|---|---:|');
      for (const x of v.rates) {
        const p = x.portkey;
        const pl = (sum: RoundSummary | null, who: 'direct' | 'ainfera' | 'cluster' | 'portkey') =>
          sum ? `${f(sum.p50)} / ${f(sum.p99)}` : x.saturated[who] ? `saturated (${f(x.saturated[who]!.served, 0)}/s at ${x.saturated[who]!.rate}/s)` : '—';
        const dl = (who: 'ainfera' | 'cluster' | 'portkey') => (x.delta[who] ? `**${f(x.delta[who]!.p50)} / ${f(x.delta[who]!.p99)}**` : '—');
        const lag = Math.max(...[x.direct, x.ainfera, x.cluster, p].map((sum) => sum?.sendLagP99 ?? 0));
        L.push(
          `| ${x.rate}/s | ${pl(x.direct, 'direct')} | ${pl(x.ainfera, 'ainfera')} | ${dl('ainfera')} | ${pl(x.cluster, 'cluster')} | ${dl('cluster')} | ${pl(p, 'portkey')} | ${dl('portkey')} | ${x.ainfera?.errors ?? '—'} / ${x.cluster?.errors ?? '—'} / ${p ? p.errors : '—'} | ${cpuCell(x.ainfera, 'server')} · ${cpuCell(x.ainfera, 'postgres')} · ${cpuCell(x.cluster, 'server')} · ${cpuCell(x.cluster, 'postgres')} · ${cpuCell(p, 'portkey')} | ${f(lag)} |`,
        );
      }
      L.push('');
      if (v.rates.some((x) => x.floor || x.ainfera?.pauses)) {
        L.push(
          `What the latency of one server process is made of, in the same rounds: the **bare-pg floor** (\`bench/floor-pg.ts\`, the statement a dispatch commits and nothing else, through the server's \`ChainWriter\`, on a chain of its own, open loop at the same rate — the commit's own latency, fsync and the chain-head lock included) and the server's main-thread **pauses** while its rounds ran (V8 GC pauses from \`PerformanceObserver\`, event-loop delay from \`monitorEventLoopDelay\` at 5 ms resolution, the time the main thread was runnable but waited for a core, from the scheduler's \`/proc/<pid>/schedstat\`, and the audit appends per commit of its \`ChainWriter\` — above 1 when appends that queued behind a chain's write were committed together; medians of rounds, but max is the slowest single request of all rounds). The event-loop delay includes the waits for a core; latency beyond the floor that is in neither was spent outside the server — in the mock, the database or the load generator.`,
          '',
          '| rate | Ainfera p50 / p99 / max | bare-pg floor p50 / p99 / max | longest GC pause · GC per round | longest event-loop delay | waiting for a core, per request | appends per commit |',
          '|---:|---|---|---|---:|---:|---:|',
        );
        for (const x of v.rates) {
          const a = x.ainfera;
          const pz = a?.pauses;
          L.push(
            `| ${x.rate}/s | ${a ? `${f(a.p50)} / ${f(a.p99)} / ${f(a.max)}` : '—'} | ${x.floor ? `${f(x.floor.p50)} / ${f(x.floor.p99)} / ${f(x.floor.max)}` : '—'} | ${pz ? `${f(pz.gcMaxMs)} ms · ${f(pz.gcTotalMs, 0)} ms` : '—'} | ${pz ? `${f(pz.loopDelayMaxMs)} ms` : '—'} | ${pz && Number.isFinite(pz.runQueueWaitMsPerRequest) ? `${f(pz.runQueueWaitMsPerRequest, 3)} ms` : '—'} | ${pz && Number.isFinite(pz.appendsPerCommit) ? f(pz.appendsPerCommit, 2) : '—'} |`,
          );
        }
        L.push('');
      }
      if (v.rates.some((x) => x.ainfera?.pauses?.phases)) L.push(...phaseTable(v.rates));
    }
    const errs = r.overhead.variants.flatMap((v) => v.rates.flatMap((x) => [x.ainfera, x.cluster, x.portkey, x.direct])).filter((s): s is RoundSummary => !!s && s.errors > 0);
    if (errs.length) L.push(`Error samples: ${errs.map((s) => JSON.stringify(s.errorSamples)).join('; ').slice(0, 600)}`, '');
  }

  if (r.throughput) {
    const tp = r.throughput;
    L.push('## 2. Dispatch throughput vs the database floor', '');
    L.push(
      `Highest open-loop arrival rate with p99 ≤ ${tp.p99LimitMs} ms and no errors, by step search (grow ×${r.config.throughput.growth} until a step fails, then bisect to ${r.config.throughput.resolution * 100}%; ${r.config.throughput.stepMs / 1000} s per step). **Floor** = \`bench/floor-pg.ts\`: a bare \`pg\` pool (pipelining, as the server's audit writer's) sending the statement \`persistDispatch\` sends — the inference row as a CTE, the chain-head upsert that locks the chain and finishes the envelope hash in SQL, and the audit event (built with the server's own \`appendWithRow\`) — through the server's own \`ChainWriter\` (alone in autocommit, or — for the appends that queued while the chain's previous write ran — BEGIN, their statements and COMMIT sent at once, one transaction), against the same database. Each appends to one tenant's chain, so writes serialize on its head row; **Ainfera ×${tp.clusterWorkers}** = the same server as \`WEB_CONCURRENCY=${tp.clusterWorkers}\` runs it, on the same database; requests come from ${r.config.clients} clients in turn. Afterwards the chains verify: ours ${tp.chains.ainfera.valid ? 'valid' : '**INVALID**'} (${tp.chains.ainfera.checked} events), ours ×${tp.clusterWorkers} ${tp.chains.cluster.valid ? 'valid' : '**INVALID**'} (${tp.chains.cluster.checked} events), floor ${tp.chains.floor.valid ? 'valid' : '**INVALID**'} (${tp.chains.floor.checked} events).`,
      '',
    );
    L.push('| | max rate (median of rounds) | rounds | steps of the first round (rate: p99, pass/fail) |', '|---|---:|---|---|');
    for (const [name, x] of [['Ainfera dispatchInference', tp.ainfera], [`Ainfera ×${tp.clusterWorkers} (WEB_CONCURRENCY)`, tp.cluster], ['bare-pg floor', tp.floor]] as const) {
      L.push(`| ${name} | **${f(x.maxRate, 0)} req/s** | ${x.rounds.map((s) => f(s.maxRate, 0)).join(', ')} | ${x.rounds[0]?.steps.map((s) => `${s.rate}: ${f(s.p99, 1)} ms ${s.pass ? '✓' : `✗${s.errors ? ` (${s.errors} err)` : ''}`}`).join(' · ') ?? ''} |`);
    }
    L.push('', `Ratio: **${f(tp.ratio, 2)} ×** the floor; with ${tp.clusterWorkers} server processes **${f(tp.clusterRatio, 2)} ×**.`, '');
  }

  if (r.reads) {
    const rd = r.reads;
  const rd0 = rd?.latency[0];
    L.push('## 4. Reads', '');
    L.push(`\`inferences(first: N) { nodes { id model { slug } provider { slug } agent { id } } }\` with the tenant's admin key, after ${rd.seeded} real dispatches over four models and two providers (${rd.seedErrors} seed errors). Statements counted with the ORM's query logger, authentication included.`, '');
    L.push('| page size | SQL statements per request |', '|---:|---:|');
    for (const s of rd.statements) L.push(`| ${s.pageSize} | ${f(s.perRequest, 1)} |`);
    L.push('', `Statements of one \`first: ${rd.statements[rd.statements.length - 1]?.pageSize}\` request:`, '');
    for (const s of rd.statements[rd.statements.length - 1]?.sample ?? []) L.push(`- \`${s}\``);
    L.push('', 'Latency of `first: 100`, open loop:', '', '| rate | p50 | p90 | p99 | p99.9 | errors | CPU ms/req server · PG |', '|---:|---:|---:|---:|---:|---:|---|');
    for (const x of rd.latency) L.push(`| ${x.rate}/s | ${f(x.p50)} ms | ${f(x.p90)} ms | **${f(x.p99)} ms** | ${f(x.p999)} ms | ${x.errors} | ${cpuCell(x, 'server')} · ${cpuCell(x, 'postgres')} |`);
    L.push('');
  }

  if (r.graphql) {
    const g = r.graphql;
    L.push('## 5. GraphQL layer', '');
    L.push(`\`{ __typename }\` through the server (with a valid agent key: every request authenticates) vs a bare node:http handler answering the same JSON; closed loop, ${g.concurrency} concurrent requests.`, '');
    L.push('| | throughput | p50 | p99 | CPU ms/req: target · PG · load generator |', '|---|---:|---:|---:|---|');
    L.push(`| Ainfera | ${f(g.server.throughput, 0)} req/s | ${f(g.server.p50)} ms | ${f(g.server.p99)} ms | ${cpuCell(g.server, 'server')} · ${cpuCell(g.server, 'postgres')} · ${cpuCell(g.server, 'loadgen')} |`);
    // A reference server's row: no database, its own CPU under 'bare'.
    const referenceRow = (label: string, x: RoundSummary) => `| ${label} | ${f(x.throughput, 0)} req/s | ${f(x.p50)} ms | ${f(x.p99)} ms | ${cpuCell(x, 'bare')} · — · ${cpuCell(x, 'loadgen')} |`;
    const refs = g.references;
    if (refs) L.push(referenceRow('Apollo Server alone', refs.apollo), referenceRow('graphql-js alone', refs.graphqlJs));
    L.push(referenceRow('bare node:http', g.bare));
    L.push('', `Ratio: **${f(g.ratio, 2)} ×**. The load generator shares the cores; its CPU per request against the bare handler shows how much of that figure is the generator's own limit.`);
    if (refs) {
      L.push(
        '',
        `**Apollo Server alone** is Apollo Server 5 on node:http as src/server.ts runs it (\`executeHTTPGraphQLRequest\`, the landing-page and cache-control plugins off) with a one-field schema and nothing of ours: no authentication, no logging, no armor — **${f(refs.apolloRatio, 2)} ×** the bare handler. ` +
          `**graphql-js alone** parses and validates each query once and executes it per request — **${f(refs.graphqlJsRatio, 2)} ×**. ` +
          `What lies between our figure and Apollo's is ours (authentication, the request log, armor's rules); what lies between Apollo's and graphql-js's is Apollo's request pipeline.`,
      );
    }
    L.push('');
  }

  if (r.coverage || r.chain) L.push('## 6. Cell coverage and chain verification', '');
  if (r.coverage) {
    const c = r.coverage;
    if (c.status === 'ok' && c.markdown) L.push(demoteHeadings(c.markdown.trim(), 2), '');
    else L.push(`**Cell coverage benchmark: ${c.status}.** ${c.error?.split('\n')[0] ?? ''}`, '');
  }
  if (r.chain) {
    const c = r.chain;
    L.push(
      `Chain of ${c.events} valid events (sealed with the server's envelope code in ${c.seed.sealMs} ms, inserted in ${c.seed.insertMs} ms). \`verifyChain\` in the server process (streams the chain from PostgreSQL in batches and recomputes every hash): runs ${c.verify.runsMs.join(', ')} ms → **${f(c.verify.eventsPerSec, 0)} events/s** (median), ${c.verify.valid ? 'valid' : 'INVALID'}, ${c.verify.checked} checked. Through GraphQL \`auditChain { verify }\`: ${c.graphql.error ? `error ${c.graphql.error}` : `${c.graphql.ms} ms, ${f(c.graphql.eventsPerSec, 0)} events/s, valid = ${c.graphql.valid}`}.${c.verify.cpuUsPerEvent ? ` CPU per event (medians of runs, utime + stime): the server process ${f(c.verify.cpuUsPerEvent.server, 1)} µs — nearly all of it in its verifier threads, each on its own connection, so the main thread's profile (under the target, when not met) is nearly empty — and PostgreSQL ${f(c.verify.cpuUsPerEvent.postgres, 1)} µs; at 100k events/s their sum must stay under 20 µs on two cores.` : ''}`,
      '',
    );
  }

  if (r.memory) {
    const m = r.memory;
    L.push('## 7. Memory and CPU', '');
    L.push(`A fresh server (new database) takes dispatches from ${m.concurrency} concurrent clients in a closed loop (0 ms mock) — as fast as it answers, ${f(m.throughput, 0)} dispatches/s over the measured window, without the unbounded queue an overloaded open loop would build; VmRSS from /proc/<pid>/status after each chunk (${m.errors} errors in total).`, '');
    L.push('| dispatches | VmRSS | VmHWM | V8 heap used | chunk p99 |', '|---:|---:|---:|---:|---:|');
    for (const s of m.samples) L.push(`| ${s.dispatches} | ${mib(s.rssKiB)} | ${mib(s.hwmKiB)} | ${mib(s.heapUsedKiB)} | ${f(s.p99, 1)} ms |`);
    L.push('', `RSS ratio ${m.checkpoints.map((k) => k.dispatches).join(' → ')}: **${f(m.rssRatio, 3)} ×**. CPU (utime + stime) over the ${m.cpu.dispatches} dispatches between the checkpoints: server **${f(m.cpu.serverMsPerDispatch, 3)} ms per dispatch** (user ${f(m.cpu.split.user, 3)} + kernel ${f(m.cpu.split.sys, 3)}; main thread ${f(m.cpu.split.mainThread, 3)}, V8/libuv helper threads ${f(m.cpu.split.otherThreads, 3)}), PostgreSQL ${f(m.cpu.postgresMsPerDispatch, 3)} ms per dispatch.`, '');
  }

  L.push('## Where the server spends its time', '');
  const shown = new Set<ProfileSummary>();
  if (r.memory?.profile) {
    L.push(...profileSection(r.memory.profile, 'Per dispatch'));
    shown.add(r.memory.profile);
  }
  for (const t of r.targets) {
    if (t.met === false && t.profile && !shown.has(t.profile)) {
      L.push(...profileSection(t.profile, `Why "${t.text}" is not met`));
      shown.add(t.profile);
    }
  }
  if (!shown.size) L.push('No profile was taken in this run (the memory scenario takes the dispatch profile).', '');
  return `${L.join('\n')}\n`;
}
