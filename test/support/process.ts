import { spawn } from 'node:child_process';
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
