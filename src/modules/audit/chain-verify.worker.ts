/**
 * A worker thread of the chain verifier (chain-verify.ts): verifies one seq range per message on
 * a connection of its own, so the hashing of a long chain runs on several cores.
 */
import { parentPort } from 'node:worker_threads';
import pg from 'pg';
import { type RangeSpec, verifyRange } from './chain-verify.js';

const port = parentPort;
if (!port) throw new Error('chain-verify.worker must run as a worker thread');

port.on('message', (msg: { id: number; url: string; spec: RangeSpec }) => {
  void (async () => {
    const client = new pg.Client({ connectionString: msg.url, application_name: 'ainfera-verify' });
    try {
      await client.connect();
      port.postMessage({ id: msg.id, result: await verifyRange(client, msg.spec) });
    } catch (err) {
      port.postMessage({ id: msg.id, error: (err as Error).message });
    } finally {
      await client.end().catch(() => {});
    }
  })();
});
