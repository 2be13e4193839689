import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig, productionWarnings, sqlitePath, type Config } from '../../src/config.js';

const DEFAULTS: Config = {
  port: 8000,
  host: '127.0.0.1',
  databaseUrl: 'sqlite:./data/tasks.sqlite3',
  corsAllowedOrigins: ['http://localhost:3000', 'http://localhost:3001'],
  allowedHosts: ['localhost', '127.0.0.1', '[::1]'],
  logLevel: 'info',
  trustProxy: false,
  redisUrl: undefined,
  migrateOnStart: true,
  bodyLimitBytes: 1048576,
  tokenLifetimeSeconds: 2592000,
  throttle: {
    loginPerUsername: { max: 5, windowSeconds: 300 },
    loginPerUsernameTotal: { max: 100, windowSeconds: 3600 },
    loginPerAddress: { max: 10, windowSeconds: 60 },
    registerPerAddress: { max: 20, windowSeconds: 60 },
    passwordResetPerAddress: { max: 20, windowSeconds: 60 },
    passwordResetPerEmail: { max: 5, windowSeconds: 60 },
  },
  tombstoneRetentionSeconds: 2592000,
  docs: true,
  replyMemoryBytes: 33554432,
  requestTimeoutSeconds: 30,
  headersTimeoutSeconds: 10,
  keepAliveTimeoutSeconds: 72,
  connectionTimeoutSeconds: 60,
  shutdownTimeoutSeconds: 10,
  readyTimeoutSeconds: 2,
  databaseConnectTimeoutSeconds: 5,
  databaseQueryTimeoutSeconds: 15,
  maxConnections: 4096,
  metricsToken: undefined,
  production: false,
  webConcurrency: 1,
  mail: { smtp: undefined, from: 'webmaster@localhost' },
  passwordReset: {
    url: 'http://localhost:3000/password-reset/{uid}/{token}/',
    timeoutSeconds: 3600,
    maxOutstanding: 3,
    subject: 'Password reset on Task Tracker',
  },
  jwt: {
    signingKey: undefined,
    accessLifetimeSeconds: 300,
    refreshLifetimeSeconds: 86400,
    cookies: {
      enabled: true,
      accessName: 'my-app-auth',
      refreshName: 'my-refresh-token',
      secure: true,
      sameSite: 'None',
      httpOnly: true,
      domain: undefined,
      path: '/',
    },
  },
};

/** The ConfigError loadConfig throws for `env`; fails the test when it does not throw one. */
function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error;
  }
  assert.fail(`loadConfig(${JSON.stringify(env)}) accepted the settings`);
}

describe('configuration defaults', () => {
  test('when nothing is set, then every setting has its documented default', () => {
    assert.deepEqual(loadConfig({}), DEFAULTS);
  });

  test('when variables are empty or only spaces, then they count as unset', () => {
    const blank = Object.fromEntries(
      ['PORT', 'HOST', 'DATABASE_URL', 'CORS_ALLOWED_ORIGINS', 'ALLOWED_HOSTS', 'LOG_LEVEL', 'TRUST_PROXY', 'REDIS_URL',
        'MIGRATE_ON_START', 'BODY_LIMIT_BYTES', 'TOKEN_LIFETIME_SECONDS', 'THROTTLE_LOGIN_USERNAME', 'THROTTLE_LOGIN_ADDRESS',
        'THROTTLE_REGISTER_ADDRESS', 'TOMBSTONE_RETENTION_SECONDS', 'API_DOCS', 'CLIENT_ORIGIN', 'CLIENT_ORIGIN_DEV',
        'REQUEST_TIMEOUT_SECONDS', 'HEADERS_TIMEOUT_SECONDS', 'KEEP_ALIVE_TIMEOUT_SECONDS', 'CONNECTION_TIMEOUT_SECONDS',
        'SHUTDOWN_TIMEOUT_SECONDS', 'READY_TIMEOUT_SECONDS', 'METRICS_TOKEN', 'JWT_SIGNING_KEY', 'JWT_ACCESS_LIFETIME_SECONDS',
        'JWT_REFRESH_LIFETIME_SECONDS', 'JWT_AUTH_COOKIE_USE', 'JWT_AUTH_COOKIE', 'JWT_AUTH_REFRESH_COOKIE', 'JWT_AUTH_SECURE',
        'JWT_AUTH_SAMESITE', 'JWT_AUTH_HTTPONLY', 'JWT_AUTH_COOKIE_DOMAIN', 'JWT_AUTH_COOKIE_PATH'].map(
        (name, index) => [name, index % 2 === 0 ? '' : '   '],
      ),
    );
    assert.deepEqual(loadConfig(blank), DEFAULTS);
  });
});

