/**
 * Migration commands over the shared ORM configuration:
 *   create [name] · up · down [--all] · pending · check (entities vs migrations drift)
 */
import { loadEnv } from '../config/env.js';
import { openDatabase } from './database.js';
import { initOrm } from './orm.js';

const [command = 'up', ...args] = process.argv.slice(2);
const env = loadEnv();
const db = await openDatabase(env);
const orm = await initOrm(db.url);
const migrator = orm.getMigrator();
let exitCode = 0;
try {
  switch (command) {
    case 'create': {
      const result = await migrator.createMigration(undefined, false, false, args[0]);
      if (!result.diff.up.length) console.log('No changes: entities and migrations agree.');
      else console.log(`Created migrations/${result.fileName}; add it to migrations/index.ts.`);
      break;
    }
    case 'up':
      console.log(JSON.stringify(await migrator.up()));
      break;
    case 'down':
      console.log(JSON.stringify(await migrator.down(args.includes('--all') ? { to: 0 } : undefined)));
      break;
    case 'pending':
      console.log(JSON.stringify(await migrator.getPendingMigrations()));
      break;
    case 'check': {
      await migrator.up();
      const diff = await orm.getSchemaGenerator().getUpdateSchemaSQL({ wrap: false, safe: false });
      if (diff.trim()) {
        console.error(`Entities and migrations disagree; the migrated database would need:\n${diff}`);
        exitCode = 1;
      } else console.log('Entities and migrations agree.');
      break;
    }
    default:
      console.error(`Unknown command "${command}". Use create, up, down, pending or check.`);
      exitCode = 2;
  }
} finally {
  await orm.close();
  await db.stop();
}
process.exit(exitCode);
