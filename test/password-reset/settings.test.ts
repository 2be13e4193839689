import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';
import { duration, resetMessage } from '../../src/password-reset/mailing.js';
import { decodeUid, encodeUid, resetTokenDigest } from '../../src/password-reset/tokens.js';

function configError(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error.message;
  }
  assert.fail(`loadConfig(${JSON.stringify(env)}) accepted the settings`);
}

const smtpOf = (env: Record<string, string>) => loadConfig(env).mail.smtp;

describe('mail settings', () => {
  test('when EMAIL_URL is set, then it is read as dj-email-url reads it', () => {
    const cases: [string, object][] = [
      ['smtp://mail.example.com', { host: 'mail.example.com', port: 25, implicitTls: false, startTls: false, user: undefined, password: undefined }],
      ['smtp://u:p@mail.example.com:2525', { host: 'mail.example.com', port: 2525, implicitTls: false, startTls: false, user: 'u', password: 'p' }],
      ['smtp://mail.example.com?tls=true', { host: 'mail.example.com', port: 25, implicitTls: false, startTls: true, user: undefined, password: undefined }],
      ['smtps://u:p@mail.example.com', { host: 'mail.example.com', port: 587, implicitTls: false, startTls: true, user: 'u', password: 'p' }],
      ['submission://u:p@Mail.Example.com', { host: 'Mail.Example.com', port: 587, implicitTls: false, startTls: true, user: 'u', password: 'p' }],
      ['smtp://u:p@mail.example.com?ssl=True', { host: 'mail.example.com', port: 465, implicitTls: true, startTls: false, user: 'u', password: 'p' }],
      ['smtps://mail.example.com:465?ssl=1', { host: 'mail.example.com', port: 465, implicitTls: true, startTls: false, user: undefined, password: undefined }],
      ['smtp://user%40example.com:p%3Aa%2Fs%40s%25@[::1]:25', { host: '::1', port: 25, implicitTls: false, startTls: false, user: 'user@example.com', password: 'p:a/s@s%' }],
    ];
    for (const [url, expected] of cases) assert.deepEqual(smtpOf({ EMAIL_URL: url }), { ...expected, timeoutSeconds: 10 }, url);
  });

  test('when EMAIL_HOST is set, then the server is read from Django\'s names, with their defaults', () => {
    assert.deepEqual(smtpOf({ EMAIL_HOST: 'mail.example.com' }), {
      host: 'mail.example.com',
      port: 25,
      implicitTls: false,
      startTls: false,
      user: undefined,
      password: undefined,
      timeoutSeconds: 10,
    });
    assert.deepEqual(smtpOf({ EMAIL_HOST: '10.0.0.5', EMAIL_USE_SSL: 'yes', EMAIL_HOST_USER: 'u', EMAIL_HOST_PASSWORD: 'p', EMAIL_TIMEOUT: '3' }), {
      host: '10.0.0.5',
      port: 465,
      implicitTls: true,
      startTls: false,
      user: 'u',
      password: 'p',
      timeoutSeconds: 3,
    });
    // Without a host, its companions mean nothing: mail goes to the log.
    assert.equal(smtpOf({ EMAIL_PORT: '587', EMAIL_HOST_USER: 'u' }), undefined);
  });

  test('when mail settings are wrong, then the server refuses to start, naming them and never repeating a password', () => {
    const refusals: [Record<string, string>, RegExp][] = [
      [{ EMAIL_URL: 'http://u:hunter2@mail.example.com' }, /EMAIL_URL=\(not shown\): expected an smtp:\/\/, smtps:\/\/ or submission:\/\/ URL/],
      [{ EMAIL_URL: 'smtp://u:hunter2@' }, /EMAIL_URL=\(not shown\): expected smtp:\/\/user:password@host:port/],
      [{ EMAIL_URL: 'smtp://u:hunter2@bad_host' }, /EMAIL_URL=\(not shown\): "bad_host" is not a host name or IP address/],
      [{ EMAIL_URL: 'smtp://u:hunter2@mail.example.com:0' }, /EMAIL_URL=\(not shown\): expected a number from 1 to 65535/],
      [{ EMAIL_URL: 'smtp://u:hunter2@mail.example.com?ssl=maybe' }, /EMAIL_URL=\(not shown\): expected true or false/],
      [{ EMAIL_URL: 'smtp://u:hunter2@mail.example.com', EMAIL_HOST: 'mail.example.com' }, /EMAIL_URL and EMAIL_HOST: set one or the other, not both/],
      [{ EMAIL_HOST: 'mail.example.com', EMAIL_USE_TLS: 'true', EMAIL_USE_SSL: 'true' }, /EMAIL_USE_TLS and EMAIL_USE_SSL: set one or the other, not both/],
      [{ EMAIL_HOST: 'mail.example.com', EMAIL_PORT: '70000' }, /EMAIL_PORT="70000": expected a number from 1 to 65535/],
      [{ EMAIL_HOST: 'mail example' }, /EMAIL_HOST="mail example": "mail example" is not a host name/],
      [{ EMAIL_TIMEOUT: '0' }, /EMAIL_TIMEOUT="0": expected a number from 1 to 300/],
      [{ DEFAULT_FROM_EMAIL: 'nobody' }, /DEFAULT_FROM_EMAIL="nobody": expected an address/],
      [{ DEFAULT_FROM_EMAIL: 'Tasks <tasks@example.com>\nBcc: x@example.com' }, /DEFAULT_FROM_EMAIL=.*: expected one line of text/],
    ];
    for (const [env, message] of refusals) {
      const text = configError(env);
      assert.match(text, message);
      assert.doesNotMatch(text, /hunter2/);
    }
    assert.match(configError({ EMAIL_HOST: 'mail.example.com', EMAIL_HOST_PASSWORD: 'hunter2', EMAIL_PORT: 'x' }), /EMAIL_PORT/);
  });

  test('when DEFAULT_FROM_EMAIL names the sender, then an address or a name with one is taken', () => {
    assert.equal(loadConfig({ DEFAULT_FROM_EMAIL: 'tasks@example.com' }).mail.from, 'tasks@example.com');
    assert.equal(loadConfig({ DEFAULT_FROM_EMAIL: 'Task Tracker <tasks@example.com>' }).mail.from, 'Task Tracker <tasks@example.com>');
  });
});