describe('configuration values', () => {
  test('when every variable is set, then each is parsed into its setting', () => {
    const config = loadConfig({
      PORT: '9090',
      HOST: '0.0.0.0',
      DATABASE_URL: 'postgres://user:secret@db.internal:5432/tasks',
      CORS_ALLOWED_ORIGINS: 'https://app.example.com, http://localhost:5173/',
      CLIENT_ORIGIN: 'https://client.example.com',
      CLIENT_ORIGIN_DEV: 'http://localhost:3000',
      ALLOWED_HOSTS: 'api.example.com, .example.org ,,localhost',
      LOG_LEVEL: 'WARN',
      TRUST_PROXY: '10.0.0.0/8, 192.168.1.1, ::1, fd00::/8',
      REDIS_URL: 'redis://cache.internal:6379/2',
      MIGRATE_ON_START: 'false',
      BODY_LIMIT_BYTES: '2048',
      TOKEN_LIFETIME_SECONDS: '3600',
      THROTTLE_LOGIN_USERNAME: '3/600',
      THROTTLE_LOGIN_USERNAME_TOTAL: '50/7200',
      THROTTLE_LOGIN_ADDRESS: '7 / 30',
      THROTTLE_REGISTER_ADDRESS: '100/86400',
      THROTTLE_PASSWORD_RESET_ADDRESS: '10/60',
      THROTTLE_PASSWORD_RESET_EMAIL: '2/600',
      TOMBSTONE_RETENTION_SECONDS: '86400',
      API_DOCS: 'off',
      REPLY_MEMORY_BYTES: '8388608',
      REQUEST_TIMEOUT_SECONDS: '120',
      HEADERS_TIMEOUT_SECONDS: '120',
      KEEP_ALIVE_TIMEOUT_SECONDS: '5',
      CONNECTION_TIMEOUT_SECONDS: '300',
      SHUTDOWN_TIMEOUT_SECONDS: '3600',
      READY_TIMEOUT_SECONDS: '60',
      DATABASE_CONNECT_TIMEOUT_SECONDS: '2',
      DATABASE_QUERY_TIMEOUT_SECONDS: '0',
      MAX_CONNECTIONS: '100',
      METRICS_TOKEN: 'm'.repeat(32),
      NODE_ENV: 'production',
      WEB_CONCURRENCY: '4',
      EMAIL_HOST: 'smtp.example.com',
      EMAIL_PORT: '587',
      EMAIL_HOST_USER: 'mailer',
      EMAIL_HOST_PASSWORD: 'mail secret',
      EMAIL_USE_TLS: 'true',
      EMAIL_TIMEOUT: '30',
      DEFAULT_FROM_EMAIL: 'Task Tracker <tasks@example.com>',
      PASSWORD_RESET_URL: 'https://app.example.com/reset/{uid}/{token}',
      PASSWORD_RESET_TIMEOUT_SECONDS: '900',
      PASSWORD_RESET_MAX_OUTSTANDING: '5',
      PASSWORD_RESET_SUBJECT: 'Your new password',
      JWT_SIGNING_KEY: 'k'.repeat(40),
      JWT_ACCESS_LIFETIME_SECONDS: '60',
      JWT_REFRESH_LIFETIME_SECONDS: '3600',
      JWT_AUTH_COOKIE_USE: 'yes',
      JWT_AUTH_COOKIE: 'app-access',
      JWT_AUTH_REFRESH_COOKIE: 'app-refresh',
      JWT_AUTH_SECURE: 'false',
      JWT_AUTH_SAMESITE: 'lax',
      JWT_AUTH_HTTPONLY: 'off',
      JWT_AUTH_COOKIE_DOMAIN: '.Example.com',
      JWT_AUTH_COOKIE_PATH: '/backend/',
    });
    assert.deepEqual(config, {
      port: 9090,
      host: '0.0.0.0',
      databaseUrl: 'postgres://user:secret@db.internal:5432/tasks',
      corsAllowedOrigins: ['https://app.example.com', 'http://localhost:5173', 'https://client.example.com', 'http://localhost:3000'],
      allowedHosts: ['api.example.com', '.example.org', 'localhost'],
      logLevel: 'warn',
      trustProxy: ['10.0.0.0/8', '192.168.1.1', '::1', 'fd00::/8'],
      redisUrl: 'redis://cache.internal:6379/2',
      migrateOnStart: false,
      bodyLimitBytes: 2048,
      tokenLifetimeSeconds: 3600,
      throttle: {
        loginPerUsername: { max: 3, windowSeconds: 600 },
        loginPerUsernameTotal: { max: 50, windowSeconds: 7200 },
        loginPerAddress: { max: 7, windowSeconds: 30 },
        registerPerAddress: { max: 100, windowSeconds: 86400 },
        passwordResetPerAddress: { max: 10, windowSeconds: 60 },
        passwordResetPerEmail: { max: 2, windowSeconds: 600 },
      },
      tombstoneRetentionSeconds: 86400,
      docs: false,
      replyMemoryBytes: 8388608,
      requestTimeoutSeconds: 120,
      headersTimeoutSeconds: 120,
      keepAliveTimeoutSeconds: 5,
      connectionTimeoutSeconds: 300,
      shutdownTimeoutSeconds: 3600,
      readyTimeoutSeconds: 60,
      databaseConnectTimeoutSeconds: 2,
      databaseQueryTimeoutSeconds: 0,
      maxConnections: 100,
      metricsToken: 'm'.repeat(32),
      production: true,
      webConcurrency: 4,
      mail: {
        smtp: { host: 'smtp.example.com', port: 587, implicitTls: false, startTls: true, user: 'mailer', password: 'mail secret', timeoutSeconds: 30 },
        from: 'Task Tracker <tasks@example.com>',
      },
      passwordReset: { url: 'https://app.example.com/reset/{uid}/{token}', timeoutSeconds: 900, maxOutstanding: 5, subject: 'Your new password' },
      jwt: {
        signingKey: 'k'.repeat(40),
        accessLifetimeSeconds: 60,
        refreshLifetimeSeconds: 3600,
        cookies: {
          enabled: true,
          accessName: 'app-access',
          refreshName: 'app-refresh',
          secure: false,
          sameSite: 'Lax',
          httpOnly: false,
          domain: 'example.com',
          path: '/backend/',
        },
      },
    } satisfies Config);
  });

  test('when a client origin is already in the allowed list, then it is not listed twice', () => {
    const config = loadConfig({
      CORS_ALLOWED_ORIGINS: 'https://app.example.com',
      CLIENT_ORIGIN: 'https://app.example.com/',
      CLIENT_ORIGIN_DEV: 'https://app.example.com',
    });
    assert.deepEqual(config.corsAllowedOrigins, ['https://app.example.com']);
  });

  test('when only CLIENT_ORIGIN_DEV is set, then it is added to the default origins', () => {
    assert.deepEqual(loadConfig({ CLIENT_ORIGIN_DEV: 'http://127.0.0.1:8080' }).corsAllowedOrigins, [
      'http://localhost:3000',
      'http://localhost:3001',
      'http://127.0.0.1:8080',
    ]);
  });

  test('when PORT is at either end of its range, then it is accepted', () => {
    assert.equal(loadConfig({ PORT: '0' }).port, 0);
    assert.equal(loadConfig({ PORT: '65535' }).port, 65535);
  });

  for (const [raw, expected] of [['true', true], ['TRUE', true], ['yes', true], ['on', true], ['false', false], ['No', false], ['off', false]] as const) {
    test(`when TRUST_PROXY is ${raw}, then proxies are ${expected ? 'trusted' : 'not trusted'}`, () => {
      assert.equal(loadConfig({ TRUST_PROXY: raw }).trustProxy, expected);
    });
  }

  for (const [raw, expected] of [['1', true], ['yes', true], ['ON', true], ['true', true], ['0', false], ['no', false], ['False', false], ['off', false]] as const) {
    test(`when MIGRATE_ON_START and API_DOCS are ${raw}, then both are ${expected}`, () => {
      const config = loadConfig({ MIGRATE_ON_START: raw, API_DOCS: raw });
      assert.equal(config.migrateOnStart, expected);
      assert.equal(config.docs, expected);
    });
  }

  for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) {
    test(`when LOG_LEVEL is ${level}, then it is used`, () => {
      assert.equal(loadConfig({ LOG_LEVEL: level }).logLevel, level);
    });
  }

  test('when REDIS_URL uses TLS (rediss://), then it is accepted', () => {
    assert.equal(loadConfig({ REDIS_URL: 'rediss://:pw@cache:6380' }).redisUrl, 'rediss://:pw@cache:6380');
  });

  test('when ALLOWED_HOSTS is *, then the list is just *', () => {
    assert.deepEqual(loadConfig({ ALLOWED_HOSTS: '*' }).allowedHosts, ['*']);
  });

  test('when ALLOWED_HOSTS names IP literals, domains and names in capitals, then they are accepted', () => {
    assert.deepEqual(loadConfig({ ALLOWED_HOSTS: '[2001:db8::1],10.0.0.7,.Example.COM,API.example.com' }).allowedHosts, [
      '[2001:db8::1]',
      '10.0.0.7',
      '.Example.COM',
      'API.example.com',
    ]);
  });
});

