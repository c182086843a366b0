import path from 'node:path';
import { z } from 'zod';

/** The only reader of process.env: every setting, parsed and checked once. */
const optionalUrl = z.preprocess((v) => (v === '' ? undefined : v), z.string().url().optional());
const optionalString = z.preprocess((v) => (v === '' ? undefined : v), z.string().optional());

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().default('0.0.0.0'),
  DATABASE_URL: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
      .optional(),
  ),
  DATA_DIR: z.string().default('.data'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ANTHROPIC_API_KEY: optionalString,
  ANTHROPIC_BASE_URL: optionalUrl,
  OPENAI_API_KEY: optionalString,
  OPENAI_BASE_URL: optionalUrl,
  CLASSIFIER_API_KEY: optionalString,
  CLASSIFIER_BASE_URL: optionalUrl,
  CLASSIFIER_MODEL: z.string().min(1).default('claude-haiku-4-5'),
  CLASSIFIER_TIMEOUT_MS: z.coerce.number().int().min(1).max(60_000).default(1500),
  PROVIDER_TIMEOUT_MS: z.coerce.number().int().min(1).max(600_000).default(60_000),
  AINFERA_SIMULATOR: z.enum(['0', '1']).optional(),
  MAX_BODY_BYTES: z.coerce.number().int().min(1024).default(1024 * 1024),
  API_KEY_CACHE_TTL_MS: z.coerce.number().int().min(0).max(3_600_000).default(60_000),
  IDEMPOTENCY_LEASE_MS: z.coerce.number().int().min(100).max(86_400_000).default(5 * 60_000),
  AUDIT_SIGNING_KEY: optionalString,
  WEB_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(1),
});

export type RawEnv = z.infer<typeof schema>;

export interface Env {
  nodeEnv: RawEnv['NODE_ENV'];
  port: number;
  host: string;
  databaseUrl: string | undefined;
  dataDir: string;
  logLevel: RawEnv['LOG_LEVEL'];
  anthropic: { apiKey: string; baseUrl: string | undefined } | null;
  openai: { apiKey: string; baseUrl: string | undefined } | null;
  classifier: { apiKey: string; baseUrl: string | undefined; model: string; timeoutMs: number } | null;
  providerTimeoutMs: number;
  simulator: boolean;
  maxBodyBytes: number;
  /** How long a pending idempotency claim blocks retries before a crashed owner's key can be taken over. */
  idempotencyLeaseMs: number;
  /** How long an authenticated key is remembered (0: never); revocations reach every process at once regardless (key-cache.ts). */
  apiKeyCacheTtlMs: number;
  /** Ed25519 private key (PKCS#8 PEM or its base64) for chain checkpoints. */
  auditSigningKey: string | undefined;
  /** Server processes sharing the port (src/cluster.ts); 1 serves from this process alone. */
  webConcurrency: number;
}

export class EnvError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Parse an environment (process.env by default); throws EnvError listing every problem at once. */
export function loadEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const parsed = schema.safeParse(source);
  if (!parsed.success) {
    throw new EnvError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = parsed.data;
  const anthropic = e.ANTHROPIC_API_KEY ? { apiKey: e.ANTHROPIC_API_KEY, baseUrl: e.ANTHROPIC_BASE_URL } : null;
  const openai = e.OPENAI_API_KEY ? { apiKey: e.OPENAI_API_KEY, baseUrl: e.OPENAI_BASE_URL } : null;
  const classifierKey = e.CLASSIFIER_API_KEY ?? e.ANTHROPIC_API_KEY;
  const classifier = classifierKey
    ? {
        apiKey: classifierKey,
        baseUrl: e.CLASSIFIER_BASE_URL ?? e.ANTHROPIC_BASE_URL,
        model: e.CLASSIFIER_MODEL,
        timeoutMs: e.CLASSIFIER_TIMEOUT_MS,
      }
    : null;
  // The simulator is on by default only for a credential-less, non-production first run.
  const simulator =
    e.AINFERA_SIMULATOR === '1' ||
    (e.AINFERA_SIMULATOR === undefined && !anthropic && !openai && e.NODE_ENV !== 'production');
  return {
    nodeEnv: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    dataDir: path.resolve(e.DATA_DIR),
    logLevel: e.LOG_LEVEL,
    anthropic,
    openai,
    classifier,
    providerTimeoutMs: e.PROVIDER_TIMEOUT_MS,
    simulator,
    maxBodyBytes: e.MAX_BODY_BYTES,
    idempotencyLeaseMs: e.IDEMPOTENCY_LEASE_MS,
    apiKeyCacheTtlMs: e.API_KEY_CACHE_TTL_MS,
    auditSigningKey: e.AUDIT_SIGNING_KEY,
    webConcurrency: e.WEB_CONCURRENCY,
  };
}