describe('password reset settings', () => {
  test('when the reset settings are wrong, then the server refuses to start, naming them', () => {
    const refusals: [Record<string, string>, RegExp][] = [
      [{ PASSWORD_RESET_URL: 'https://app.example.com/reset/{uid}/' }, /PASSWORD_RESET_URL=.*: expected a URL containing \{uid\} and \{token\}/],
      [{ PASSWORD_RESET_URL: 'javascript:alert({uid},{token})' }, /PASSWORD_RESET_URL=.*: expected an http:\/\/ or https:\/\/ URL/],
      [{ PASSWORD_RESET_URL: '/reset/{uid}/{token}/' }, /PASSWORD_RESET_URL=.*: expected a URL such as/],
      [{ PASSWORD_RESET_TIMEOUT_SECONDS: '59' }, /PASSWORD_RESET_TIMEOUT_SECONDS="59": expected a number from 60 to 604800/],
      [{ PASSWORD_RESET_MAX_OUTSTANDING: '0' }, /PASSWORD_RESET_MAX_OUTSTANDING="0": expected a number from 1 to 100/],
      [{ PASSWORD_RESET_SUBJECT: 'Reset\r\nBcc: x@example.com' }, /PASSWORD_RESET_SUBJECT=.*: expected one line of text/],
      [{ THROTTLE_PASSWORD_RESET_EMAIL: '5' }, /THROTTLE_PASSWORD_RESET_EMAIL="5": expected MAX\/SECONDS/],
      [{ THROTTLE_PASSWORD_RESET_ADDRESS: '0/60' }, /THROTTLE_PASSWORD_RESET_ADDRESS="0\/60": expected a number from 1/],
    ];
    for (const [env, message] of refusals) assert.match(configError(env), message);
  });

  test('when a reset mail is written, then it names the account, links to the page with its uid and token, and says how long the link works', () => {
    const settings = { ...loadConfig({}).passwordReset, url: 'https://app.example.com/reset?uid={uid}&token={token}&again={uid}', timeoutSeconds: 7200 };
    const message = resetMessage(settings, { userId: 42, token: 'T'.repeat(43), username: 'ada', email: 'ada@example.com' });
    assert.equal(message.to, 'ada@example.com');
    assert.equal(message.subject, 'Password reset on Task Tracker');
    assert.match(message.text, /^Hello ada,\n/);
    assert.match(message.text, /account "ada"/);
    assert.match(message.text, /within 2 hours/);
    assert.ok(message.text.includes(`\nhttps://app.example.com/reset?uid=NDI&token=${'T'.repeat(43)}&again=NDI\n`), message.text);
  });

  test('when a lifetime is written out, then the largest whole unit is used', () => {
    assert.deepEqual([3600, 7200, 5400, 60, 61, 90].map(duration), ['1 hour', '2 hours', '90 minutes', '1 minute', '61 seconds', '90 seconds']);
  });
});

describe('reset link values', () => {
  test('when a user id is encoded, then it is Django\'s urlsafe_base64_encode of its digits, and decodes back', () => {
    assert.equal(encodeUid(1), 'MQ');
    assert.equal(encodeUid(42), 'NDI');
    assert.equal(encodeUid(123), 'MTIz');
    for (const id of [1, 9, 10, 999, 2 ** 31, Number.MAX_SAFE_INTEGER]) assert.equal(decodeUid(encodeUid(id)), id);
  });

  test('when a uid is anything encodeUid cannot have written, then it decodes to nothing', () => {
    const encoded = (text: string) => Buffer.from(text).toString('base64url');
    for (const uid of ['', 'M', 'MQ==', 'MR', 'M Q', encoded('0'), encoded('-1'), encoded('01'), encoded('1.0'), encoded('9007199254740992'), encoded('1'.repeat(17)), 'A'.repeat(23)]) {
      assert.equal(decodeUid(uid), undefined, uid);
    }
  });

  test('when a token is not 43 base64url characters, then it has no digest to look up', () => {
    assert.match(resetTokenDigest('a'.repeat(43))!, /^[0-9a-f]{64}$/);
    for (const token of ['a'.repeat(42), 'a'.repeat(44), `${'a'.repeat(42)}=`, `${'a'.repeat(42)}+`, `${'a'.repeat(42)}\0`]) assert.equal(resetTokenDigest(token), undefined);
  });
});
