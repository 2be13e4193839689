import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { hostName } from './http/routing.js';

/** Every setting the service reads, parsed and validated once at start-up. */
export interface Config {
  port: number;
  host: string;
  databaseUrl: string;
  corsAllowedOrigins: string[];
  /** Host header allow-list, like Django's ALLOWED_HOSTS; `*` allows any host. */
  allowedHosts: string[];
  logLevel: string;
  /** true, false, or the addresses/CIDR ranges of trusted proxies. */
  trustProxy: boolean | string[];
  redisUrl: string | undefined;
  /** Apply pending migrations when the server starts. */
  migrateOnStart: boolean;
  bodyLimitBytes: number;
  /** Lifetime of a login session; every use slides it forward. */
  tokenLifetimeSeconds: number;
  throttle: ThrottleConfig;
  /** How long ids of deleted tasks are kept for incremental sync. */
  tombstoneRetentionSeconds: number;
  /** Serve the OpenAPI document and the interactive docs page. */
  docs: boolean;
  /** Memory that long task lists being sent may hold at once, all requests together. */
  replyMemoryBytes: number;
  /** Seconds a client has to send a whole request, headers and body (408 beyond). */
  requestTimeoutSeconds: number;
  /** Seconds a client has to send the request line and headers (408 beyond). */
  headersTimeoutSeconds: number;
  /** Seconds an idle keep-alive connection is kept open for the next request. */
  keepAliveTimeoutSeconds: number;
  /** Seconds a connection may stay silent, nothing sent either way, before it is closed. */
  connectionTimeoutSeconds: number;
  /** Open connections at most; beyond, new ones are closed at once (file descriptors are finite). */
  maxConnections: number;
  /** Seconds shutdown waits for requests in flight before it closes their connections and exits. */
  shutdownTimeoutSeconds: number;
  /** Seconds the database has to answer `GET /readyz`. */
  readyTimeoutSeconds: number;
  /** PostgreSQL: seconds to wait for a connection before answering 503. */
  databaseConnectTimeoutSeconds: number;
  /** PostgreSQL: seconds a statement's reply may take before it fails (503); 0 for no limit. */
  databaseQueryTimeoutSeconds: number;
  /** The bearer token of `GET /metrics`; without one, metrics are neither collected nor served. */
  metricsToken: string | undefined;
  /** NODE_ENV=production: settings that only suit development are warned about at start. */
  production: boolean;
  /** Worker processes serving the port (cluster mode when more than 1). */
  webConcurrency: number;
  mail: MailConfig;
  passwordReset: PasswordResetConfig;
  /** Browser sessions: JWTs with rotating refresh tokens, optionally in cookies. */
  jwt: JwtConfig;
}

/** Outgoing mail, with Django's setting names. */
export interface MailConfig {
  /** The SMTP server; without one, messages are written to the log (development). */
  smtp: SmtpConfig | undefined;
  /** The From of every message: an address, or `Name <address>`. */
  from: string;
}

export interface SmtpConfig {
  host: string;
  port: number;
  /** TLS from the first byte (Django's EMAIL_USE_SSL, usually port 465). */
  implicitTls: boolean;
  /** STARTTLS, refusing to send without it (Django's EMAIL_USE_TLS, usually port 587). */
  startTls: boolean;
  user: string | undefined;
  password: string | undefined;
  /** Seconds to connect, to be greeted, and between any two steps of a delivery. */
  timeoutSeconds: number;
}

/** Password reset by email; see "Password reset" in the README. */
export interface PasswordResetConfig {
  /** The front end's page a reset mail links to, with `{uid}` and `{token}` in it. */
  url: string;
  /** How long a reset link works (Django's PASSWORD_RESET_TIMEOUT). */
  timeoutSeconds: number;
  /** Links an account may have outstanding at once; further requests send nothing. */
  maxOutstanding: number;
  subject: string;
}

/** See "Browser sessions" in the README. */
export interface JwtConfig {
  /** The HS256 key; without one, a key generated once and kept in the database is used. */
  signingKey: string | undefined;
  accessLifetimeSeconds: number;
  refreshLifetimeSeconds: number;
  cookies: CookieConfig;
}

export type SameSite = 'None' | 'Lax' | 'Strict';

