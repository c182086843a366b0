/**
 * The load engine shared by the HTTP load generator and the bare-pg floor.
 *
 * Open loop: request i is due at t0 + i/rate whatever happened to the earlier ones, and its
 * latency runs from that *scheduled* time to completion, so queueing anywhere (client, server,
 * database) shows in the numbers instead of silently lowering the offered load. The send lag
 * (actual send − scheduled) is reported separately so a saturated generator is visible.
 *
 * Closed loop (for saturation throughput): `concurrency` workers each send the next request as
 * soon as the previous one finished, for a fixed time.
 */

/** One operation: resolves to null on success or an error description. */
export type Op = (i: number) => Promise<string | null>;

export interface Percentiles {
  n: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export interface LoadResult {
  mode: 'open' | 'closed';
  /** Offered rate (open loop). */
  rate: number | null;
  concurrency: number | null;
  scheduled: number;
  sent: number;
  ok: number;
  errors: number;
  /** Requests still unfinished when the drain timeout passed (counted as errors too). */
  unfinished: number;
  /** A few distinct error descriptions with their counts. */
  errorSamples: Record<string, number>;
  /** From the first send to the last completion. */
  elapsedMs: number;
  /** Successful completions per second over elapsedMs. */
  throughput: number;
  /** Latency of successful requests, ms (open loop: from the scheduled time). */
  latency: Percentiles;
  /** Open loop only: how late requests were sent, ms. */
  sendLag: Percentiles | null;
}

export function percentiles(values: Float64Array | number[]): Percentiles {
  const a = Float64Array.from(values).sort();
  const n = a.length;
  if (n === 0) return { n: 0, min: NaN, p50: NaN, p90: NaN, p99: NaN, p999: NaN, max: NaN, mean: NaN };
  // Nearest-rank percentiles over every sample.
  const at = (q: number) => a[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))];
  let sum = 0;
  for (let i = 0; i < n; i++) sum += a[i];
  return { n, min: a[0], p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: a[n - 1], mean: sum / n };
}

function recordError(samples: Record<string, number>, msg: string): void {
  const key = msg.slice(0, 160);
  if (key in samples || Object.keys(samples).length < 8) samples[key] = (samples[key] ?? 0) + 1;
}

/** Open loop at `rate` per second for `durationMs` (count = rate × duration), then wait up to `drainMs` for stragglers. */
export async function runOpenLoop(opts: { rate: number; durationMs: number; drainMs: number }, op: Op): Promise<LoadResult> {
  const total = Math.max(1, Math.round((opts.rate * opts.durationMs) / 1000));
  const interval = 1000 / opts.rate;
  const latencies = new Float64Array(total);
  const lags = new Float64Array(total);
  const errorSamples: Record<string, number> = {};
  let ok = 0;
  let errors = 0;
  let sent = 0;
  let done = 0;
  let lastDone = 0;
  let allDone: () => void = () => {};
  const finished = new Promise<void>((r) => (allDone = r));

  const fire = (i: number, due: number) => {
    sent++;
    lags[i] = performance.now() - due;
    op(i).then(
      (err) => {
        const now = performance.now();
        lastDone = now;
        if (err === null) latencies[ok++] = now - due;
        else {
          errors++;
          recordError(errorSamples, err);
        }
        if (++done === total) allDone();
      },
      (e: Error) => {
        lastDone = performance.now();
        errors++;
        recordError(errorSamples, e.message ?? String(e));
        if (++done === total) allDone();
      },
    );
  };

  const t0 = performance.now() + 5;
  let next = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (next < total && t0 + next * interval <= now) {
        fire(next, t0 + next * interval);
        next++;
      }
      if (next >= total) return resolve();
      // Timers are coarse (≥ 1 ms); a late send still counts from its scheduled time.
      setTimeout(tick, Math.max(0, Math.floor(t0 + next * interval - performance.now())));
    };
    setTimeout(tick, 5);
  });
  let drainTimer: NodeJS.Timeout | undefined;
  await Promise.race([finished, new Promise<void>((r) => (drainTimer = setTimeout(r, opts.drainMs)))]);
  clearTimeout(drainTimer);
  const unfinished = total - done;
  const elapsedMs = (done === total ? lastDone : performance.now()) - t0;
  return {
    mode: 'open',
    rate: opts.rate,
    concurrency: null,
    scheduled: total,
    sent,
    ok,
    errors: errors + unfinished,
    unfinished,
    errorSamples: unfinished ? { ...errorSamples, [`unfinished after drain of ${opts.drainMs} ms`]: unfinished } : errorSamples,
    elapsedMs,
    throughput: (ok * 1000) / elapsedMs,
    latency: percentiles(latencies.subarray(0, ok)),
    sendLag: percentiles(lags.subarray(0, sent)),
  };
}

/** Closed loop: `concurrency` workers back to back for `durationMs`; only completions inside the window count. */
export async function runClosedLoop(opts: { concurrency: number; durationMs: number; maxRequests: number }, op: Op): Promise<LoadResult> {
  const latencies: number[] = [];
  const errorSamples: Record<string, number> = {};
  let errors = 0;
  let sent = 0;
  const t0 = performance.now();
  const end = t0 + opts.durationMs;
  const worker = async () => {
    while (performance.now() < end && sent < opts.maxRequests) {
      const i = sent++;
      const start = performance.now();
      let err: string | null;
      try {
        err = await op(i);
      } catch (e) {
        err = (e as Error).message ?? String(e);
      }
      const now = performance.now();
      if (now > end) break; // finished after the window closed: not counted either way
      if (err === null) latencies.push(now - start);
      else {
        errors++;
        recordError(errorSamples, err);
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  const elapsedMs = Math.min(performance.now(), end) - t0;
  return {
    mode: 'closed',
    rate: null,
    concurrency: opts.concurrency,
    scheduled: sent,
    sent,
    ok: latencies.length,
    errors,
    unfinished: 0,
    errorSamples,
    elapsedMs,
    throughput: (latencies.length * 1000) / elapsedMs,
    latency: percentiles(latencies),
    sendLag: null,
  };
}

/** A job read from argv or stdin: one JSON document per line. */
export async function serveJobs<J>(run: (job: J) => Promise<unknown>): Promise<void> {
  const fromArgv = process.argv[2];
  if (fromArgv && fromArgv !== '-') {
    process.stdout.write(`${JSON.stringify(await run(JSON.parse(fromArgv) as J))}\n`);
    process.exit(0);
  }
  const readline = await import('node:readline');
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    if (!line.trim()) continue;
    let out: unknown;
    try {
      out = await run(JSON.parse(line) as J);
    } catch (err) {
      out = { fatal: (err as Error).stack ?? String(err) };
    }
    process.stdout.write(`${JSON.stringify(out)}\n`);
  }
  process.exit(0);
}
