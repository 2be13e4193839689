import 'dotenv/config';
import { loadConfig } from './config.js';
import { createDatabase } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { cleanUp } from './maintenance.js';
import { createAccountsRepository } from './accounts/repository.js';

const USAGE = `Usage: npm run <command>, or node dist/cli.js <command>
  migrate                 apply pending database migrations
  cleanup                 delete expired sessions and deletion records past their retention
  deactivate <username>   block a user: no logins, and their tokens stop working at once
  activate <username>     allow a deactivated user again`;

async function main(argv: string[]): Promise<number> {
  const [command, argument] = argv;
  if (command === undefined || command === 'help' || command === '--help') {
    console.log(USAGE);
    return command === undefined ? 1 : 0;
  }
  const config = loadConfig();
  const database = createDatabase(config.databaseUrl);
  try {
    switch (command) {
      case 'migrate': {
        const applied = await migrateToLatest(database.db);
        console.log(applied.length === 0 ? 'No migrations to apply.' : `Applied: ${applied.join(', ')}`);
        return 0;
      }
      case 'cleanup': {
        const removed = await cleanUp(database, config);
        console.log(`Removed ${removed.sessions} expired sessions and ${removed.tombstones} old deletion records.`);
        return 0;
      }
      case 'activate':
      case 'deactivate': {
        if (!argument) {
          console.error(`${command} needs a username.\n${USAGE}`);
          return 1;
        }
        if (!(await createAccountsRepository(database).setActive(argument, command === 'activate'))) {
          console.error(`No user named ${argument}.`);
          return 1;
        }
        console.log(`${argument} is now ${command === 'activate' ? 'active' : 'inactive'}.`);
        return 0;
      }
      default:
        console.error(`Unknown command: ${command}\n${USAGE}`);
        return 1;
    }
  } finally {
    await database.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