export interface CookieConfig {
  /** Cookie mode: the dj-rest-auth endpoints set the tokens as cookies, which authenticate requests. */
  enabled: boolean;
  accessName: string;
  refreshName: string;
  secure: boolean;
  sameSite: SameSite;
  /** HttpOnly cookies, and no refresh token in reply bodies. */
  httpOnly: boolean;
  /** Unset: the cookies belong to the API's host alone. */
  domain: string | undefined;
  /** The path the API is served under as browsers see it; the refresh cookie goes below it. */
  path: string;
}

/** Password guesses and sign-ups allowed; see "Brute-force protection" in the README. */
export interface ThrottleConfig {
  /** Failed logins per username from one client address. */
  loginPerUsername: RateLimit;
  /** Failed logins per username from all addresses but those its owner recently logged in from. */
  loginPerUsernameTotal: RateLimit;
  /** Failed logins per client address, whatever the usernames. */
  loginPerAddress: RateLimit;
  /** Sign-up attempts per client address. */
  registerPerAddress: RateLimit;
  /** Password reset requests per client address, whatever the addresses asked for. */
  passwordResetPerAddress: RateLimit;
  /** Password reset requests per email address asked for, from all clients. */
  passwordResetPerEmail: RateLimit;
}

export interface RateLimit {
  max: number;
  windowSeconds: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const DEFAULT_DATABASE_URL = 'sqlite:./data/tasks.sqlite3';
const DEFAULT_ORIGINS = ['http://localhost:3000', 'http://localhost:3001'];
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

type Env = Record<string, string | undefined>;

const SECRET_SETTINGS = new Set(['METRICS_TOKEN', 'EMAIL_URL', 'EMAIL_HOST_PASSWORD', 'JWT_SIGNING_KEY']);

export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const read = <T>(name: string, fallback: T, parse: (raw: string) => T): T => {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === '') return fallback;
    try {
      return parse(raw);
    } catch (error) {
      // A secret's value is not repeated in the message, which ends up in logs.
      const shown = SECRET_SETTINGS.has(name) ? '(not shown)' : JSON.stringify(raw);
      problems.push(`${name}=${shown}: ${(error as Error).message}`);
      return fallback;
    }
  };

  const config: Config = {
    port: read('PORT', 8000, (raw) => integer(raw, 0, 65535)),
    host: read('HOST', '127.0.0.1', (raw) => raw),
    databaseUrl: read('DATABASE_URL', DEFAULT_DATABASE_URL, databaseUrl),
    corsAllowedOrigins: corsOrigins(env, read),
    allowedHosts: read('ALLOWED_HOSTS', ['localhost', '127.0.0.1', '[::1]'], allowedHosts),
    logLevel: read('LOG_LEVEL', 'info', (raw) => oneOf(raw.toLowerCase(), LOG_LEVELS)),
    trustProxy: read<boolean | string[]>('TRUST_PROXY', false, trustProxy),
    redisUrl: read<string | undefined>('REDIS_URL', undefined, redisUrl),
    migrateOnStart: read('MIGRATE_ON_START', true, boolean),
    bodyLimitBytes: read('BODY_LIMIT_BYTES', 1024 * 1024, (raw) => integer(raw, 1024, 1024 ** 3)),
    tokenLifetimeSeconds: read('TOKEN_LIFETIME_SECONDS', 30 * 24 * 3600, (raw) => integer(raw, 60, 10 * 365 * 24 * 3600)),
    throttle: {
      loginPerUsername: read('THROTTLE_LOGIN_USERNAME', { max: 5, windowSeconds: 300 }, rate),
      loginPerUsernameTotal: read('THROTTLE_LOGIN_USERNAME_TOTAL', { max: 100, windowSeconds: 3600 }, rate),
      loginPerAddress: read('THROTTLE_LOGIN_ADDRESS', { max: 10, windowSeconds: 60 }, rate),
      registerPerAddress: read('THROTTLE_REGISTER_ADDRESS', { max: 20, windowSeconds: 60 }, rate),
      passwordResetPerAddress: read('THROTTLE_PASSWORD_RESET_ADDRESS', { max: 20, windowSeconds: 60 }, rate),
      passwordResetPerEmail: read('THROTTLE_PASSWORD_RESET_EMAIL', { max: 5, windowSeconds: 60 }, rate),
    },
    tombstoneRetentionSeconds: read('TOMBSTONE_RETENTION_SECONDS', 30 * 24 * 3600, (raw) => integer(raw, 60, 10 * 365 * 24 * 3600)),
    docs: read('API_DOCS', true, boolean),
    replyMemoryBytes: read('REPLY_MEMORY_BYTES', 32 * 1024 * 1024, (raw) => integer(raw, 1024 * 1024, 1024 ** 3)),
    requestTimeoutSeconds: read('REQUEST_TIMEOUT_SECONDS', 30, seconds),
    headersTimeoutSeconds: read('HEADERS_TIMEOUT_SECONDS', 10, seconds),
    keepAliveTimeoutSeconds: read('KEEP_ALIVE_TIMEOUT_SECONDS', 72, seconds),
    connectionTimeoutSeconds: read('CONNECTION_TIMEOUT_SECONDS', 60, seconds),
    maxConnections: read('MAX_CONNECTIONS', 4096, (raw) => integer(raw, 1, 1_000_000)),
    shutdownTimeoutSeconds: read('SHUTDOWN_TIMEOUT_SECONDS', 10, seconds),
    readyTimeoutSeconds: read('READY_TIMEOUT_SECONDS', 2, (raw) => integer(raw, 1, 60)),
    databaseConnectTimeoutSeconds: read('DATABASE_CONNECT_TIMEOUT_SECONDS', 5, (raw) => integer(raw, 1, 300)),
    databaseQueryTimeoutSeconds: read('DATABASE_QUERY_TIMEOUT_SECONDS', 15, (raw) => integer(raw, 0, 3600)),
    metricsToken: read<string | undefined>('METRICS_TOKEN', undefined, secretToken),
    production: env.NODE_ENV?.trim() === 'production',
    webConcurrency: read('WEB_CONCURRENCY', 1, (raw) => integer(raw, 1, 64)),
    mail: mailSettings(read, problems),
    passwordReset: {
      url: read('PASSWORD_RESET_URL', 'http://localhost:3000/password-reset/{uid}/{token}/', resetUrl),
      timeoutSeconds: read('PASSWORD_RESET_TIMEOUT_SECONDS', 3600, (raw) => integer(raw, 60, 7 * 24 * 3600)),
      maxOutstanding: read('PASSWORD_RESET_MAX_OUTSTANDING', 3, (raw) => integer(raw, 1, 100)),
      subject: read('PASSWORD_RESET_SUBJECT', 'Password reset on Task Tracker', headerText),
    },
    jwt: {
      signingKey: read<string | undefined>('JWT_SIGNING_KEY', undefined, secretToken),
      accessLifetimeSeconds: read('JWT_ACCESS_LIFETIME_SECONDS', 300, (raw) => integer(raw, 1, 24 * 3600)),
      refreshLifetimeSeconds: read('JWT_REFRESH_LIFETIME_SECONDS', 24 * 3600, (raw) => integer(raw, 60, 365 * 24 * 3600)),
      cookies: {
        enabled: read('JWT_AUTH_COOKIE_USE', true, boolean),
        accessName: read('JWT_AUTH_COOKIE', 'my-app-auth', cookieName),
        refreshName: read('JWT_AUTH_REFRESH_COOKIE', 'my-refresh-token', cookieName),
        secure: read('JWT_AUTH_SECURE', true, boolean),
        sameSite: read<SameSite>('JWT_AUTH_SAMESITE', 'None', sameSite),
        httpOnly: read('JWT_AUTH_HTTPONLY', true, boolean),
        domain: read<string | undefined>('JWT_AUTH_COOKIE_DOMAIN', undefined, cookieDomain),
        path: read('JWT_AUTH_COOKIE_PATH', '/', cookiePath),
      },
    },
  };
  // Node refuses a header deadline later than the whole request's.
  if (config.headersTimeoutSeconds > config.requestTimeoutSeconds) {
    problems.push('HEADERS_TIMEOUT_SECONDS must not be more than REQUEST_TIMEOUT_SECONDS');
  }
  const { jwt } = config;
  if (jwt.accessLifetimeSeconds > jwt.refreshLifetimeSeconds) {
    problems.push('JWT_ACCESS_LIFETIME_SECONDS must not be more than JWT_REFRESH_LIFETIME_SECONDS');
  }
  // Browsers refuse a SameSite=None cookie that is not Secure.
  if (jwt.cookies.enabled && jwt.cookies.sameSite === 'None' && !jwt.cookies.secure) {
    problems.push('JWT_AUTH_SAMESITE=None needs JWT_AUTH_SECURE=true (browsers refuse such cookies otherwise); choose Lax or Strict for plain HTTP');
  }
  if (jwt.cookies.enabled && jwt.cookies.accessName === jwt.cookies.refreshName) {
    problems.push('JWT_AUTH_COOKIE and JWT_AUTH_REFRESH_COOKIE must differ');
  }

  if (problems.length > 0) {
    throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  return config;
}

