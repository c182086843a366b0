/**
 * Scenario 6a — cell coverage at scale. bench/coverage.bench.ts (owned by the coverage work)
 * exports `runCoverageBench({ quick }): Promise<{ markdown, json }>` and runs on its own; this
 * only calls it, and says so plainly when the file is not there yet or fails.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../proc.js';

export interface CoverageResult {
  status: 'ok' | 'missing' | 'error';
  markdown: string | null;
  json: unknown;
  error: string | null;
  ms: number;
}

type CoverageModule = { runCoverageBench?: (opts: { quick: boolean }) => Promise<{ markdown: string; json: unknown }> };

export async function runCoverage(quick: boolean, log: (s: string) => void): Promise<CoverageResult> {
  const file = path.join(ROOT, 'bench/coverage.bench.ts');
  const t0 = performance.now();
  if (!fs.existsSync(file)) {
    log('coverage: bench/coverage.bench.ts is missing');
    return { status: 'missing', markdown: null, json: null, error: 'bench/coverage.bench.ts does not exist (yet)', ms: 0 };
  }
  try {
    const mod = (await import(pathToFileURL(file).href)) as CoverageModule;
    if (typeof mod.runCoverageBench !== 'function') throw new Error('bench/coverage.bench.ts does not export runCoverageBench');
    const out = await mod.runCoverageBench({ quick });
    log('coverage: done');
    return { status: 'ok', markdown: out.markdown, json: out.json, error: null, ms: Math.round(performance.now() - t0) };
  } catch (err) {
    log(`coverage: failed: ${(err as Error).message}`);
    return { status: 'error', markdown: null, json: null, error: (err as Error).stack ?? String(err), ms: Math.round(performance.now() - t0) };
  }
}
