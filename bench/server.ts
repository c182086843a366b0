/**
 * The real Ainfera server for the benchmark, in a process of its own: `startApp` on an embedded
 * PostgreSQL under --data-dir, providers pointed at the loopback mock.
 *
 *   node dist/bench/server.js --data-dir DIR --anthropic URL --openai URL   (after `npm run build`)
 *
 * Spawned by bench/run.ts with an IPC channel. It sends `{ type: 'ready', port, pid, dbUrl, demo }`
 * (demo = the demo tenant's keys) once listening — on stdout instead when run by hand — and then
 * answers control messages (`{ id, cmd, ...args }` → `{ id, ok, result }`):
 * newTenant, queries (start/stop counting the ORM's SQL), profile (start/stop the V8 sampling
 * profiler in-process, so the profile covers exactly a measured window), verifyChain, memory, pg, stop.
 * Its stdout/stderr (pino logs, the ORM's query lines are NOT printed) go to a log file.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import type { AddressInfo } from 'node:net';
import { constants as perfConstants, type IntervalHistogram, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import type { Histogram } from 'prom-client';
import { startApp } from '../src/app.js';
import { createLogger } from '../src/logger.js';
import { verifyChain } from '../src/modules/audit/audit.service.js';
import { createTenant } from '../src/modules/tenancy/tenancy.service.js';
import { benchServerEnv } from './server-env.js';
import type { ServerPauses } from './stack.js';
import { mapPhases, type PhaseName, type PhaseTail, TAIL_BOUNDS } from './stats.js';

// The ORM's query logger: off until asked (formatting every statement costs CPU), then counted.
// MikroORM prints `[query] <sql> [took N ms, …]` with ANSI colours.
const ANSI = /\u001b\[[0-9;]*m/g;
let counting = false;
let statements: string[] = [];
function ormLog(message: string): void {
  if (!counting) return;
  const line = message.replace(ANSI, '');
  if (line.startsWith('[query] ')) statements.push(line.slice(8).replace(/ \[took .*$/, ''));
}

// Production settings, as deployed (bench/server-env.ts).
const env = benchServerEnv();
const logger = createLogger(env);
const app = await startApp(env, logger, { seedDemo: true, ormOptions: { debug: false, logger: ormLog } });
const orm = app.deps.orm;
let session: Session | null = null;
let tenantSeq = 0;

// Pauses of the main thread during a measured window: V8's GC pauses (by kind), the event loop's
// delay, and the time it was runnable but waited for a core — what a latency tail made of stalls,
// not saturation, is made of.
const GC_KIND: Record<number, string> = {
  [perfConstants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [perfConstants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
  [perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental marking',
  [perfConstants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks',
};
let pauses: { gc: { kind: string; ms: number }[]; observer: PerformanceObserver; loop: IntervalHistogram; waitNs: number; writes: ChainWrites; phases: Record<PhaseName, PhaseTail> } | null = null;

type ChainWrites = ServerPauses['chainWrites'];

/** Appends and commits so far, from the ChainWriter's histogram (its sum counts appends, its count commits). */
async function chainWrites(): Promise<ChainWrites> {
  const { values } = await app.deps.metrics.chainCommitAppends.get();
  const of = (suffix: string) => values.find((v) => v.metricName === `ainfera_audit_chain_commit_appends_${suffix}`)?.value ?? 0;
  return { appends: of('sum'), commits: of('count') };
}

/** The dispatch, provider-attempt and audit-append histograms so far, every label summed: see ServerPauses.phases. */
async function phaseTails(): Promise<Record<PhaseName, PhaseTail>> {
  const m = app.deps.metrics;
  const read = async (h: Histogram<string>): Promise<PhaseTail> => {
    const { values } = await h.get();
    const total = (suffix: string, le?: number) => values.filter((v) => v.metricName?.endsWith(suffix) && (le === undefined || Number(v.labels.le) === le / 1000)).reduce((t, v) => t + v.value, 0);
    const count = total('_count');
    return { count, sumMs: total('_sum') * 1000, over: Object.fromEntries(TAIL_BOUNDS.map((b) => [b, count - total('_bucket', b)])) as PhaseTail['over'] };
  };
  return { dispatch: await read(m.dispatchDuration), provider: await read(m.providerAttemptDuration), append: await read(m.chainAppendDuration) };
}

const phaseDelta = (now: PhaseTail, then: PhaseTail): PhaseTail => ({
  count: now.count - then.count,
  sumMs: now.sumMs - then.sumMs,
  over: Object.fromEntries(TAIL_BOUNDS.map((b) => [b, now.over[b] - then.over[b]])) as PhaseTail['over'],
});

