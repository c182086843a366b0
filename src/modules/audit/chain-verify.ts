/**
 * Chain verification against the database: stream a range of a chain's events in seq order
 * straight into a ChainVerifier (envelope.ts), on whichever connection the caller holds — the
 * ORM's pool in process, or a worker thread's own connection (chain-verify.worker.ts).
 */
import { Worker } from 'node:worker_threads';
import pg from 'pg';
import { ChainVerifier, type RangeResult, type StoredEventText } from './envelope.js';

/** The events of `chain` with after < seq ≤ upTo, verified as if the chain started at fromSeq. */
export interface RangeSpec {
  chain: string;
  fromSeq: number;
  after: number;
  upTo: number;
}

/** A bound beyond any int4 seq, for the open end of the last range. */
export const SEQ_MAX = 2_147_483_648;

/** Rows per statement: large enough that the per-statement cost vanishes, small enough to stop soon after a failure. */
const BATCH = 10_000;

const SELECT = `/* verifyAuditRange */ select seq, v, type, occurred_at, payload, prev_hash, hash from audit_event
  where chain = $1 and seq > $2::bigint and seq <= $3::bigint order by seq limit $4`;

/**
 * Every column as the text PostgreSQL sent, decoded here: the same values the pg driver's default
 * parsers give (int columns through parseInt, text and char as sent), whatever parsers the
 * connection has registered, and no per-row object from the driver. The payload stays text: the
 * verifier hashes it as stored when it is already canonical (eventHashOfText), else parses it.
 */
const AS_TEXT = { getTypeParser: () => (text: string) => text };

/** The one part of a pg client this needs (a pool connection or a worker's own client). */
export interface QueryTarget {
  query(query: pg.Query): unknown;
}

/**
 * Rows arrive as the driver parses them off the socket and are checked right away (`row` events,
 * nothing accumulated), so PostgreSQL produces the next rows while these are hashed, and memory
 * stays at one socket buffer whatever the range's length.
 */
export async function verifyRange(client: QueryTarget, spec: RangeSpec): Promise<RangeResult> {
  const verifier = new ChainVerifier(spec.chain, { seq: spec.fromSeq, prevHash: null });
  const { chain } = spec;
  let after = spec.after;
  for (;;) {
    let rows = 0;
    let last = after;
    await new Promise<void>((resolve, reject) => {
      const config: pg.QueryArrayConfig = { text: SELECT, values: [chain, after, spec.upTo, BATCH], rowMode: 'array', types: AS_TEXT as pg.CustomTypesConfig };
      const query = new pg.Query(config as unknown as pg.QueryConfig);
      query.on('row', (r: string[]) => {
        rows++;
        if (verifier.failure) return;
        const seq = parseInt(r[0], 10);
        last = seq;
        const event: StoredEventText = { v: parseInt(r[1], 10), chain, seq, type: r[2], occurredAt: r[3], payloadText: r[4], prevHash: r[5], hash: r[6] };
        verifier.push(event);
      });
      query.on('end', () => resolve());
      query.on('error', reject);
      client.query(query);
    });
    if (verifier.failure || rows < BATCH) return verifier.rangeResult();
    after = last;
  }
}

/** One verification per worker thread, each on its own connection, over ranges of a long chain. */
interface Pending {
  resolve(result: RangeResult): void;
  reject(err: Error): void;
}
type WorkerReply = { id: number; result: RangeResult } | { id: number; error: string };

class VerifyWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  dead = false;

  constructor() {
    this.worker = startWorker();
    this.worker.unref();
    this.worker.on('message', (reply: WorkerReply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) this.worker.unref();
      if ('error' in reply) p.reject(new Error(reply.error));
      else p.resolve(reply.result);
    });
    const die = (err: Error) => {
      this.dead = true;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    this.worker.on('error', die);
    this.worker.on('exit', (code) => die(new Error(`chain verification worker exited with code ${code}`)));
  }

  verify(url: string, spec: RangeSpec): Promise<RangeResult> {
    const id = this.nextId++;
    // Referenced while it works, so a short-lived process (the CLI) waits for the answer.
    this.worker.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, url, spec });
    });
  }
}

/**
 * The worker module next to this one: chain-verify.worker.js when compiled, the .ts source under
 * tsx or vitest, where the worker first registers tsx's loader (a worker does not inherit it).
 */
function startWorker(): Worker {
  const self = new URL(import.meta.url);
  const ts = self.pathname.endsWith('.ts');
  const entry = new URL(`./chain-verify.worker.${ts ? 'ts' : 'js'}`, self);
  if (!ts) return new Worker(entry);
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((api) => { api.register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(bootstrap, { eval: true });
}

/** Kept for the life of the process (unreferenced while idle): starting one costs far more than a verification of a short range. */
const pool: VerifyWorker[] = [];

/** Verifies each range on its own worker thread; rejects if a worker cannot start or fails. */
export async function verifyRangesInWorkers(url: string, specs: RangeSpec[]): Promise<RangeResult[]> {
  for (let i = pool.length - 1; i >= 0; i--) if (pool[i].dead) pool.splice(i, 1);
  while (pool.length < specs.length) pool.push(new VerifyWorker());
  return Promise.all(specs.map((spec, i) => pool[i].verify(url, spec)));
}
