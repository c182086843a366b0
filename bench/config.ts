/** How long and how hard each scenario runs: the full run behind RESULTS.md, and --quick (about a minute or two). */
export interface BenchConfig {
  quick: boolean;
  /** Rounds per compared target; each figure is the median over rounds. */
  rounds: number;
  /** Length of one measured round of one target. */
  roundMs: number;
  warmupMs: number;
  overhead: { variants: { mockLatencyMs: number; rates: number[] }[] };
  /** Ainfera also as WEB_CONCURRENCY=workers runs it (overhead and throughput), beside the single process. */
  cluster: { workers: number };
  /** Clients the dispatch loads come from, each with its own connections (bench/loadgen.ts). */
  clients: number;
  throughput: { stepMs: number; maxSteps: number; startRate: number; growth: number; resolution: number; p99LimitMs: number; timeoutMs: number; maxRate: number };
  /** Latency is measured at each rate; the target is judged at the first (a few dashboards polling). */
  reads: { seed: number; rates: number[]; pageSizes: number[] };
  graphql: { concurrency: number };
  chain: { events: number };
  memory: { checkpoints: number[]; concurrency: number; chunk: number };
  /** Profiled windows: a closed loop of this many concurrent requests, so the server is busy but never queues without bound. */
  profile: { ms: number; concurrency: number };
}

export function benchConfig(quick: boolean): BenchConfig {
  if (quick) {
    return {
      quick,
      rounds: 1,
      roundMs: 2_000,
      warmupMs: 1_500,
      overhead: { variants: [{ mockLatencyMs: 0, rates: [100, 200, 500] }, { mockLatencyMs: 50, rates: [200] }] },
      cluster: { workers: 2 },
      clients: 8,
      throughput: { stepMs: 2_000, maxSteps: 5, startRate: 50, growth: 2, resolution: 0.2, p99LimitMs: 50, timeoutMs: 2_000, maxRate: 5_000 },
      reads: { seed: 1_000, rates: [20, 50], pageSizes: [1, 10, 100] },
      graphql: { concurrency: 32 },
      chain: { events: 25_000 },
      memory: { checkpoints: [500, 2_000], concurrency: 8, chunk: 500 },
      profile: { ms: 2_000, concurrency: 4 },
    };
  }
  return {
    quick,
    rounds: 3,
    roundMs: 6_000,
    warmupMs: 5_000,
    overhead: { variants: [{ mockLatencyMs: 0, rates: [100, 200, 500] }, { mockLatencyMs: 50, rates: [100, 200, 500] }] },
    cluster: { workers: 2 },
    clients: 8,
    throughput: { stepMs: 6_000, maxSteps: 10, startRate: 50, growth: 1.6, resolution: 0.05, p99LimitMs: 50, timeoutMs: 2_000, maxRate: 5_000 },
    reads: { seed: 2_000, rates: [20, 50], pageSizes: [1, 10, 100] },
    graphql: { concurrency: 32 },
    chain: { events: 120_000 },
    memory: { checkpoints: [10_000, 100_000], concurrency: 8, chunk: 5_000 },
    profile: { ms: 6_000, concurrency: 4 },
  };
}
