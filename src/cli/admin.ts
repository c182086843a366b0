/**
 * The operator CLI (DESIGN §7): `npm run --silent admin -- <command> [--flags]`.
 *
 * Prints JSON on stdout (JSON Lines for export-chain); errors go to stderr as `{"error": "…"}`.
 * Exit codes: 0 done · 1 the operation failed (or verify-chain found the chain invalid) · 2 usage.
 * It reads the server's environment, joins the running embedded PostgreSQL of DATA_DIR (or starts
 * and stops its own), and migrates the database first. The operations live in the services.
 */
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import type { EntityManager } from '@mikro-orm/postgresql';
import { EnvError, loadEnv } from '../config/env.js';
import type { Database } from '../db/database.js';
import type { Orm } from '../db/orm.js';

type Flags = Record<string, string | undefined>;

/** The services, imported once the arguments are known to be good: usage errors and help answer at once. */
async function loadServices() {
  const [tenancy, audit, signing] = await Promise.all([
    import('../modules/tenancy/tenancy.service.js'),
    import('../modules/audit/audit.service.js'),
    import('../modules/audit/signing.js'),
  ]);
  const env = loadEnv();
  const signer = () => signing.loadSigner({ key: env.auditSigningKey, dataDir: env.dataDir, production: env.nodeEnv === 'production' });
  return { ...tenancy, ...audit, signer };
}
type Services = Awaited<ReturnType<typeof loadServices>>;

interface Command {
  usage: string;
  flags: string[];
  required: string[];
  /** Returns what to print as JSON, or nothing when it printed (streamed) itself; `exitCode` overrides 0. */
  run(em: EntityManager, flags: Flags, svc: Services): Promise<{ output?: unknown; exitCode?: number }>;
}

class UsageError extends Error {}

const COMMANDS: Record<string, Command> = {
  'create-tenant': {
    usage: 'create-tenant --slug <slug> --owner <handle> [--name <name>]   a tenant, its owner (admin key) and one agent (agent key); prints the demo-keys.json shape',
    flags: ['slug', 'owner', 'name'],
    required: ['slug', 'owner'],
    run: async (em, f, svc) => ({ output: await svc.createTenant(em, { slug: f.slug!, ownerHandle: f.owner!, name: f.name }) }),
  },
  'create-user': {
    usage: 'create-user --tenant <slug> --handle <handle> [--role admin|member]   a user and a user key (member by default)',
    flags: ['tenant', 'handle', 'role'],
    required: ['tenant', 'handle'],
    run: async (em, f, svc) => ({ output: await svc.createUser(em, { tenant: f.tenant!, handle: f.handle!, role: f.role }) }),
  },
  'create-agent': {
    usage: 'create-agent --tenant <slug> --owner <handle> [--name <name>]   an agent owned by a user, and its agent key',
    flags: ['tenant', 'owner', 'name'],
    required: ['tenant', 'owner'],
    run: async (em, f, svc) => ({ output: await svc.createAgent(em, { tenant: f.tenant!, ownerHandle: f.owner!, name: f.name }) }),
  },
  'create-key': {
    usage: 'create-key --tenant <slug> (--user <handle> [--role admin|member] | --agent <agent id>)   another key for a user or an agent',
    flags: ['tenant', 'user', 'role', 'agent'],
    required: ['tenant'],
    run: async (em, f, svc) => ({ output: await svc.createKey(em, { tenant: f.tenant!, userHandle: f.user, role: f.role, agentId: f.agent }) }),
  },
  'revoke-key': {
    usage: 'revoke-key (--key-id <id> | --prefix <prefix>)   revoke a key; it stops authenticating at once',
    flags: ['key-id', 'prefix'],
    required: [],
    run: async (em, f, svc) => ({ output: await svc.revokeKey(em, { keyId: f['key-id'], prefix: f.prefix }) }),
  },
  'list-tenants': {
    usage: 'list-tenants   every tenant with its numbers of users, agents and active keys',
    flags: [],
    required: [],
    run: async (em, _f, svc) => ({ output: await svc.listTenants(em) }),
  },
  'verify-chain': {
    usage:
      "verify-chain --tenant <slug> [--checkpoint <file>]   recompute every hash of the tenant's audit chain and, given a saved checkpoint, confirm the chain still extends it; exit 1 when invalid",
    flags: ['tenant', 'checkpoint'],
    required: ['tenant'],
    run: async (em, f, svc) => {
      const tenant = await svc.tenantBySlug(em, f.tenant!);
      const result = await svc.verifyChain(em, tenant.id);
      if (!f.checkpoint) return { output: { tenant: tenant.slug, chain: tenant.id, ...result }, exitCode: result.valid ? 0 : 1 };
      const { readFile } = await import('node:fs/promises');
      const checkpoint = JSON.parse(await readFile(f.checkpoint, 'utf8'));
      const extension = await svc.verifyCheckpoint(em, await svc.signer(), tenant.id, checkpoint);
      return { output: { tenant: tenant.slug, chain: tenant.id, ...result, checkpoint: extension }, exitCode: result.valid && extension.valid ? 0 : 1 };
    },
  },
  checkpoint: {
    usage: "checkpoint --tenant <slug>   a signed statement of the chain's head (keep it; verify-chain --checkpoint checks it later)",
    flags: ['tenant'],
    required: ['tenant'],
    run: async (em, f, svc) => {
      const tenant = await svc.tenantBySlug(em, f.tenant!);
      const checkpoint = await svc.signCheckpoint(em, await svc.signer(), tenant.id);
      if (!checkpoint) throw new Error(`The audit chain of "${tenant.slug}" is empty: nothing to sign yet.`);
      return { output: checkpoint };
    },
  },
  'export-chain': {
    usage: "export-chain --tenant <slug>   the tenant's audit chain as JSON Lines, one event per line exactly as hashed",
    flags: ['tenant'],
    required: ['tenant'],
    run: async (em, f, svc) => {
      const tenant = await svc.tenantBySlug(em, f.tenant!);
      // Streamed a batch at a time, honouring stdout's backpressure: a long chain is never held whole.
      for await (const e of svc.streamEvents(em, tenant.id)) {
        const line = `${JSON.stringify({ v: e.v, chain: e.chain, seq: e.seq, type: e.type, occurredAt: e.occurredAt, payload: e.payload, prevHash: e.prevHash, hash: e.hash })}\n`;
        if (!process.stdout.write(line)) await once(process.stdout, 'drain');
      }
      return {};
    },
  },
};