/**
 * Settings that work but look wrong for production, for the server to warn about at start
 * (only when NODE_ENV=production: in development they are the convenient defaults).
 */
export function productionWarnings(config: Config): string[] {
  if (!config.production) return [];
  const warnings: string[] = [];
  if (config.allowedHosts.includes('*')) warnings.push('ALLOWED_HOSTS allows any host: links in replies follow whatever Host a request sends; list your domains.');
  const local = config.corsAllowedOrigins.filter((allowed) => /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:|$)/.test(allowed));
  if (local.length > 0) warnings.push(`CORS_ALLOWED_ORIGINS allows local development origins (${local.join(', ')}); set it to your client's origin.`);
  if (config.databaseUrl.startsWith('sqlite:') && config.host !== '127.0.0.1') {
    warnings.push('DATABASE_URL is SQLite: data lives in one file on this machine; back it up (task-tracker backup) or use PostgreSQL.');
  }
  if (config.jwt.cookies.enabled && !config.jwt.cookies.secure) warnings.push('JWT_AUTH_SECURE=false: browsers send the session cookies over plain HTTP too.');
  if (config.logLevel === 'debug' || config.logLevel === 'trace') warnings.push(`LOG_LEVEL=${config.logLevel} writes a line per request detail; use info or warn.`);
  if (config.mail.smtp === undefined) warnings.push('Neither EMAIL_URL nor EMAIL_HOST is set: password reset mails are written to the log instead of being sent.');
  if (/^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:|\/)/.test(config.passwordReset.url)) {
    warnings.push(`PASSWORD_RESET_URL links to a local development page (${config.passwordReset.url}); set it to your client's page.`);
  }
  return warnings;
}

