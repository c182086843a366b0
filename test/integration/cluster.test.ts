/**
 * WEB_CONCURRENCY=2: one primary prepares the embedded database, two server processes share the
 * port. Concurrent dispatches through both keep one gapless chain; a server killed -9 is
 * replaced; SIGTERM drains both, stops PostgreSQL, and exits 0.
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { canConnect, freePort } from '../../src/db/embedded.js';
import { cleanEnv, run, startServerProcess, until } from '../support/process.js';

/** The node processes the primary forked (its embedded PostgreSQL is a child too, but not node). */
function serverPids(primary: number): number[] {
  const out = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(primary)], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter(([pid, comm]) => pid && comm === 'node')
    .map(([pid]) => Number(pid));
}

describe('WEB_CONCURRENCY=2', { timeout: 240_000 }, () => {
  let dataDir: string | null = null;
  let primary: ChildProcess | null = null;

  afterAll(async () => {
    if (primary && primary.exitCode === null && primary.signalCode === null) {
      primary.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 3000));
      if (primary.exitCode === null) primary.kill('SIGKILL');
    }
    if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('serves from two processes on one port, replaces one that dies, and drains both on SIGTERM', async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ainfera-cluster-'));
    await fs.chmod(dataDir, 0o755);
    const port = await freePort();
    const env = cleanEnv({ NODE_ENV: 'development', DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', AINFERA_SIMULATOR: '1', WEB_CONCURRENCY: '2' });
    const started = await startServerProcess(['--import', 'tsx', 'src/index.ts'], env);
    primary = started.child;
    const { output, exited } = started;
    expect(output.stdout.match(/Ainfera is running/g)).toHaveLength(1);
    expect(output.stdout).toMatch(/processes: +2 servers on one port \(WEB_CONCURRENCY\)/);
    const servers = serverPids(primary.pid!);
    expect(servers).toHaveLength(2);

    const demo = JSON.parse(await fs.readFile(path.join(dataDir, 'demo-keys.json'), 'utf8'));
    const gql = async (query: string, key: string, variables?: unknown) => {
      const res = await fetch(`http://127.0.0.1:${port}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify({ query, variables }) });
      return (await res.json()) as { data?: any; errors?: unknown[] };
    };
    const DISPATCH = `mutation D($input: DispatchInferenceInput!) { dispatchInference(input: $input) { inference { id status } } }`;
    const dispatch = (i: number) => gql(DISPATCH, demo.agentKey, { input: { model: 'sim-small', taskType: 'CHAT', messages: [{ role: 'USER', content: `hello ${i}` }] } });

    // Each request on its own connection, so the primary spreads them over both servers.
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => dispatch(i)));
    expect(results.filter((r) => r.data?.dispatchInference.inference.status === 'SUCCEEDED')).toHaveLength(40);
    const chain = await gql(`{ auditChain { length verify { valid checked } } }`, demo.userKey);
    expect(chain.data.auditChain).toEqual({ length: 40, verify: { valid: true, checked: 40 } });

    // A server killed outright is replaced; the service goes on.
    process.kill(servers[0], 'SIGKILL');
    const replaced = await until('a replacement server', async () => {
      const now = serverPids(primary!.pid!);
      return now.length === 2 && !now.includes(servers[0]) ? now : null;
    }, 60_000);
    expect(replaced).toContain(servers[1]);
    await until('the replacement to listen', async () => (await dispatch(99).catch(() => null))?.data?.dispatchInference.inference.status === 'SUCCEEDED', 60_000);
    expect((await Promise.all(Array.from({ length: 10 }, (_, i) => dispatch(100 + i)))).every((r) => r.data?.dispatchInference.inference.status === 'SUCCEEDED')).toBe(true);

    const pgPort = JSON.parse(await fs.readFile(path.join(dataDir, 'postgres.json'), 'utf8')).port as number;
    primary.kill('SIGTERM');
    expect(await exited).toEqual({ code: 0, signal: null });
    expect(output.stdout).toMatch(/"msg":"shutting down: draining every server process"/);
    for (const pid of replaced) expect(() => process.kill(pid, 0)).toThrow();
    expect(await canConnect(pgPort)).toBe(false);
  });

  it('stops everything, with exit code 1, when its servers cannot listen', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ainfera-cluster-busy-'));
    await fs.chmod(dir, 0o755);
    // The port is taken by someone else: every server's listen fails.
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const env = cleanEnv({ NODE_ENV: 'development', DATA_DIR: dir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', AINFERA_SIMULATOR: '1', WEB_CONCURRENCY: '2' });
      const res = await run(process.execPath, ['--import', 'tsx', 'src/index.ts'], env);
      expect(res.code, res.stdout + res.stderr).toBe(1);
      expect(res.stdout).toMatch(/"msg":"a server process exited before it listened; stopping"/);
      expect(res.stdout).not.toContain('Ainfera is running');
      // Its embedded PostgreSQL went down with it.
      const pgPort = JSON.parse(await fs.readFile(path.join(dir, 'postgres.json'), 'utf8')).port as number;
      expect(await canConnect(pgPort)).toBe(false);
    } finally {
      taken.close();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