describe('database URLs', () => {
  for (const url of ['postgres://root@127.0.0.1:5432/tt', 'postgresql://u:p@host/db?sslmode=require']) {
    test(`when DATABASE_URL is ${url}, then it is kept as it is`, () => {
      assert.equal(loadConfig({ DATABASE_URL: url }).databaseUrl, url);
    });
  }

  const sqliteForms: [string, string][] = [
    ['sqlite:./data/tasks.sqlite3', resolve('data/tasks.sqlite3')],
    ['sqlite:db.sqlite3', resolve('db.sqlite3')],
    ['sqlite:/var/lib/tasks/db.sqlite3', '/var/lib/tasks/db.sqlite3'],
    ['sqlite:///relative/db.sqlite3', resolve('relative/db.sqlite3')],
    ['sqlite:////var/lib/tasks/db.sqlite3', '/var/lib/tasks/db.sqlite3'],
    ['sqlite::memory:', ':memory:'],
    ['sqlite:///:memory:', ':memory:'],
  ];
  for (const [url, path] of sqliteForms) {
    test(`when DATABASE_URL is ${url}, then it is accepted and names ${path}`, () => {
      assert.equal(loadConfig({ DATABASE_URL: url }).databaseUrl, url);
      assert.equal(sqlitePath(url), path);
    });
  }

  for (const url of ['sqlite:', 'sqlite:///', 'sqlite://host/db.sqlite3', 'mysql://root@localhost/tasks', 'postgres:/missing-slash', 'tasks.sqlite3']) {
    test(`when DATABASE_URL is ${JSON.stringify(url)}, then the configuration is refused naming DATABASE_URL`, () => {
      assert.match(configError({ DATABASE_URL: url }).message, /DATABASE_URL=/);
    });
  }
});