function corsOrigins(env: Env, read: Read): string[] {
  const origins = read('CORS_ALLOWED_ORIGINS', [...DEFAULT_ORIGINS], (raw) => list(raw).map(origin));
  // The original deployment configures its client through these two names.
  for (const name of ['CLIENT_ORIGIN', 'CLIENT_ORIGIN_DEV']) {
    const extra = read<string | undefined>(name, undefined, origin);
    if (extra !== undefined && !origins.includes(extra)) origins.push(extra);
  }
  return origins;
}

type Read = <T>(name: string, fallback: T, parse: (raw: string) => T) => T;

/**
 * The SMTP server from EMAIL_URL, or from EMAIL_HOST and its companions (one way or the other,
 * not both), and the sender. Neither set: no server, and messages go to the log.
 */
function mailSettings(read: Read, problems: string[]): MailConfig {
  const from = read('DEFAULT_FROM_EMAIL', 'webmaster@localhost', sender);
  const timeoutSeconds = read('EMAIL_TIMEOUT', 10, (raw) => integer(raw, 1, 300));
  const url = read<Omit<SmtpConfig, 'timeoutSeconds'> | undefined>('EMAIL_URL', undefined, emailUrl);
  const host = read<string | undefined>('EMAIL_HOST', undefined, smtpHost);
  if (url !== undefined && host !== undefined) problems.push('EMAIL_URL and EMAIL_HOST: set one or the other, not both');
  if (url !== undefined) return { smtp: { ...url, timeoutSeconds }, from };
  if (host === undefined) return { smtp: undefined, from };
  const implicitTls = read('EMAIL_USE_SSL', false, boolean);
  const startTls = read('EMAIL_USE_TLS', false, boolean);
  if (implicitTls && startTls) problems.push('EMAIL_USE_TLS and EMAIL_USE_SSL: set one or the other, not both');
  const smtp: SmtpConfig = {
    host,
    port: read('EMAIL_PORT', implicitTls ? 465 : 25, (raw) => integer(raw, 1, 65535)),
    implicitTls,
    startTls,
    user: read<string | undefined>('EMAIL_HOST_USER', undefined, (raw) => raw),
    password: read<string | undefined>('EMAIL_HOST_PASSWORD', undefined, (raw) => raw),
    timeoutSeconds,
  };
  return { smtp, from };
}

