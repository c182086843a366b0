import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { canConnect, freePort } from '../../src/db/embedded.js';
import { type MockProvider, startMockProvider } from '../support/mock-provider.js';
import { cleanEnv, run, startServerProcess, until } from '../support/process.js';

const DISPATCH = /* GraphQL */ `
  mutation Dispatch($input: DispatchInferenceInput!) {
    dispatchInference(input: $input) { inference { id status outputText model { slug } } }
  }
`;

const runCli = (args: string[], env: NodeJS.ProcessEnv) => run(process.execPath, ['--import', 'tsx', 'src/cli/admin.ts', ...args], env);

describe('npm start lifecycle', { timeout: 240_000 }, () => {
  let dataDir: string | null = null;
  let mock: MockProvider | null = null;
  let server: ChildProcess | null = null;

  afterAll(async () => {
    // Only when the test failed half-way: stop what it started (the server, then its PostgreSQL).
    if (server && server.exitCode === null && server.signalCode === null) {
      server.kill('SIGKILL');
      await new Promise((r) => server!.once('exit', r));
    }
    if (dataDir) {
      const pid = Number((await fs.readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]);
      if (pid > 0) {
        try {
          process.kill(pid, 'SIGINT');
        } catch {}
      }
      await new Promise((r) => setTimeout(r, pid > 0 ? 1000 : 0));
      await fs.rm(dataDir, { recursive: true, force: true });
    }
    await mock?.close();
  });

  it('prints one banner, serves the CLI alongside, drains an in-flight dispatch on SIGTERM, then stops PostgreSQL and exits 0', async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ainfera-lifecycle-'));
    // As root, PostgreSQL runs as a separate user that must be able to enter the folder.
    await fs.chmod(dataDir, 0o755);
    mock = await startMockProvider();
    const port = await freePort();
    const env = cleanEnv({
      NODE_ENV: 'development',
      DATA_DIR: dataDir,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      ANTHROPIC_API_KEY: 'test-anthropic-key',
      ANTHROPIC_BASE_URL: mock.anthropicBaseUrl,
      AINFERA_SIMULATOR: '0',
    });

    // What `npm start` runs: the build, then the compiled server (node directly, so signals reach it, not npm).
    const build = await run('npm', ['run', '--silent', 'build'], env);
    expect(build.code, build.stdout + build.stderr).toBe(0);
    const started = await startServerProcess(['--enable-source-maps', 'dist/src/index.js'], env);
    server = started.child;
    const { output, exited } = started;

    // The banner: URL, database, providers, classifier, simulator, demo keys.
    const demo = JSON.parse(await fs.readFile(path.join(dataDir, 'demo-keys.json'), 'utf8'));
    expect(output.stdout.match(/Ainfera is running/g)).toHaveLength(1);
    expect(output.stdout).toContain(`http://localhost:${port}/graphql`);
    expect(output.stdout).toContain(`embedded PostgreSQL in ${dataDir}`);
    expect(output.stdout).toMatch(/providers: +anthropic\n/);
    expect(output.stdout).toMatch(/simulator: +off\n/);
    expect(output.stdout).toMatch(/classifier: +claude-haiku-4-5 \(timeout 1500 ms\)/);
    expect(output.stdout).toContain(`metrics:    http://localhost:${port}/metrics`);
    expect(output.stdout).toContain(demo.userKey);
    expect(output.stdout).toContain(demo.agentKey);
    const pgPort = JSON.parse(await fs.readFile(path.join(dataDir, 'postgres.json'), 'utf8')).port as number;
    expect(await canConnect(pgPort)).toBe(true);

    // The CLI joins the running embedded PostgreSQL (and leaves it running): its tenant dispatches at once.
    const cli = await runCli(['create-tenant', '--slug', 'lifecycle', '--owner', 'lc-owner'], env);
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    const keys = JSON.parse(cli.stdout);
    expect(await canConnect(pgPort)).toBe(true);

    // A dispatch the provider answers slowly, SIGTERM while it is in flight.
    mock.script({ kind: 'completion', behavior: { type: 'delay-then-ok', delayMs: 3000, text: 'worth the wait' } });
    let answeredAt = 0;
    const inFlight = fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${keys.agentKey}` },
      body: JSON.stringify({ query: DISPATCH, variables: { input: { model: 'claude-haiku-4-5', taskType: 'CHAT', messages: [{ role: 'USER', content: 'Take your time' }] } } }),
    }).then(async (res) => {
      answeredAt = Date.now();
      return { status: res.status, body: (await res.json()) as any };
    });
    await until('the provider call', async () => mock!.callCount({ kind: 'completion' }) === 1, 30_000);
    server.kill('SIGTERM');

    // It stops accepting connections at once, while the dispatch is still running.
    await until('the listener to close', async () => !(await canConnect(port)), 10_000);
    const refusedAt = Date.now();
    const res = await inFlight;
    expect(refusedAt).toBeLessThan(answeredAt);
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data.dispatchInference.inference).toMatchObject({ status: 'SUCCEEDED', outputText: 'worth the wait', model: { slug: 'claude-haiku-4-5' } });

    expect(await exited).toEqual({ code: 0, signal: null });
    expect(output.stdout).toMatch(/"msg":"shutting down: draining in-flight requests"/);
    // The embedded PostgreSQL went down with it.
    expect(await canConnect(pgPort)).toBe(false);
    await expect(fs.stat(path.join(dataDir, 'pg', 'postmaster.pid'))).rejects.toThrow();

    // With no server running, the CLI starts the embedded PostgreSQL itself (and stops it after):
    // the drained dispatch was committed, with its audit event.
    const verified = await runCli(['verify-chain', '--tenant', 'lifecycle'], env);
    expect(verified.stderr).toBe('');
    expect(JSON.parse(verified.stdout)).toMatchObject({ tenant: 'lifecycle', chain: keys.tenantId, valid: true, checked: 1 });
    const tenants = JSON.parse((await runCli(['list-tenants'], env)).stdout) as Array<{ slug: string }>;
    expect(tenants.map((t) => t.slug)).toEqual(['demo', 'lifecycle']);
    const after = JSON.parse(await fs.readFile(path.join(dataDir, 'postgres.json'), 'utf8')).port as number;
    expect(await canConnect(after)).toBe(false);
  });
});
