import 'dotenv/config';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { sql } from 'kysely';
import { passwordProblems } from './accounts/password-policy.js';
import { USERNAME_TAKEN, parseEmail, parseUsername } from './accounts/validation.js';
import { now } from './db/clock.js';
import type { Parsed } from './http/fields.js';
import { hashPassword } from './accounts/passwords.js';
import { createAccountsRepository } from './accounts/repository.js';
import { rotateSigningKey } from './browser-sessions/signing-key.js';
import { loadConfig, sqlitePath } from './config.js';
import { createDatabase, maintenanceOptions, type Database } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { describeImport, importDjango } from './import/import-django.js';
import { cleanUp } from './maintenance.js';
import type { Config } from './config.js';

const USAGE = `Usage: task-tracker <command> (npx task-tracker in a checkout; npm run cli -- <command>)
  migrate                     apply pending database migrations
  cleanup                     delete expired sessions and password reset links, and deletion
                              records past their retention
  deactivate <username>       block a user: no logins, and their tokens stop working at once
  activate <username>         allow a deactivated user again
  changepassword <username>   set a user's password (asked twice on a terminal, else read from
                              the first line of standard input) and end all their sessions
  createsuperuser [--username <name>] [--email <address>] [--password <password>]
                              create a superuser (staff too); each value from its option, else
                              TASK_TRACKER_SUPERUSER_USERNAME, _EMAIL or _PASSWORD, else asked on
                              a terminal
  backup <file>               a consistent copy of the SQLite database, also while the server runs
  import-django <source>      bring over the original Django app's users, tokens and tasks from
                              its SQLite file or a postgres:// URL, keeping their ids
  rotate-jwt-key              replace the stored key that signs browser sessions' tokens: every
                              browser session ends; restart the servers to sign with the new key
  help                        this text
Exit codes: 0 done, 1 failed, 2 wrong usage.`;

/** A mistake in how the command was called: exit code 2 with the usage. */
class UsageError extends Error {}

/** The command could not do its work: exit code 1 with the message. */
class Failure extends Error {}

interface Command {
  /** Names of the positional arguments the command takes. */
  arguments: string[];
  /** Names of the `--name value` options it takes. */
  options?: string[];
  run(context: { config: Config; database: Database; args: string[]; options: Record<string, string> }): Promise<string>;
}

const COMMANDS: Record<string, Command> = {
  migrate: {
    arguments: [],
    async run({ database }) {
      const applied = await migrateToLatest(database.db);
      return applied.length === 0 ? 'No migrations to apply.' : `Applied: ${applied.join(', ')}`;
    },
  },
  cleanup: {
    arguments: [],
    async run({ database, config }) {
      const removed = await cleanUp(database, config);
      return `Removed ${removed.sessions} expired sessions, ${removed.tombstones} old deletion records and ${removed.resetLinks} expired password reset links.`;
    },
  },
  activate: { arguments: ['username'], run: ({ database, args }) => setActive(database, args[0]!, true) },
  deactivate: { arguments: ['username'], run: ({ database, args }) => setActive(database, args[0]!, false) },
  changepassword: {
    arguments: ['username'],
    async run({ database, args }) {
      const [username] = args as [string];
      const accounts = createAccountsRepository(database);
      const user = await accounts.findCredentials(username);
      if (user === undefined) throw new Failure(`No user named ${username}.`);
      const details = (await accounts.findCredentialsById(user.id))!;
      const password = await newPassword(details);
      const outcome = await accounts.changePassword({ userId: user.id, verifiedHash: user.password, passwordHash: await hashPassword(password), keepSessionId: 0 });
      if (outcome !== 'changed') throw new Failure(`The password of ${username} was changed meanwhile, or the user deleted; nothing was changed.`);
      return `Password changed for ${details.username}; all their sessions have ended.`;
    },
  },
  createsuperuser: {
    arguments: [],
    options: ['username', 'email', 'password'],
    async run({ database, options }) {
      const value = (name: string) => options[name] ?? process.env[`TASK_TRACKER_SUPERUSER_${name.toUpperCase()}`];
      const username = checked('username', value('username') ?? (await askOrRefuse('Username: ', 'username')), parseUsername);
      const email = checked('email', value('email') ?? (process.stdin.isTTY ? await ask('Email address (may be blank): ') : ''), parseEmail);
      const given = value('password');
      const password = given ?? (process.stdin.isTTY ? await askTwice() : refuse('password'));
      const problems = passwordProblems(password, { username, email });
      if (problems.length > 0) throw new Failure(problems.join('\n'));
      const accounts = createAccountsRepository(database);
      const created = await accounts.createUser({ username, email, passwordHash: await hashPassword(password), now: now(), superuser: true });
      if (created === undefined) throw new Failure(USERNAME_TAKEN);
      return `Superuser ${username} created.`;
    },
  },
  backup: {
    arguments: ['file'],
    async run({ database, config, args }) {
      if (database.dialect !== 'sqlite') {
        throw new Failure('backup copies SQLite databases. On PostgreSQL use pg_dump: pg_dump --format=custom "$DATABASE_URL" > tasks.dump');
      }
      const target = sqlitePath(`sqlite:${args[0]!}`);
      if (target === sqlitePath(config.databaseUrl)) throw new Failure('The backup must go to another file than the database itself.');
      // One read transaction copies every page as of one moment; writers go on meanwhile (WAL).
      try {
        await sql`vacuum into ${target}`.execute(database.db);
      } catch (error) {
        throw new Failure(`Could not write ${target}: ${(error as Error).message}`);
      }
      return `Backed up to ${target}.`;
    },
  },
  'import-django': {
    arguments: ['source'],
    async run({ database, config, args }) {
      await migrateToLatest(database.db);
      return describeImport(await importDjango(database, args[0]!, { tokenLifetimeSeconds: config.tokenLifetimeSeconds }));
    },
  },
  'rotate-jwt-key': {
    arguments: [],
    async run({ database, config }) {
      if (config.jwt.signingKey !== undefined) throw new Failure('JWT_SIGNING_KEY is set, so the stored key is not used: change the setting instead.');
      const ended = await rotateSigningKey(database.db);
      return `The key was replaced and ${ended} browser session${ended === 1 ? '' : 's'} ended. Restart the servers: until then they sign new sessions with the old key.`;
    },
  },
};

