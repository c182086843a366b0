/**
 * Group commit per audit chain. An append locks its chain's head row until it commits, so appends
 * to one chain serialize on that lock; one at a time, each also waits for its own fsync, and a
 * burst becomes a queue of commits (the convoy behind the p99 of bench/RESULTS.md).
 *
 * A ChainWriter keeps at most one write in flight per chain in this process. Appends that arrive
 * while it runs wait, and the next write takes all of them (up to `maxBatch`) in ONE transaction:
 * BEGIN, their statements in arrival order, COMMIT — sent together on a pipelining connection
 * (src/db/sql.ts pipelinedPool), so PostgreSQL runs them back to back under the head lock, and
 * one fsync covers them all. A lone append runs as before, one statement in autocommit.
 *
 * Every statement stays atomic on its own (a row and its audit event), and a batch never leaves
 * half of itself behind:
 * - a statement fails → PostgreSQL answers the COMMIT with ROLLBACK, nothing of the batch is
 *   written, and each append is retried alone, so only the failing one fails;
 * - COMMIT fails → the outcome is unknown (the connection may have died after the commit), so no
 *   append is retried and each gets the error, exactly as a lone statement losing its connection.
 *
 * The class knows statements and connections only: the server and the benchmark's floor both give it
 * a pipelinedPool, so both write the same transactions.
 */
import type { ConnectionSource, PgClient, Statement } from '../../db/sql.js';

export interface ChainWriterOptions {
  /** The most appends one transaction takes. */
  maxBatch?: number;
  /** Called after each write with the number of appends it committed together (1 for a lone or retried append). */
  onWrite?: (appends: number) => void;
  /** Called for each statement sent, as the ORM's query logger is. */
  onStatement?: (text: string, tookMs: number, rows: number) => void;
}

interface Pending {
  statement: Statement;
  resolve(rows: unknown[]): void;
  reject(err: unknown): void;
}

export class ChainWriter<C extends PgClient = PgClient> {
  /** Chains with a write in flight, each with the appends waiting for the next write. */
  private readonly waiting = new Map<string, Pending[]>();
  private readonly maxBatch: number;

  constructor(
    private readonly connections: ConnectionSource<C>,
    private readonly options: ChainWriterOptions = {},
  ) {
    this.maxBatch = Math.max(1, options.maxBatch ?? 32);
  }

  /** Run `statement` (one chain append) in a transaction with the appends to `chain` that queue beside it; resolves to its rows. */
  append(chain: string, statement: Statement): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      const pending: Pending = { statement, resolve, reject };
      const queue = this.waiting.get(chain);
      if (queue) {
        queue.push(pending);
        return;
      }
      this.waiting.set(chain, [pending]);
      void this.drain(chain);
    });
  }

  /** Write the chain's queue, a batch at a time, until nothing is waiting; then the chain is idle. */
  private async drain(chain: string): Promise<void> {
    const queue = this.waiting.get(chain)!;
    while (queue.length > 0) {
      const batch = queue.splice(0, this.maxBatch);
      // write() settles every append itself; this only guards against a pool that throws on release.
      await this.write(batch).catch((err: unknown) => batch.forEach((p) => p.reject(err)));
    }
    this.waiting.delete(chain);
  }

  private async write(batch: Pending[]): Promise<void> {
    if (batch.length === 1) return this.writeAlone(batch[0]);
    const connection = await this.acquireFor(batch);
    if (!connection) return;
    // Sent at once (in one write where the source can): the connection pipelines, so PostgreSQL runs them back to back while it holds the chain's head lock.
    const submit = () => [this.send(connection, 'begin'), ...batch.map((p) => this.send(connection, p.statement)), this.send(connection, 'commit')];
    const [, ...rest] = await Promise.allSettled(this.connections.together ? this.connections.together(connection, submit) : submit());
    const commit = rest.pop()!;
    if (commit.status === 'rejected') {
      // The outcome is unknown (the connection may have died after the commit): retrying could write twice.
      await this.connections.release(connection, commit.reason as Error);
      for (const p of batch) p.reject(commit.reason);
      return;
    }
    await this.connections.release(connection);
    if (commit.value.command === 'ROLLBACK') {
      // A statement failed, so PostgreSQL rolled the whole batch back: nothing is written. Each append runs alone.
      for (const p of batch) await this.writeAlone(p);
      return;
    }
    this.options.onWrite?.(batch.length);
    batch.forEach((p, i) => {
      const r = rest[i];
      // All fulfilled when the batch committed; a rejection here means BEGIN itself failed and each statement ran alone.
      if (r.status === 'fulfilled') p.resolve(r.value.rows);
      else p.reject(r.reason);
    });
  }

  /** One append, one statement in autocommit. */
  private async writeAlone(p: Pending): Promise<void> {
    const connection = await this.acquireFor([p]);
    if (!connection) return;
    let rows: unknown[];
    try {
      ({ rows } = await this.send(connection, p.statement));
    } catch (err) {
      // An SQL error leaves the connection usable; one that broke it, the pool notices itself.
      await this.connections.release(connection);
      return p.reject(err);
    }
    await this.connections.release(connection);
    this.options.onWrite?.(1);
    p.resolve(rows);
  }

  /** A connection, or null once every append of `batch` has been given the pool's error. */
  private async acquireFor(batch: Pending[]): Promise<C | null> {
    try {
      return await this.connections.acquire();
    } catch (err) {
      for (const p of batch) p.reject(err);
      return null;
    }
  }

  private async send(connection: C, statement: Statement | string): Promise<{ rows: unknown[]; command?: string }> {
    const started = performance.now();
    const result = await connection.query(statement);
    this.options.onStatement?.(typeof statement === 'string' ? statement : statement.text, performance.now() - started, result.rows.length);
    return result;
  }
}
