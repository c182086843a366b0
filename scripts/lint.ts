/**
 * House rules that the type checker cannot see (STYLE.md "House habits"):
 *  - process.env is read in src/config/env.ts only;
 *  - every raw SQL statement starts with a naming comment (`/* name *\/ select …`);
 *  - relative imports carry their `.js` extension (NodeNext ESM);
 *  - no console output from library code (only src/index.ts and src/cli/ print).
 */
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const problems: string[] = [];

function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) return d.name === '__generated__' || d.name === 'node_modules' ? [] : walk(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

for (const file of walk(path.join(root, 'src'))) {
  const rel = path.relative(root, file);
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    const where = `${rel}:${i + 1}`;
    if (/process\.env\b/.test(line) && rel !== path.join('src', 'config', 'env.ts')) problems.push(`${where}: read configuration through src/config/env.ts, not process.env`);
    if (/from '\.{1,2}\/[^']*(?<!\.js)'/.test(line)) problems.push(`${where}: relative imports need the .js extension`);
    if (/\bconsole\.(log|info|debug)\(/.test(line) && !rel.startsWith(path.join('src', 'cli')) && rel !== path.join('src', 'index.ts') && rel !== path.join('src', 'db', 'migrate.ts')) {
      problems.push(`${where}: use the logger, not console`);
    }
  });
  // Raw SQL: the first argument of .execute( / .query( that is a template literal must start with a name comment.
  for (const m of text.matchAll(/\.(execute|query)(<[^>]*(?:<[^>]*>[^>]*)*>)?\(\s*[`'"](?!\s*\/\*\s*[\w.-]+\s*\*\/)([^`'"]{0,40})/g)) {
    const line = text.slice(0, m.index).split('\n').length;
    problems.push(`${rel}:${line}: name this SQL statement with a leading /* name */ comment ("${m[3].trim().slice(0, 30)}…")`);
  }
}

if (problems.length) {
  console.error(problems.join('\n'));
  console.error(`\n${problems.length} problem(s).`);
  process.exit(1);
}
console.log('lint: ok');