async function setActive(database: Database, username: string, active: boolean): Promise<string> {
  if (!(await createAccountsRepository(database).setActive(username, active))) throw new Failure(`No user named ${username}.`);
  return `${username} is now ${active ? 'active' : 'inactive'}.`;
}

/** A value through one of the API's field parsers; its messages otherwise. */
function checked(name: string, input: string, parse: (value: unknown) => Parsed<string>): string {
  const parsed = parse(input);
  if (!parsed.ok) throw new Failure(`${name}: ${parsed.messages.join(' ')}`);
  return parsed.value;
}

/** Without a terminal to ask on, a missing value is a usage mistake. */
function refuse(name: string): never {
  throw new UsageError(`createsuperuser needs --${name} or TASK_TRACKER_SUPERUSER_${name.toUpperCase()} when no terminal is attached.`);
}

function askOrRefuse(prompt: string, name: string): Promise<string> {
  return process.stdin.isTTY ? ask(prompt) : Promise.resolve(refuse(name));
}

function ask(prompt: string): Promise<string> {
  const reader = createInterface({ input: process.stdin, output: process.stdout });
  return new Promise((resolve) =>
    reader.question(prompt, (answer) => {
      reader.close();
      resolve(answer);
    }),
  );
}

/** `--name value` or `--name=value` options among the command's own; the rest are arguments. */
function parseOptions(command: Command, name: string, words: string[]): { args: string[]; options: Record<string, string> } {
  const args: string[] = [];
  const options: Record<string, string> = {};
  for (let index = 0; index < words.length; index += 1) {
    const word = words[index]!;
    if (!word.startsWith('--')) {
      args.push(word);
      continue;
    }
    const [key, inline] = word.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (!(command.options ?? []).includes(key)) throw new UsageError(`${name} has no option --${key}.`);
    const value = inline ?? words[++index];
    if (value === undefined) throw new UsageError(`--${key} needs a value.`);
    options[key] = value;
  }
  return { args, options };
}

/** A new password that passes the policy: asked twice on a terminal, else the first line of input. */
async function newPassword(context: { username: string; email: string }): Promise<string> {
  const password = process.stdin.isTTY ? await askTwice() : await firstLine();
  const problems = passwordProblems(password, context);
  if (problems.length > 0) throw new Failure(problems.join('\n'));
  return password;
}

async function askTwice(): Promise<string> {
  const first = await askHidden('Password: ');
  const second = await askHidden('Password (again): ');
  if (first !== second) throw new Failure('The two passwords differ.');
  return first;
}

/** Reads a line from the terminal without echoing it. */
function askHidden(prompt: string): Promise<string> {
  process.stdout.write(prompt);
  const silent = new Writable({ write: (_chunk, _encoding, done) => done() });
  const reader = createInterface({ input: process.stdin, output: silent, terminal: true });
  return new Promise((resolve) =>
    reader.question('', (answer) => {
      reader.close();
      process.stdout.write('\n');
      resolve(answer);
    }),
  );
}

async function firstLine(): Promise<string> {
  const reader = createInterface({ input: process.stdin });
  for await (const line of reader) {
    reader.close();
    return line;
  }
  throw new Failure('No password on standard input.');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...words] = argv;
  if (name === 'help' || name === '--help' || name === '-h') {
    console.log(USAGE);
    return 0;
  }
  try {
    const command = name === undefined ? undefined : COMMANDS[name];
    if (command === undefined) throw new UsageError(name === undefined ? 'No command given.' : `Unknown command: ${name}`);
    const { args, options } = parseOptions(command, name!, words);
    if (args.length !== command.arguments.length) {
      throw new UsageError(`${name} takes ${command.arguments.length === 0 ? 'no arguments' : command.arguments.map((argument) => `<${argument}>`).join(' ')}.`);
    }
    const config = loadConfig();
    const database = createDatabase(config.databaseUrl, maintenanceOptions(config));
    try {
      console.log(await command.run({ config, database, args, options }));
      return 0;
    } finally {
      await database.close();
    }
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`${error.message}\n${USAGE}`);
      return 2;
    }
    console.error(error instanceof Error ? error.message : error);
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code));