/**
 * `smtp://[user:password@]host[:port]` as dj-email-url reads it, which Django deployments
 * already use: `smtps://` and `submission://` (port 587 by default) require STARTTLS, as do
 * `?tls=true`; `?ssl=true` is TLS from the first byte (port 465 by default). The user and
 * password are percent-decoded.
 */
function emailUrl(raw: string): Omit<SmtpConfig, 'timeoutSeconds'> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error('expected smtp://user:password@host:port (or smtps://, submission://)');
  }
  const scheme = url.protocol.slice(0, -1);
  if (!['smtp', 'smtps', 'submission'].includes(scheme)) throw new Error('expected an smtp://, smtps:// or submission:// URL');
  const flag = (name: string) => {
    const value = url.searchParams.get(name);
    return value !== null && boolean(value);
  };
  const implicitTls = flag('ssl');
  const startTls = !implicitTls && (scheme !== 'smtp' || flag('tls'));
  const defaultPort = implicitTls ? 465 : scheme === 'smtp' ? 25 : 587;
  const decode = (part: string) => (part === '' ? undefined : decodeURIComponent(part));
  return {
    host: smtpHost(url.hostname),
    port: url.port === '' ? defaultPort : integer(url.port, 1, 65535),
    implicitTls,
    startTls,
    user: decode(url.username),
    password: decode(url.password),
  };
}

function smtpHost(raw: string): string {
  const host = raw.startsWith('[') && raw.endsWith(']') ? raw.slice(1, -1) : raw;
  if (isIP(host) === 0 && hostName(host) !== host.toLowerCase()) throw new Error(`"${raw}" is not a host name or IP address`);
  return host;
}

/** DEFAULT_FROM_EMAIL: `address` or `Name <address>`, on one line. */
function sender(raw: string): string {
  const text = headerText(raw);
  const address = /<([^<>]*)>$/.exec(text)?.[1] ?? text;
  if (!/^[^\s@<>]+@[^\s@<>]+$/.test(address)) throw new Error('expected an address such as tasks@example.com, or Name <tasks@example.com>');
  return text;
}

/** Text for a mail header: one line, so that it cannot add headers of its own. */
function headerText(raw: string): string {
  if (/[\r\n\0]/.test(raw)) throw new Error('expected one line of text');
  return raw;
}

/** An http(s) URL with `{uid}` and `{token}` in it, which each reset mail fills in. */
function resetUrl(raw: string): string {
  if (!raw.includes('{uid}') || !raw.includes('{token}')) throw new Error('expected a URL containing {uid} and {token}');
  let url: URL;
  try {
    url = new URL(raw.replaceAll('{uid}', 'MQ').replaceAll('{token}', 'token'));
  } catch {
    throw new Error('expected a URL such as https://app.example.com/password-reset/{uid}/{token}/');
  }
  if (!['http:', 'https:'].includes(url.protocol)) throw new Error('expected an http:// or https:// URL');
  return raw;
}

function integer(raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw)) throw new Error('expected a whole number');
  const value = Number(raw);
  if (value < min || value > max) throw new Error(`expected a number from ${min} to ${max}`);
  return value;
}

function seconds(raw: string): number {
  return integer(raw, 1, 3600);
}

function boolean(raw: string): boolean {
  const value = raw.toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(value)) return true;
  if (['0', 'false', 'no', 'off'].includes(value)) return false;
  throw new Error('expected true or false');
}

function oneOf(raw: string, allowed: string[]): string {
  if (!allowed.includes(raw)) throw new Error(`expected one of ${allowed.join(', ')}`);
  return raw;
}

function list(raw: string): string[] {
  return raw.split(',').map((item) => item.trim()).filter((item) => item !== '');
}

/** Host names (no port), `.domain` for a domain and its subdomains, or `*`, as Django's ALLOWED_HOSTS. */
function allowedHosts(raw: string): string[] {
  const hosts = list(raw);
  for (const host of hosts) {
    const name = host.startsWith('.') ? host.slice(1) : host;
    if (host !== '*' && hostName(name) !== name.toLowerCase()) throw new Error(`"${host}" is not a host name, a .domain or *`);
  }
  return hosts;
}