describe('invalid configuration', () => {
  const invalid: [string, string][] = [
    ['PORT', 'abc'],
    ['PORT', '65536'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['CORS_ALLOWED_ORIGINS', 'app.example.com'],
    ['CORS_ALLOWED_ORIGINS', 'https://ok.example.com,ftp://files.example.com'],
    ['CLIENT_ORIGIN', 'not a url'],
    ['CLIENT_ORIGIN_DEV', 'file:///tmp/x'],
    ['LOG_LEVEL', 'verbose'],
    ['TRUST_PROXY', 'proxy.internal'],
    ['TRUST_PROXY', '10.0.0.0/8,gateway'],
    ['REDIS_URL', 'http://cache:6379'],
    ['MIGRATE_ON_START', 'maybe'],
    ['API_DOCS', '2'],
    ['BODY_LIMIT_BYTES', '1023'],
    ['BODY_LIMIT_BYTES', '1MB'],
    ['TOKEN_LIFETIME_SECONDS', '59'],
    ['TOKEN_LIFETIME_SECONDS', '315360001'],
    ['THROTTLE_LOGIN_USERNAME', '5'],
    ['THROTTLE_LOGIN_ADDRESS', '0/60'],
    ['THROTTLE_REGISTER_ADDRESS', '10/86401'],
    ['THROTTLE_REGISTER_ADDRESS', 'ten/60'],
    ['TOMBSTONE_RETENTION_SECONDS', '30d'],
    ['ALLOWED_HOSTS', 'localhost:8000'],
    ['ALLOWED_HOSTS', 'api.example.com,http://app.example.com'],
    ['ALLOWED_HOSTS', 'user@example.com'],
    ['ALLOWED_HOSTS', '::1'],
    ['ALLOWED_HOSTS', '*.example.com'],
    ['REQUEST_TIMEOUT_SECONDS', '0'],
    ['REQUEST_TIMEOUT_SECONDS', '3601'],
    ['HEADERS_TIMEOUT_SECONDS', '1.5'],
    ['KEEP_ALIVE_TIMEOUT_SECONDS', '-5'],
    ['CONNECTION_TIMEOUT_SECONDS', 'forever'],
    ['SHUTDOWN_TIMEOUT_SECONDS', '0'],
    ['READY_TIMEOUT_SECONDS', '61'],
    ['DATABASE_CONNECT_TIMEOUT_SECONDS', '0'],
    ['DATABASE_QUERY_TIMEOUT_SECONDS', '-1'],
    ['MAX_CONNECTIONS', '0'],
    ['JWT_ACCESS_LIFETIME_SECONDS', '0'],
    ['JWT_ACCESS_LIFETIME_SECONDS', '5m'],
    ['JWT_REFRESH_LIFETIME_SECONDS', '59'],
    ['JWT_AUTH_COOKIE_USE', 'perhaps'],
    ['JWT_AUTH_COOKIE', 'my app auth'],
    ['JWT_AUTH_COOKIE', 'a;b'],
    ['JWT_AUTH_REFRESH_COOKIE', 'csrftoken'],
    ['JWT_AUTH_SECURE', 'secure'],
    ['JWT_AUTH_SAMESITE', 'Relaxed'],
    ['JWT_AUTH_HTTPONLY', '2'],
    ['JWT_AUTH_COOKIE_DOMAIN', 'localhost'],
    ['JWT_AUTH_COOKIE_DOMAIN', 'example.com:8000'],
    ['JWT_AUTH_COOKIE_DOMAIN', 'https://example.com'],
    ['JWT_AUTH_COOKIE_PATH', 'api/'],
    ['JWT_AUTH_COOKIE_PATH', '/api'],
    ['JWT_AUTH_COOKIE_PATH', '/a;b/'],
  ];
  for (const [name, raw] of invalid) {
    test(`when ${name} is ${JSON.stringify(raw)}, then a ConfigError names ${name} and the value`, () => {
      const error = configError({ [name]: raw });
      assert.equal(error.name, 'ConfigError');
      assert.ok(error.message.includes(`${name}=${JSON.stringify(raw)}`), error.message);
    });
  }

  test('when the header deadline is later than the whole request\'s, then a ConfigError names both', () => {
    const error = configError({ REQUEST_TIMEOUT_SECONDS: '20', HEADERS_TIMEOUT_SECONDS: '30' });
    assert.match(error.message, /HEADERS_TIMEOUT_SECONDS must not be more than REQUEST_TIMEOUT_SECONDS/);
  });

  test('when access tokens would outlive refresh tokens, then a ConfigError names both lifetimes', () => {
    const error = configError({ JWT_ACCESS_LIFETIME_SECONDS: '7200', JWT_REFRESH_LIFETIME_SECONDS: '3600' });
    assert.match(error.message, /JWT_ACCESS_LIFETIME_SECONDS must not be more than JWT_REFRESH_LIFETIME_SECONDS/);
  });

  test('when SameSite=None cookies would not be Secure, then a ConfigError says browsers refuse them', () => {
    assert.match(configError({ JWT_AUTH_SECURE: 'false' }).message, /JWT_AUTH_SAMESITE=None needs JWT_AUTH_SECURE=true/);
    assert.equal(loadConfig({ JWT_AUTH_SECURE: 'false', JWT_AUTH_COOKIE_USE: 'false' }).jwt.cookies.secure, false);
  });

  test('when the access and refresh cookies have one name, then a ConfigError says they must differ', () => {
    assert.match(configError({ JWT_AUTH_COOKIE: 'session', JWT_AUTH_REFRESH_COOKIE: 'session' }).message, /must differ/);
  });

  for (const raw of ['999.1.1.1', '10.0.0.0/99']) {
    test(`when TRUST_PROXY is ${raw}, which is shaped like an address but is none, then a ConfigError names TRUST_PROXY`, () => {
      assert.match(configError({ TRUST_PROXY: raw }).message, /TRUST_PROXY=/);
    });
  }

  test('when several variables are bad, then one ConfigError names every one of them and no good one', () => {
    const error = configError({
      PORT: 'abc',
      HOST: '0.0.0.0',
      DATABASE_URL: 'mysql://x',
      LOG_LEVEL: 'loud',
      REDIS_URL: 'cache:6379',
      THROTTLE_LOGIN_USERNAME: '5 per minute',
      TOMBSTONE_RETENTION_SECONDS: '1',
      API_DOCS: 'sure',
    });
    const named = error.message
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split('=')[0]);
    assert.deepEqual(named.sort(), ['API_DOCS', 'DATABASE_URL', 'LOG_LEVEL', 'PORT', 'REDIS_URL', 'THROTTLE_LOGIN_USERNAME', 'TOMBSTONE_RETENTION_SECONDS']);
    assert.match(error.message, /^Invalid configuration:/);
  });
});

