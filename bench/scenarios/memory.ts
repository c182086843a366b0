/**
 * Scenario 7 — memory and CPU: a fresh server (new database) takes dispatches from a closed loop
 * of N concurrent clients (as fast as it answers, never an unbounded queue: RSS then measures
 * the server, not a backlog of waiting requests); its VmRSS (/proc/<pid>/status) is read after
 * every chunk, and the server's CPU (utime + stime from /proc/<pid>/stat, all threads) is
 * divided by the dispatches between the first and the last checkpoint. Then one window with the
 * sampling profiler on shows where that CPU goes.
 */
import path from 'node:path';
import type { TenantKeys } from '../../src/modules/tenancy/tenancy.service.js';
import type { BenchConfig } from '../config.js';
import type { ProfileSummary } from '../profile.js';
import { cpuBreakdown, cpuMsOf, memoryKiB } from '../proc.js';
import { dispatchTarget, type Stack } from '../stack.js';
import { round } from '../stats.js';
import { profiled } from './profiled.js';

export interface MemorySample {
  dispatches: number;
  rssKiB: number;
  hwmKiB: number;
  heapUsedKiB: number;
  p99: number;
}

export interface MemoryResult {
  concurrency: number;
  /** Dispatches per second over the measured window. */
  throughput: number;
  checkpoints: { dispatches: number; rssKiB: number }[];
  samples: MemorySample[];
  rssRatio: number;
  errors: number;
  cpu: {
    dispatches: number;
    serverMs: number;
    postgresMs: number;
    serverMsPerDispatch: number;
    postgresMsPerDispatch: number;
    /** Server ms per dispatch: user vs kernel, main thread vs V8/libuv helper threads. */
    split: { user: number; sys: number; mainThread: number; otherThreads: number };
  };
  profile: ProfileSummary | null;
}

export async function runMemory(stack: Stack, cfg: BenchConfig, log: (s: string) => void, profileDir: string): Promise<MemoryResult> {
  const m = cfg.memory;
  const mock = await stack.mock(0);
  const server = await stack.startServer(mock, { fresh: true, label: 'memory' });
  const keys = await server.ipc.call<TenantKeys>('newTenant', { label: 'memory' });
  const target = dispatchTarget(server, keys.agentKey);
  const procs = () => ({ server: [server.pid], postgres: stack.pgPids() });
  const checkpoints = [...m.checkpoints].sort((a, b) => a - b);
  const last = checkpoints[checkpoints.length - 1];

  const samples: MemorySample[] = [];
  const marks: { dispatches: number; rssKiB: number; ok: number; serverCpu: ReturnType<typeof cpuBreakdown>; pgCpu: number; at: number }[] = [];
  let sent = 0;
  let ok = 0;
  let errors = 0;
  while (sent < last) {
    const boundary = Math.min(last, checkpoints.find((c) => c > sent) ?? last, sent + m.chunk);
    const n = boundary - sent;
    const res = await stack.load({ mode: 'closed', target, concurrency: m.concurrency, maxRequests: n, durationMs: 30 * 60_000, timeoutMs: 10_000 }, procs());
    sent += res.scheduled;
    ok += res.ok;
    errors += res.errors;
    const mem = memoryKiB(server.pid);
    const heap = await server.ipc.call<{ heapUsed: number }>('memory');
    samples.push({ dispatches: sent, rssKiB: mem.rss, hwmKiB: mem.hwm, heapUsedKiB: Math.round(heap.heapUsed / 1024), p99: round(res.latency.p99) });
    log(`memory: ${sent} dispatches, RSS ${Math.round(mem.rss / 1024)} MiB, heap ${Math.round(heap.heapUsed / 1048576)} MiB, p99 ${res.latency.p99.toFixed(1)} ms, errors ${res.errors}`);
    if (checkpoints.includes(sent)) marks.push({ dispatches: sent, rssKiB: mem.rss, ok, serverCpu: cpuBreakdown(server.pid), pgCpu: cpuMsOf(stack.pgPids()), at: performance.now() });
  }
  const first = marks[0];
  const end = marks[marks.length - 1];
  const windowOk = end.ok - first.ok;
  const delta = (k: keyof ReturnType<typeof cpuBreakdown>) => end.serverCpu[k] - first.serverCpu[k];
  const serverMs = delta('user') + delta('sys');
  const per = (ms: number) => round(ms / windowOk, 3);
  const postgresMs = end.pgCpu - first.pgCpu;

  const profile = await profiled(stack, { label: `dispatchInference, closed loop ×${cfg.profile.concurrency}`, file: path.join(profileDir, 'dispatch.cpuprofile') }, () =>
    stack.load({ mode: 'closed', target, concurrency: cfg.profile.concurrency, durationMs: cfg.profile.ms, timeoutMs: 10_000 }, procs()),
  );
  return {
    concurrency: m.concurrency,
    throughput: round((windowOk * 1000) / (end.at - first.at), 1),
    checkpoints: marks.map((k) => ({ dispatches: k.dispatches, rssKiB: k.rssKiB })),
    samples,
    rssRatio: round(end.rssKiB / first.rssKiB, 3),
    errors,
    cpu: {
      dispatches: windowOk,
      serverMs: Math.round(serverMs),
      postgresMs: Math.round(postgresMs),
      serverMsPerDispatch: round(serverMs / windowOk, 3),
      split: { user: per(delta('user')), sys: per(delta('sys')), mainThread: per(delta('mainThread')), otherThreads: per(delta('otherThreads')) },
      postgresMsPerDispatch: round(postgresMs / windowOk, 3),
    },
    profile,
  };
}
