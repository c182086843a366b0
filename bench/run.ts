/**
 * `npm run bench` — the whole benchmark, self-contained on loopback (see bench/RESULTS.md).
 *
 *   npm run bench                     full run → bench/RESULTS.md + bench/results/full.json
 *   npm run bench -- --quick          about a minute or two → bench/results/quick.md + quick.json
 *   npm run bench -- --only reads,chain   (overhead|peer, throughput, reads, graphql, coverage, chain, memory)
 *   npm run bench -- --keep-logs      keep the processes' logs (their directory is printed)
 *   npm run bench -- --render         rewrite RESULTS.md from bench/results/full.json and NOTES.md (no run)
 *
 * Progress goes to stderr; the report is printed at the end.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { benchConfig } from './config.js';
import { PORTKEY_VERSION } from './peer-portkey.js';
import { buildDist, cpuModel, killChildren, loadAverage, ROOT } from './proc.js';
import { evaluateTargets, renderReport, type RunEnv, type RunResult } from './report.js';
import { runChain } from './scenarios/chain.js';
import { runCoverage } from './scenarios/coverage.js';
import { runGraphql } from './scenarios/graphql.js';
import { runMemory } from './scenarios/memory.js';
import { runOverhead } from './scenarios/overhead.js';
import { runReads } from './scenarios/reads.js';
import { runThroughput } from './scenarios/throughput.js';
import { Stack } from './stack.js';

const SCENARIOS = ['overhead', 'throughput', 'reads', 'graphql', 'coverage', 'chain', 'memory'] as const;
type Scenario = (typeof SCENARIOS)[number];

function parseArgs(argv: string[]): { quick: boolean; only: Scenario[] | null; keepLogs: boolean; render: boolean } {
  let only: Scenario[] | null = null;
  let quick = false;
  let keepLogs = false;
  let render = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') quick = true;
    else if (a === '--keep-logs') keepLogs = true;
    else if (a === '--render') render = true;
    else if (a === '--only' || a.startsWith('--only=')) {
      const v = a.includes('=') ? a.slice(7) : argv[++i];
      only = (v ?? '').split(',').map((s) => (s.trim() === 'peer' ? 'overhead' : s.trim())) as Scenario[];
      const bad = only.filter((s) => !SCENARIOS.includes(s));
      if (bad.length || !only.length) throw new Error(`--only: unknown scenario ${bad.join(', ') || '(none)'}; choose from ${SCENARIOS.join(', ')}, peer`);
    } else if (a === '--help' || a === '-h') {
      console.log('usage: npm run bench -- [--quick] [--only overhead,peer,throughput,reads,graphql,coverage,chain,memory] [--keep-logs] | --render');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return { quick, only, keepLogs, render };
}

const args = parseArgs(process.argv.slice(2));
const notesFile = path.join(ROOT, 'bench/NOTES.md');
const withNotes = (markdown: string) => `${markdown}\n${fs.readFileSync(notesFile, 'utf8')}`;
if (args.render) {
  // The same report from the last full run's data, with the current closing note (written after the run).
  const last = JSON.parse(fs.readFileSync(path.join(ROOT, 'bench/results/full.json'), 'utf8')) as RunResult;
  fs.writeFileSync(path.join(ROOT, 'bench/RESULTS.md'), withNotes(renderReport(last)));
  process.stderr.write('rewrote bench/RESULTS.md from bench/results/full.json and bench/NOTES.md\n');
  process.exit(0);
}
const cfg = benchConfig(args.quick);
const started = Date.now();
const log = (s: string) => process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${s}\n`);

process.on('exit', killChildren);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    log(`${sig}: stopping every process this run started`);
    killChildren();
    process.exit(130);
  });
}

const stack = new Stack();
const resultsDir = path.join(ROOT, 'bench/results');
const profileDir = path.join(resultsDir, 'profiles', args.quick ? 'quick' : 'full');
fs.mkdirSync(resultsDir, { recursive: true });

const env: RunEnv = {
  date: new Date().toISOString(),
  cpu: cpuModel(),
  node: process.version,
  os: `${os.type()} ${os.release()} ${os.arch()}`,
  memTotalGiB: Math.round(os.totalmem() / 2 ** 30),
  postgres: null,
  portkey: PORTKEY_VERSION,
  loadAvgStart: loadAverage(),
  loadAvgEnd: '',
};
const result: RunResult = {
  mode: args.quick ? 'quick' : 'full',
  only: args.only,
  startedAt: env.date,
  finishedAt: '',
  durationS: 0,
  env,
  config: cfg,
  failures: [],
  targets: [],
};
const wanted = (s: Scenario) => !args.only || args.only.includes(s);

async function scenario<K extends Scenario>(name: K, run: () => Promise<unknown>): Promise<void> {
  if (!wanted(name)) return;
  log(`— ${name}`);
  try {
    (result as unknown as Record<string, unknown>)[name] = await run();
  } catch (err) {
    log(`${name} FAILED: ${(err as Error).stack ?? String(err)}`);
    result.failures.push({ scenario: name, error: (err as Error).stack ?? String(err) });
  }
}

try {
  log('building dist/ (the server, mock, load generator and peers run compiled, as `npm start` runs the server)');
  buildDist();
  log(`${result.mode} run; processes' logs in ${stack.logDir}`);
  const mock0 = await stack.mock(0);
  const server = await stack.startServer(mock0);
  env.postgres = await server.ipc.call('pg');
  log(`server up (pid ${server.pid}), PostgreSQL ${env.postgres?.version}, synchronous_commit=${env.postgres?.synchronousCommit}`);

  await scenario('overhead', () => runOverhead(stack, cfg, log));
  await scenario('throughput', () => runThroughput(stack, cfg, log));
  await scenario('reads', () => runReads(stack, cfg, log, profileDir));
  await scenario('graphql', () => runGraphql(stack, cfg, log, profileDir));
  await scenario('chain', () => runChain(stack, cfg, log, profileDir));
  await stack.stopPeers();
  await scenario('memory', () => runMemory(stack, cfg, log, profileDir));
  // The coverage benchmark brings its own database: run it with ours stopped, so the two don't share the cores.
  await stack.close();
  await scenario('coverage', async () => {
    const c = await runCoverage(args.quick, log);
    if (c.status === 'error') result.failures.push({ scenario: 'coverage', error: c.error ?? 'failed' });
    return c;
  });
} finally {
  await stack.close().catch(() => {});
  stack.cleanup(args.keepLogs);
}

env.loadAvgEnd = loadAverage();
result.finishedAt = new Date().toISOString();
result.durationS = (Date.now() - started) / 1000;
result.targets = evaluateTargets(result);
const markdown = renderReport(result);
const full = fs.existsSync(notesFile) && !args.quick && !args.only ? withNotes(markdown) : markdown;

const base = args.quick ? 'quick' : 'full';
const suffix = args.only ? `-${args.only.join('-')}` : '';
fs.writeFileSync(path.join(resultsDir, `${base}${suffix}.json`), `${JSON.stringify(result, null, 2)}\n`);
// RESULTS.md is the latest *full* run of every scenario; partial and quick runs go next to their JSON.
const mdFile = !args.quick && !args.only ? path.join(ROOT, 'bench/RESULTS.md') : path.join(resultsDir, `${base}${suffix}.md`);
fs.writeFileSync(mdFile, full);
process.stdout.write(full);
log(`wrote ${path.relative(ROOT, mdFile)} and bench/results/${base}${suffix}.json`);
process.exit(result.failures.length ? 1 : 0);
