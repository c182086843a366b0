/**
 * The production settings both benchmark servers run with (bench/server.ts, bench/cluster-server.ts):
 * providers on the loopback mock given on the command line, a real audit signing key.
 */
import { generateKeyPairSync } from 'node:crypto';
import { type Env, loadEnv } from '../src/config/env.js';

export function arg(name: string, fallback?: string): string {
  const i = process.argv.indexOf(name);
  const v = (i === -1 ? undefined : process.argv[i + 1]) ?? fallback;
  if (!v) throw new Error(`${process.argv[1]}: missing ${name}`);
  return v;
}

/** Production wants a real audit signing key: one per run, kept in the environment so forked processes share it. */
function signingKey(): string {
  process.env.BENCH_AUDIT_SIGNING_KEY ??= generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return process.env.BENCH_AUDIT_SIGNING_KEY;
}

export function benchServerEnv(extra: Record<string, string> = {}): Env {
  return loadEnv({
    NODE_ENV: 'production',
    AUDIT_SIGNING_KEY: signingKey(),
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: arg('--data-dir'),
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    ANTHROPIC_API_KEY: 'bench-anthropic-key',
    ANTHROPIC_BASE_URL: arg('--anthropic'),
    OPENAI_API_KEY: 'bench-openai-key',
    OPENAI_BASE_URL: arg('--openai'),
    AINFERA_SIMULATOR: '0',
    ...extra,
  });
}
