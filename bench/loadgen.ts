/**
 * The HTTP load generator, a process of its own so its CPU is not the server's.
 *
 *   node --import tsx bench/loadgen.ts '<job JSON>'   → one result JSON line
 *   node --import tsx bench/loadgen.ts -              → reads jobs from stdin, one result line each
 *
 * undici keep-alive pools (one per origin and client, kept between jobs so connections stay warm)
 * with enough sockets that no request waits for a free one inside the generator.
 * Latency percentiles are computed from every sample (see openloop.ts).
 */
import { Pool } from 'undici';
import { type LoadResult, runClosedLoop, runOpenLoop, serveJobs } from './openloop.js';

export interface HttpTarget {
  origin: string;
  path: string;
  headers: Record<string, string>;
  /** Request bodies, used round-robin (one is the common case). */
  bodies: string[];
  /** A success is this status and a body containing `contains` (if given) and not `notContains`. */
  expect: { status: number; contains?: string; notContains?: string };
}

export interface LoadJob {
  mode: 'open' | 'closed';
  target: HttpTarget;
  /** open: requests per second. */
  rate?: number;
  /** closed: workers. */
  concurrency?: number;
  /** closed: stop after this many requests (durationMs still bounds the job). */
  maxRequests?: number;
  durationMs: number;
  /** Per-request timeout (counted as an error). */
  timeoutMs?: number;
  /** open: how long to wait for stragglers after the last send. */
  drainMs?: number;
  connections?: number;
  /**
   * Clients the requests come from, in turn, each with its own keep-alive pool (default 1): like
   * several agents' gateways. One pool reuses its first idle connection, so at a low rate nearly
   * every request would ride one connection — and a multi-process server, which spreads
   * connections, not requests, would serve them from one process.
   */
  clients?: number;
}

const pools = new Map<string, Pool>();
function pool(origin: string, connections: number, client: number): Pool {
  const key = `${origin}#${connections}#${client}`;
  let p = pools.get(key);
  if (!p) {
    p = new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000 });
    pools.set(key, p);
  }
  return p;
}

export async function runJob(job: LoadJob): Promise<LoadResult> {
  const { target } = job;
  const timeoutMs = job.timeoutMs ?? 10_000;
  const clients = Array.from({ length: job.clients ?? 1 }, (_, k) => pool(target.origin, job.connections ?? 512, k));
  const headers = { 'content-type': 'application/json', ...target.headers };
  const bodies = target.bodies;
  const op = async (i: number): Promise<string | null> => {
    const res = await clients[i % clients.length].request({
      method: 'POST',
      path: target.path,
      headers,
      body: bodies[i % bodies.length],
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const text = await res.body.text();
    if (res.statusCode !== target.expect.status) return `HTTP ${res.statusCode}: ${text.slice(0, 120)}`;
    if (target.expect.contains !== undefined && !text.includes(target.expect.contains)) return `unexpected body: ${text.slice(0, 120)}`;
    if (target.expect.notContains !== undefined && text.includes(target.expect.notContains)) return `error body: ${text.slice(0, 160)}`;
    return null;
  };
  if (job.mode === 'closed') {
    return runClosedLoop({ concurrency: job.concurrency ?? 32, durationMs: job.durationMs, maxRequests: job.maxRequests ?? 5_000_000 }, op);
  }
  if (!job.rate) throw new Error('open-loop job needs a rate');
  return runOpenLoop({ rate: job.rate, durationMs: job.durationMs, drainMs: job.drainMs ?? timeoutMs + 1000 }, op);
}

await serveJobs(runJob);
