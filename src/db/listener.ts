import pg from 'pg';
import type { Logger } from 'pino';

interface Subscription {
  onMessage(payload: string): void;
  /** Messages may have been missed (the connection dropped, or it just came back): forget what depends on them. */
  onReset(): void;
}

/**
 * One dedicated PostgreSQL connection that LISTENs for change notifications (NOTIFY, sent by
 * triggers after commit) and fans them out in-process. `live` is true only while the connection
 * is up and listening; a cache built on it must not serve entries while it is false, since a
 * notification sent meanwhile is lost. On a drop it resets every subscriber and reconnects with
 * backoff (250 ms doubling to 5 s); a database behind a pooler that cannot LISTEN simply never
 * goes live, and the caches stay off.
 */
export class PgListener {
  live = false;
  private client: pg.Client | null = null;
  private closed = false;
  private retryMs = 250;
  private timer: NodeJS.Timeout | undefined;
  private readonly subscriptions = new Map<string, Subscription[]>();

  constructor(
    private readonly url: string,
    private readonly logger: Logger,
  ) {}

  subscribe(channel: string, subscription: Subscription): void {
    if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`invalid channel name "${channel}"`);
    this.subscriptions.set(channel, [...(this.subscriptions.get(channel) ?? []), subscription]);
  }

  /** Connect and LISTEN; never throws (a failure is logged, and retried in the background). */
  async start(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, application_name: 'ainfera-listener' });
    this.client = client;
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client));
    client.on('notification', (n) => {
      for (const s of this.subscriptions.get(n.channel) ?? []) s.onMessage(n.payload ?? '');
    });
    try {
      await client.connect();
      for (const channel of this.subscriptions.keys()) await client.query(`/* listen */ LISTEN ${channel}`);
    } catch (err) {
      this.lost(client, err);
      return;
    }
    if (this.client !== client) {
      await client.end().catch(() => undefined); // closed while connecting
      return;
    }
    this.resetAll();
    this.live = true;
    this.retryMs = 250;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    const client = this.client;
    this.client = null;
    this.live = false;
    await client?.end().catch(() => undefined);
  }

  /** The backend pid of the listening connection (null while down), for operators and tests. */
  get backendPid(): number | null {
    return this.live ? ((this.client as unknown as { processID?: number } | null)?.processID ?? null) : null;
  }

  private lost(client: pg.Client, err?: unknown): void {
    if (this.client !== client) return;
    this.client = null;
    const wasLive = this.live;
    this.live = false;
    this.resetAll();
    client.removeAllListeners('end');
    client.on('error', () => undefined);
    client.end().catch(() => undefined);
    if (this.closed) return;
    this.logger.warn({ err, retryInMs: this.retryMs }, wasLive ? 'change listener lost its connection; caches off until it is back' : 'change listener could not connect; caches stay off');
    this.timer = setTimeout(() => void this.start(), this.retryMs);
    this.timer.unref();
    this.retryMs = Math.min(this.retryMs * 2, 5000);
  }

  private resetAll(): void {
    for (const list of this.subscriptions.values()) for (const s of list) s.onReset();
  }
}