// Last in the file: when it fails, the defaults it leaked into would make later tests fail too.
describe('repeated loads', () => {
  test('when a client origin was added in an earlier load, then a later load without it has only the default origins', () => {
    loadConfig({ CLIENT_ORIGIN: 'https://leak.example.com' });
    assert.deepEqual(loadConfig({}).corsAllowedOrigins, DEFAULTS.corsAllowedOrigins);
  });

  test('when METRICS_TOKEN is too short, then the ConfigError names it without repeating the secret', () => {
    const error = configError({ METRICS_TOKEN: 'short-secret' });
    assert.match(error.message, /METRICS_TOKEN=\(not shown\): expected at least 32 characters/);
    assert.doesNotMatch(error.message, /short-secret/);
  });

  test('when JWT_SIGNING_KEY is too short, then the ConfigError names it without repeating the secret', () => {
    const error = configError({ JWT_SIGNING_KEY: 'a-short-signing-key' });
    assert.match(error.message, /JWT_SIGNING_KEY=\(not shown\): expected at least 32 characters/);
    assert.doesNotMatch(error.message, /a-short-signing-key/);
  });

  test('when NODE_ENV=production and the session cookies are not Secure, then that is warned about', () => {
    const mailed = { EMAIL_HOST: 'smtp.example.com', PASSWORD_RESET_URL: 'https://app.example.com/reset/{uid}/{token}/' };
    const warnings = productionWarnings(loadConfig({ NODE_ENV: 'production', JWT_AUTH_SECURE: 'false', JWT_AUTH_SAMESITE: 'Lax', CORS_ALLOWED_ORIGINS: 'https://app.example.com', ...mailed }));
    assert.deepEqual(warnings, ['JWT_AUTH_SECURE=false: browsers send the session cookies over plain HTTP too.']);
  });

  test('when NODE_ENV=production and settings only suit development, then each gets a warning; without production, none', () => {
    const env = { ALLOWED_HOSTS: '*', CORS_ALLOWED_ORIGINS: 'http://localhost:3000,https://app.example.com', HOST: '0.0.0.0', LOG_LEVEL: 'debug' };
    const warnings = productionWarnings(loadConfig({ ...env, NODE_ENV: 'production' }));
    assert.equal(warnings.length, 6);
    assert.match(warnings[0]!, /^ALLOWED_HOSTS allows any host/);
    assert.match(warnings[1]!, /http:\/\/localhost:3000\)/);
    assert.match(warnings[2]!, /^DATABASE_URL is SQLite/);
    assert.match(warnings[3]!, /^LOG_LEVEL=debug/);
    assert.match(warnings[4]!, /^Neither EMAIL_URL nor EMAIL_HOST is set: password reset mails are written to the log/);
    assert.match(warnings[5]!, /^PASSWORD_RESET_URL links to a local development page/);
    assert.deepEqual(productionWarnings(loadConfig(env)), []);
    const good = {
      ALLOWED_HOSTS: 'api.example.com',
      CORS_ALLOWED_ORIGINS: 'https://app.example.com',
      DATABASE_URL: 'postgres://db/tasks',
      NODE_ENV: 'production',
      EMAIL_URL: 'submission://mailer:secret@smtp.example.com',
      PASSWORD_RESET_URL: 'https://app.example.com/password-reset/{uid}/{token}/',
    };
    assert.deepEqual(productionWarnings(loadConfig(good)), []);
  });
});
