import { type ChildProcess, spawn } from 'node:child_process';
import { PROJECT_ROOT } from '../../src/shared/paths.js';

export const ROOT = PROJECT_ROOT;

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The machine's environment less any database, server or provider settings; the test sets its own. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(DATABASE_URL|DATA_DIR|PORT|HOST|ANTHROPIC_|OPENAI_|CLASSIFIER_|AINFERA_|LOG_LEVEL|NODE_ENV)/.test(k)) env[k] = v;
  return { ...env, ...extra };
}

/** Run a command in the repository root to completion, collecting its output. */
export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Poll `probe` every 50 ms until it gives a truthy value (returned), or fail naming `what`. */
export async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface ServerProcess {
  child: ChildProcess;
  /** Everything it printed so far. */
  output: { stdout: string; stderr: string };
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `node <args>` in the repository root (node itself, so signals reach the server), once it has printed its whole banner. */
export async function startServerProcess(args: string[], env: NodeJS.ProcessEnv): Promise<ServerProcess> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { stdout: '', stderr: '' };
  child.stdout!.on('data', (c) => (output.stdout += c));
  child.stderr!.on('data', (c) => (output.stderr += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  await until(
    'the banner',
    async () => {
      if (child.exitCode !== null) throw new Error(`The server exited early:\n${output.stdout}\n${output.stderr}`);
      const at = output.stdout.indexOf('Ainfera is running');
      return at >= 0 && /\n\n/.test(output.stdout.slice(at));
    },
    180_000,
  );
  return { child, output, exited };
}
