import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function projectRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (dir === path.dirname(dir)) throw new Error(`no package.json above ${from}`);
  }
}

/** The directory of package.json: the same whether this runs from src/ (tsx) or dist/src/ (compiled). */
export const PROJECT_ROOT = projectRoot(path.dirname(fileURLToPath(import.meta.url)));