function origin(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`"${raw}" is not an origin such as https://app.example.com`);
  }
  if (!['http:', 'https:'].includes(url.protocol)) throw new Error(`"${raw}" must start with http:// or https://`);
  return url.origin;
}

/** `N/SECONDS`, for example `5/300` for five attempts in five minutes. */
function rate(raw: string): RateLimit {
  const match = /^(\d+)\s*\/\s*(\d+)$/.exec(raw);
  if (!match) throw new Error('expected MAX/SECONDS, for example 5/300');
  return { max: integer(match[1]!, 1, 1_000_000), windowSeconds: integer(match[2]!, 1, 86_400) };
}

function trustProxy(raw: string): boolean | string[] {
  const lower = raw.toLowerCase();
  if (['true', 'yes', 'on'].includes(lower)) return true;
  if (['false', 'no', 'off'].includes(lower)) return false;
  const ranges = list(raw);
  for (const range of ranges) {
    const [address = '', prefix, ...rest] = range.split('/');
    const version = isIP(address);
    const maxPrefix = version === 6 ? 128 : 32;
    const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= maxPrefix);
    if (version === 0 || !prefixOk || rest.length > 0) throw new Error(`"${range}" is not an IP address or CIDR range`);
  }
  return ranges;
}

/** A secret long enough not to be guessed: at least 32 characters. */
function secretToken(raw: string): string {
  if (raw.length < 32) throw new Error('expected at least 32 characters (openssl rand -hex 32 makes one)');
  return raw;
}

// RFC 6265's cookie-name: an HTTP token.
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/;

function cookieName(raw: string): string {
  if (!COOKIE_NAME.test(raw)) throw new Error('expected a cookie name: letters, digits and !#$%&\'*+-.^_`|~');
  // csrftoken is the CSRF cookie's, set beside these.
  if (raw === 'csrftoken') throw new Error('csrftoken is the name of the CSRF cookie');
  return raw;
}

function sameSite(raw: string): SameSite {
  const value = ['None', 'Lax', 'Strict'].find((candidate) => candidate.toLowerCase() === raw.toLowerCase());
  if (value === undefined) throw new Error('expected None, Lax or Strict');
  return value as SameSite;
}

/** A host name such as `example.com`, or `.example.com` as Django writes it (the same to browsers). */
function cookieDomain(raw: string): string {
  const name = raw.startsWith('.') ? raw.slice(1) : raw;
  if (name.startsWith('[') || hostName(name) !== name.toLowerCase() || !name.includes('.')) {
    throw new Error(`"${raw}" is not a domain name such as example.com`);
  }
  return name.toLowerCase();
}

/** An absolute path ending with a slash, of characters a cookie's Path may hold. */
function cookiePath(raw: string): string {
  if (!/^\/(?:[A-Za-z0-9._~!$&'()*+,=:@%-]+\/)*$/.test(raw)) throw new Error('expected a path that starts and ends with /, such as /api/');
  return raw;
}

function redisUrl(raw: string): string {
  if (!/^rediss?:\/\//.test(raw)) throw new Error('expected a redis:// or rediss:// URL');
  return raw;
}

/** Accepts postgres URLs and the SQLite forms `sqlite:<path>`, `sqlite:///<path>` and `sqlite::memory:`. */
function databaseUrl(raw: string): string {
  if (/^postgres(ql)?:\/\//.test(raw)) return raw;
  if (raw.startsWith('sqlite:')) {
    sqlitePath(raw);
    return raw;
  }
  throw new Error('expected postgres://..., postgresql://... or sqlite:<path>');
}

/** The file path of a SQLite URL, or `:memory:`. */
export function sqlitePath(url: string): string {
  const rest = url.slice('sqlite:'.length);
  if (rest === ':memory:' || rest === '///:memory:') return ':memory:';
  // dj-database-url: `sqlite:///db.sqlite3` is relative, `sqlite:////var/db.sqlite3` absolute.
  const path = rest.startsWith('///') ? rest.slice(3) : rest;
  if (path === '' || path.startsWith('//')) throw new Error('the SQLite URL names no file');
  return resolve(path);
}