const USAGE = ['npm run --silent admin -- <command> [--flags]', ...Object.values(COMMANDS).map((c) => `  ${c.usage}`)];

function parse(argv: string[]): { name: string; command: Command; flags: Flags } {
  const [name, ...rest] = argv;
  const command = name === undefined ? undefined : COMMANDS[name];
  if (!command) throw new UsageError(name === undefined ? 'No command given.' : `Unknown command "${name}".`);
  let values: Flags;
  try {
    ({ values } = parseArgs({ args: rest, options: Object.fromEntries(command.flags.map((f) => [f, { type: 'string' as const }])), strict: true, allowPositionals: false }));
  } catch (err) {
    throw new UsageError(`${name}: ${(err as Error).message}`);
  }
  const missing = command.required.filter((f) => values[f] === undefined || values[f] === '');
  if (missing.length) throw new UsageError(`${name}: missing ${missing.map((f) => `--${f}`).join(', ')}.`);
  return { name, command, flags: values };
}

function fail(error: string, extra: Record<string, unknown> = {}): void {
  process.stderr.write(`${JSON.stringify({ error, ...extra }, null, 2)}\n`);
}

/** Let stdout drain before exiting: a piped export must not lose its tail. */
async function exit(code: number): Promise<never> {
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit(code);
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'help' || argv[0] === '--help' || argv[0] === '-h') {
    process.stdout.write(`${USAGE.join('\n')}\n`);
    return 0;
  }
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    const command = argv[0] === undefined ? undefined : COMMANDS[argv[0]];
    fail(err.message, { usage: command ? [`npm run --silent admin -- ${command.usage}`] : USAGE });
    return 2;
  }

  let env;
  try {
    env = loadEnv();
  } catch (err) {
    if (!(err instanceof EnvError)) throw err;
    fail('Invalid configuration.', { problems: err.problems });
    return 1;
  }

  let db: Database | null = null;
  let orm: Orm | null = null;
  const [{ openDatabase }, { initOrm, migrateUp }, svc] = await Promise.all([import('../db/database.js'), import('../db/orm.js'), loadServices()]);
  try {
    db = await openDatabase(env);
    orm = await initOrm(db.url);
    await migrateUp(orm);
    const { output, exitCode = 0 } = await parsed.command.run(orm.em.fork() as EntityManager, parsed.flags, svc);
    if (output !== undefined) process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
    return exitCode;
  } catch (err) {
    if (err instanceof svc.TenancyError) fail(err.message);
    else fail(`${parsed.name} failed: ${(err as Error)?.message ?? String(err)}`);
    return 1;
  } finally {
    await orm?.close().catch(() => {});
    await db?.stop().catch(() => {});
  }
}

await exit(await main(process.argv.slice(2)));