/** Time the main thread has spent runnable but waiting for a core (/proc/self/schedstat, field 2), ns; 0 where the kernel does not say. */
function runQueueWaitNs(): number {
  try {
    return Number(fs.readFileSync('/proc/self/schedstat', 'utf8').split(' ')[1]) || 0;
  } catch {
    return 0;
  }
}
async function pausesReport(): Promise<ServerPauses> {
  if (!pauses) throw new Error('pauses not started');
  const { gc, observer, loop, waitNs, writes, phases } = pauses;
  observer.disconnect();
  loop.disable();
  pauses = null;
  const byKind: Record<string, { count: number; totalMs: number; maxMs: number }> = {};
  for (const p of gc) {
    const k = (byKind[p.kind] ??= { count: 0, totalMs: 0, maxMs: 0 });
    k.count++;
    k.totalMs += p.ms;
    k.maxMs = Math.max(k.maxMs, p.ms);
  }
  const ms = (ns: number) => ns / 1e6;
  const now = await chainWrites();
  const tails = await phaseTails();
  return { gc: byKind, gcMaxMs: Math.max(0, ...gc.map((p) => p.ms)), loopDelay: { p50: ms(loop.percentile(50)), p99: ms(loop.percentile(99)), max: ms(loop.max) }, runQueueWaitMs: ms(runQueueWaitNs() - waitNs), chainWrites: { appends: now.appends - writes.appends, commits: now.commits - writes.commits }, phases: mapPhases((name) => phaseDelta(tails[name], phases[name])) };
}

type Msg = { id: number; cmd: string; [k: string]: unknown };

async function handle(msg: Msg): Promise<unknown> {
  switch (msg.cmd) {
    case 'newTenant': {
      tenantSeq++;
      const slug = `bench-${String(msg.label ?? 't')}-${tenantSeq}-${randomBytes(3).toString('hex')}`;
      return createTenant(orm.em.fork(), { slug, ownerHandle: `${slug}-owner` });
    }
    case 'queries': {
      if (msg.action === 'start') {
        statements = [];
        counting = true;
        orm.config.set('debug', ['query']); // set(), not the logger's setDebugMode: any config.set() re-syncs the logger from `debug`
        return null;
      }
      counting = false;
      orm.config.set('debug', false);
      const out = statements;
      statements = [];
      return out;
    }
    case 'profile': {
      if (msg.action === 'start') {
        session = new Session();
        session.connect();
        await session.post('Profiler.enable');
        await session.post('Profiler.setSamplingInterval', { interval: Number(msg.intervalUs ?? 500) });
        await session.post('Profiler.start');
        return null;
      }
      if (!session) throw new Error('profiler not started');
      const { profile } = await session.post('Profiler.stop');
      await session.post('Profiler.disable');
      session.disconnect();
      session = null;
      return profile;
    }
    case 'verifyChain': {
      const t0 = performance.now();
      const result = await verifyChain(orm.em.fork(), String(msg.chain));
      return { ...result, ms: performance.now() - t0 };
    }
    case 'pauses': {
      if (msg.action === 'start') {
        if (pauses) await pausesReport();
        const gc: { kind: string; ms: number }[] = [];
        const observer = new PerformanceObserver((list) => {
          for (const e of list.getEntries()) gc.push({ kind: GC_KIND[(e as unknown as { detail: { kind: number } }).detail.kind] ?? 'other', ms: e.duration });
        });
        observer.observe({ entryTypes: ['gc'] });
        const loop = monitorEventLoopDelay({ resolution: 5 });
        loop.enable();
        pauses = { gc, observer, loop, waitNs: runQueueWaitNs(), writes: await chainWrites(), phases: await phaseTails() };
        return null;
      }
      return pausesReport();
    }
    case 'memory':
      return process.memoryUsage();
    case 'pg': {
      const em = orm.em.fork();
      const [version] = await em.execute<{ server_version: string }[]>('/* benchPgVersion */ show server_version');
      const [sync] = await em.execute<{ synchronous_commit: string }[]>('/* benchPgSync */ show synchronous_commit');
      const [fsync] = await em.execute<{ fsync: string }[]>('/* benchPgFsync */ show fsync');
      const [buffers] = await em.execute<{ shared_buffers: string }[]>('/* benchPgBuffers */ show shared_buffers');
      return { version: version.server_version, synchronousCommit: sync.synchronous_commit, fsync: fsync.fsync, sharedBuffers: buffers.shared_buffers };
    }
    case 'stop':
      setImmediate(() => void shutdown());
      return null;
    default:
      throw new Error(`unknown command ${msg.cmd}`);
  }
}

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  try {
    await app.stop();
  } finally {
    process.exit(0);
  }
}

process.on('message', (msg: Msg) => {
  handle(msg).then(
    (result) => process.send?.({ id: msg.id, ok: true, result }),
    (err: Error) => process.send?.({ id: msg.id, ok: false, error: err.stack ?? String(err) }),
  );
});
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
process.on('disconnect', () => void shutdown()); // the orchestrator died: don't leave PostgreSQL behind

const ready = { type: 'ready', pid: process.pid, port: (app.server.http.address() as AddressInfo).port, dbUrl: app.database.url, demo: app.demo };
if (process.send) process.send(ready);
else process.stdout.write(`${JSON.stringify(ready)}\n`); // run by hand: the same facts on stdout
