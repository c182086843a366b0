/**
 * `npm run schema:check`  — validate the client operations against the schema we serve and diff it against the
 *                           accepted contract (schema/contract.graphql); breaking changes exit 1.
 * `npm run schema:accept` — rewrite the contract snapshot from the schema we serve (a deliberate, reviewed step).
 *
 * Options: `--contract <file>` checks against (or accepts into) another snapshot file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildSchema } from '../src/schema.js';
import { checkContract, CONTRACT_PATH, type ContractReport, contractFails, formatReport, loadOperationFiles, printContract, ROOT } from './schema-contract.js';

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { accept: { type: 'boolean', default: false }, contract: { type: 'string', default: CONTRACT_PATH } } });
  const contractPath = path.resolve(values.contract!);
  const relative = path.relative(ROOT, contractPath);
  const shown = relative && !relative.startsWith('..') ? relative : contractPath;

  // The executable schema, exactly as the server builds it: what clients introspect is what we compare.
  let sdl: string;
  try {
    sdl = printContract(buildSchema());
  } catch (err) {
    console.error(`✖ The schema in schema/ does not build:\n    ${(err as Error).message}`);
    return 1;
  }

  if (values.accept) {
    const before = fs.existsSync(contractPath) ? fs.readFileSync(contractPath, 'utf8') : null;
    fs.writeFileSync(contractPath, sdl);
    console.log(before === sdl ? `${shown} is already up to date.` : `Accepted the current schema into ${shown}; review and commit it.`);
    return 0;
  }

  if (!fs.existsSync(contractPath)) {
    console.error(`✖ ${shown} does not exist: run \`npm run schema:accept\` to record the first contract.`);
    return 1;
  }
  const operations = loadOperationFiles();
  if (operations.length === 0) {
    console.error('✖ No client operations found under operations/: nothing would be checked.');
    return 1;
  }
  let report: ContractReport;
  try {
    report = await checkContract({ sdl, contract: fs.readFileSync(contractPath, 'utf8'), operations });
  } catch (err) {
    console.error(`✖ ${shown} is not a valid schema (restore it from git, or \`npm run schema:accept\`):\n    ${(err as Error).message}`);
    return 1;
  }
  console.log(`Schema contract: schema/ against ${shown}, ${operations.length} client operation document(s).\n`);
  console.log(formatReport(report, shown));
  return contractFails(report) ? 1 : 0;
}

process.exitCode = await main();
