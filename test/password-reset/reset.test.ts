import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createAccountsRepository } from '../../src/accounts/repository.js';
import { encodeUid } from '../../src/password-reset/tokens.js';
import { PASSWORD, createUser, dialectName } from '../helpers.js';
import { storedSessions, storedUser, timestampIn } from '../accounts/support.js';
import { limits } from '../accounts/throttle-support.js';
import {
  CONFIRM_URL,
  MAIL_SENT,
  NEW_PASSWORD,
  PASSWORD_RESET,
  REQUEST_URL,
  confirm,
  requestLink,
  startMailServer,
  startResetApp,
  storedLinks,
  tryLogin,
  userWithEmail,
  type ResetApp,
} from './support.js';

const INVALID_UID = { uid: ['Invalid value'] };
const INVALID_TOKEN = { token: ['Invalid value'] };

/** The reply's status, body and headers but `date`, which moves with the clock. */
async function comparable(reply: Response) {
  const headers = [...reply.headers].filter(([name]) => name !== 'date');
  return { status: reply.status, body: await reply.text(), headers };
}

async function expectRefusal(reply: Response, status: number, body: unknown) {
  assert.equal(reply.status, status);
  assert.deepEqual(await reply.json(), body);
}

/** Everything a refused confirmation must leave as it was: the password, sessions and links. */
async function accountState(resetApp: ResetApp, userId: number) {
  return {
    user: await storedUser(resetApp.database, userId),
    sessions: await storedSessions(resetApp.database, userId),
    links: await storedLinks(resetApp.database, userId),
  };
}

describe(`[${dialectName}] password reset: the mailed link sets a new password`, () => {
  test('when a user asks for a reset and confirms with the mailed link, then the new password works, the old one and every session end', async (t) => {
    const mail = await startMailServer(t);
    const resetApp = await startResetApp(t, mail, { env: { DEFAULT_FROM_EMAIL: 'Task Tracker <tasks@example.com>' } });
    const user = await userWithEmail(resetApp, 'ada@example.com');
    assert.equal(await tryLogin(resetApp, user.username, PASSWORD), 200);
    assert.equal((await storedSessions(resetApp.database, user.id)).length, 2);

    const link = await requestLink(resetApp, mail, 'ada@example.com');
    assert.deepEqual(link.mail.to, ['ada@example.com']);
    assert.equal(link.mail.from, 'tasks@example.com');
    assert.equal(link.mail.parsed.subject, 'Password reset on Task Tracker');
    assert.deepEqual(link.mail.parsed.from?.value, [{ name: 'Task Tracker', address: 'tasks@example.com' }]);
    const text = link.mail.parsed.text!;
    assert.match(text, new RegExp(`^Hello ${user.username},`));
    assert.match(text, /within 1 hour/);
    assert.equal(link.uid, encodeUid(user.id));
    assert.match(link.token, /^[A-Za-z0-9_-]{43}$/);
    const [stored] = await storedLinks(resetApp.database, user.id);
    assert.ok(stored && !JSON.stringify(stored).includes(link.token), 'only a digest of the token is stored');

    const reply = await confirm(resetApp, link);
    assert.equal(reply.status, 200);
    assert.deepEqual(await reply.json(), PASSWORD_RESET);
    assert.equal(await tryLogin(resetApp, user.username, PASSWORD), 400);
    assert.deepEqual(await storedSessions(resetApp.database, user.id), []);
    assert.equal((await fetch(`${resetApp.base}/api/user/`, { headers: user.auth })).status, 401);
    assert.equal(await tryLogin(resetApp, user.username, NEW_PASSWORD), 200);
    assert.deepEqual(await storedLinks(resetApp.database, user.id), []);
  });

  test('when a link is used a second time, then it is refused and the password stays the one it set', async (t) => {
    const mail = await startMailServer(t);
    const resetApp = await startResetApp(t, mail);
    const user = await userWithEmail(resetApp, 'reuse@example.com');
    const link = await requestLink(resetApp, mail, 'reuse@example.com');
    assert.equal((await confirm(resetApp, link)).status, 200);
    const after = await accountState(resetApp, user.id);

    await expectRefusal(await confirm(resetApp, link, 'yet another passphrase 9'), 400, INVALID_TOKEN);
    assert.deepEqual(await accountState(resetApp, user.id), after);
    assert.equal(await tryLogin(resetApp, user.username, NEW_PASSWORD), 200);
  });

  test('when two confirmations of one link arrive at once, then exactly one sets its password', async (t) => {
    const mail = await startMailServer(t);
    const resetApp = await startResetApp(t, mail);
    const user = await userWithEmail(resetApp, 'race@example.com');
    const link = await requestLink(resetApp, mail, 'race@example.com');

    const passwords = ['first racing passphrase', 'second racing passphrase'];
    const replies = await Promise.all(passwords.map((password) => confirm(resetApp, link, password)));
    const statuses = replies.map((reply) => reply.status).sort();
    assert.deepEqual(statuses, [200, 400]);
    const winner = passwords[replies.findIndex((reply) => reply.status === 200)]!;
    const loser = replies.find((reply) => reply.status === 400)!;
    assert.deepEqual(await loser.json(), INVALID_TOKEN);
    assert.equal(await tryLogin(resetApp, user.username, winner), 200);
    assert.equal(await tryLogin(resetApp, user.username, passwords.find((password) => password !== winner)!), 400);
  });

  test('when a link has expired, then it is refused and nothing changes', async (t) => {
    const mail = await startMailServer(t);
    const resetApp = await startResetApp(t, mail, { env: { PASSWORD_RESET_TIMEOUT_SECONDS: '5400' } });
    const user = await userWithEmail(resetApp, 'late@example.com');
    const link = await requestLink(resetApp, mail, 'late@example.com');
    assert.match(link.mail.parsed.text!, /within 90 minutes/);
    const [stored] = await storedLinks(resetApp.database, user.id);
    assert.ok(Math.abs(Date.parse(stored!.expires_at) - Date.now() - 5400_000) < 60_000, 'the link expires after the setting');

    await resetApp.database.db.updateTable('password_reset_tokens').set({ expires_at: timestampIn(-1) }).where('user_id', '=', user.id).execute();
    const before = await accountState(resetApp, user.id);
    await expectRefusal(await confirm(resetApp, link), 400, INVALID_TOKEN);
    assert.deepEqual(await accountState(resetApp, user.id), before);
    assert.equal(await tryLogin(resetApp, user.username, PASSWORD), 200);
  });

  test('when the password was changed after the link was mailed, then the link no longer works', async (t) => {
    const mail = await startMailServer(t);
    const resetApp = await startResetApp(t, mail);
    const user = await userWithEmail(resetApp, 'changed@example.com');
    const link = await requestLink(resetApp, mail, 'changed@example.com');
    const changed = await resetApp.post('/api/user/password/', { current_password: PASSWORD, new_password: 'changed on purpose 11' }, user.auth);
    assert.equal(changed.status, 204);

    const before = await accountState(resetApp, user.id);
    await expectRefusal(await confirm(resetApp, link), 400, INVALID_TOKEN);
    assert.deepEqual(await accountState(resetApp, user.id), before);
    assert.equal(await tryLogin(resetApp, user.username, 'changed on purpose 11'), 200);
  });

  test('when the email address was changed after the link was mailed, then the link no longer works', async (t) => {
    const mail = await startMailServer(t);
    const resetApp = await startResetApp(t, mail);
    const user = await userWithEmail(resetApp, 'old-address@example.com');
    const link = await requestLink(resetApp, mail, 'old-address@example.com');
    const moved = await fetch(`${resetApp.base}/api/user/`, {
      method: 'PATCH',
      headers: { ...user.auth, 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'new-address@example.com' }),
    });
    assert.equal(moved.status, 200);

    await expectRefusal(await confirm(resetApp, link), 400, INVALID_TOKEN);
    assert.equal(await tryLogin(resetApp, user.username, PASSWORD), 200);
  });

  test('when the account was deactivated after the link was mailed, then the link no longer works', async (t) => {
    const mail = await startMailServer(t);
    const resetApp = await startResetApp(t, mail);
    const user = await userWithEmail(resetApp, 'blocked-later@example.com');
    const link = await requestLink(resetApp, mail, 'blocked-later@example.com');
    await createAccountsRepository(resetApp.database).setActive(user.username, false);

    const before = await accountState(resetApp, user.id);
    await expectRefusal(await confirm(resetApp, link), 400, INVALID_TOKEN);
    assert.deepEqual(await accountState(resetApp, user.id), before);
  });

  test('when the account was deleted after the link was mailed, then its uid is refused', async (t) => {
    const mail = await startMailServer(t);
    const resetApp = await startResetApp(t, mail);
    const user = await userWithEmail(resetApp, 'gone@example.com');
    const link = await requestLink(resetApp, mail, 'gone@example.com');
    const deleted = await fetch(`${resetApp.base}/api/user/`, {
      method: 'DELETE',
      headers: { ...user.auth, 'content-type': 'application/json' },
      body: JSON.stringify({ current_password: PASSWORD }),
    });
    assert.equal(deleted.status, 204);
    await expectRefusal(await confirm(resetApp, link), 400, INVALID_UID);
  });
});

describe(`[${dialectName}] password reset: confirmations that are refused change nothing`, () => {
  test('when the two new passwords differ or break the password policy, then Django\'s messages come back and the link still works', async (t) => {
    const mail = await startMailServer(t);
    const resetApp = await startResetApp(t, mail);
    const user = await userWithEmail(resetApp, 'policy@example.com');
    const link = await requestLink(resetApp, mail, 'policy@example.com');
    const before = await accountState(resetApp, user.id);

    await expectRefusal(await confirm(resetApp, link, NEW_PASSWORD, `${NEW_PASSWORD} `), 400, { new_password2: ['The two password fields didn’t match.'] });
    await expectRefusal(await confirm(resetApp, link, '12345'), 400, {
      new_password2: ['This password is too short. It must contain at least 8 characters.', 'This password is too common.', 'This password is entirely numeric.'],
    });
    await expectRefusal(await confirm(resetApp, link, user.username), 400, { new_password2: ['The password is too similar to the username.'] });
    await expectRefusal(await confirm(resetApp, link, 'policy@example.com'), 400, { new_password2: ['The password is too similar to the email address.'] });
    await expectRefusal(await confirm(resetApp, link, ' '.repeat(9)), 400, {
      new_password1: ['This field may not be blank.'],
      new_password2: ['This field may not be blank.'],
    });
    await expectRefusal(await confirm(resetApp, link, 'x'.repeat(4097)), 400, {
      new_password1: ['Ensure this field has no more than 4096 characters.'],
      new_password2: ['Ensure this field has no more than 4096 characters.'],
    });
    assert.deepEqual(await accountState(resetApp, user.id), before);

    assert.equal((await confirm(resetApp, link)).status, 200);
  });

  test('when fields are missing, then every one is named at once, in dj-rest-auth\'s order', async (t) => {
    const resetApp = await startResetApp(t, undefined);
    const required = ['This field is required.'];
    await expectRefusal(await resetApp.post(CONFIRM_URL, {}), 400, { new_password1: required, new_password2: required, uid: required, token: required });
    await expectRefusal(await resetApp.post(CONFIRM_URL, { uid: null, token: ['x'], new_password1: true, new_password2: 'x' }), 400, {
      new_password1: ['Not a valid string.'],
      uid: ['This field may not be null.'],
      token: ['Not a valid string.'],
    });
  });

  test('when the uid is malformed, names nobody or another account, then it is refused before the token and nothing changes', async (t) => {
    const mail = await startMailServer(t);
    const resetApp = await startResetApp(t, mail);
    const user = await userWithEmail(resetApp, 'uid@example.com');
    const other = await createUser(resetApp.app);
    const link = await requestLink(resetApp, mail, 'uid@example.com');
    const before = await accountState(resetApp, user.id);
    const otherBefore = await accountState(resetApp, other.id);
    const uidOf = (text: string) => Buffer.from(text).toString('base64url');

    const refusedUids = [
      '!!',
      `${link.uid}==`,
      'MR', // decodes to "1" too, but is not how a uid is written
      uidOf('0'),
      uidOf('-1'),
      uidOf('01'),
      uidOf(' 1'),
      uidOf(`${user.id}\0`),
      uidOf('9'.repeat(16)),
      uidOf('9'.repeat(20)),
      uidOf('18446744073709551617'),
      uidOf('2147483648'),
      uidOf('1e3'),
      'A'.repeat(100_000),
    ];
    for (const uid of refusedUids) {
      await expectRefusal(await confirm(resetApp, { uid, token: link.token }), 400, INVALID_UID);
    }
    await expectRefusal(await confirm(resetApp, { uid: `${link.uid}\0`, token: link.token }), 400, { uid: ['Null characters are not allowed.'] });
    await expectRefusal(await confirm(resetApp, { uid: '', token: link.token }), 400, { uid: ['This field may not be blank.'] });
    // Another account's uid with this link: the link is not that account's.
    await expectRefusal(await confirm(resetApp, { uid: encodeUid(other.id), token: link.token }), 400, INVALID_TOKEN);
    assert.deepEqual(await accountState(resetApp, user.id), before);
    assert.deepEqual(await accountState(resetApp, other.id), otherBefore);

    // The uid with surrounding white space is the uid, as DRF trims it.
    assert.equal((await confirm(resetApp, { uid: ` ${link.uid} `, token: link.token })).status, 200);
  });

  test('when the token is malformed or not one that was issued, then it is refused and nothing changes', async (t) => {
    const mail = await startMailServer(t);
    const resetApp = await startResetApp(t, mail);
    const user = await userWithEmail(resetApp, 'token@example.com');
    const link = await requestLink(resetApp, mail, 'token@example.com');
    const before = await accountState(resetApp, user.id);

    const last = link.token.at(-1) === 'A' ? 'B' : 'A';
    for (const token of [link.token.slice(0, -1), `${link.token}A`, `${link.token.slice(0, -1)}${last}`, link.token.toUpperCase(), '1-1f2e3d', 'x'.repeat(100_000)]) {
      await expectRefusal(await confirm(resetApp, { uid: link.uid, token }), 400, INVALID_TOKEN);
    }
    await expectRefusal(await confirm(resetApp, { uid: link.uid, token: `${link.token}\0` }), 400, { token: ['Null characters are not allowed.'] });
    assert.deepEqual(await accountState(resetApp, user.id), before);
  });
});

describe(`[${dialectName}] password reset requests`, () => {
  test('when an address no account has is asked for, then the reply is byte for byte that of a registered one, and no mail goes out for it', async (t) => {
    const mail = await startMailServer(t);
    const resetApp = await startResetApp(t, mail);
    await userWithEmail(resetApp, 'known@example.com');

    const unknown = await comparable(await resetApp.post(REQUEST_URL, { email: 'unknown@example.com' }));
    const known = await comparable(await resetApp.post(REQUEST_URL, { email: 'known@example.com' }));
    assert.deepEqual(unknown, known);
    assert.equal(known.status, 200);
    assert.deepEqual(JSON.parse(known.body), MAIL_SENT);

    await resetApp.app.close();
    assert.deepEqual(mail.received.map((received) => received.to), [['known@example.com']]);
    const rows = await resetApp.database.db.selectFrom('password_reset_tokens').select('user_id').execute();
    assert.equal(rows.length, 1);
  });

  test('when accounts share an address, in any letter case, then each active one gets its own link, and each link is its own account\'s', async (t) => {
    const mail = await startMailServer(t);
    const resetApp = await startResetApp(t, mail);
    const first = await userWithEmail(resetApp, 'team@example.com');
    const second = await userWithEmail(resetApp, 'Team@Example.COM');
    const blocked = await userWithEmail(resetApp, 'team@example.com');
    await createAccountsRepository(resetApp.database).setActive(blocked.username, false);
    await userWithEmail(resetApp, 'team@example.org');

    const reply = await resetApp.post(REQUEST_URL, { email: 'TEAM@example.com' });
    assert.equal(reply.status, 200);
    await resetApp.app.close();
    const mails = mail.received.map((received) => ({ to: received.to, text: received.parsed.text! }));
    // Each to the address as its account has it (Nodemailer writes the domain in lower case).
    assert.deepEqual(mails.map((sent) => sent.to).sort(), [['Team@example.com'], ['team@example.com']]);
    for (const user of [first, second]) {
      const sent = mails.find((candidate) => candidate.text.includes(`Hello ${user.username},`));
      assert.ok(sent?.text.includes(`/password-reset/${encodeUid(user.id)}/`), `${user.username} got a link of their own`);
    }
    assert.deepEqual(await storedLinks(resetApp.database, blocked.id), []);
  });

  test('when a deactivated account\'s address is asked for, then no mail goes out, and the reply is the usual one', async (t) => {
    const mail = await startMailServer(t);
    const resetApp = await startResetApp(t, mail);
    const user = await userWithEmail(resetApp, 'inactive@example.com');
    await createAccountsRepository(resetApp.database).setActive(user.username, false);

    await expectRefusal(await resetApp.post(REQUEST_URL, { email: 'inactive@example.com' }), 200, MAIL_SENT);
    await resetApp.app.close();
    assert.deepEqual(mail.received, []);
    assert.deepEqual(await storedLinks(resetApp.database, user.id), []);
  });

  test('when an account asks again and again, then it gets no more than the outstanding links allowed, until one is used', async (t) => {
    const mail = await startMailServer(t);
    const resetApp = await startResetApp(t, mail, { env: { PASSWORD_RESET_MAX_OUTSTANDING: '2' } });
    const user = await userWithEmail(resetApp, 'flood@example.com');
    const first = await requestLink(resetApp, mail, 'flood@example.com');
    await requestLink(resetApp, mail, 'flood@example.com');
    for (let attempt = 0; attempt < 3; attempt++) await expectRefusal(await resetApp.post(REQUEST_URL, { email: 'flood@example.com' }), 200, MAIL_SENT);
    await expectRefusal(await confirm(resetApp, first), 200, PASSWORD_RESET);
    await requestLink(resetApp, mail, 'flood@example.com');

    await resetApp.app.close();
    assert.equal(mail.received.length, 3);
    assert.equal((await storedLinks(resetApp.database, user.id)).length, 1);
  });

  test('when many requests for one account arrive at once, then the outstanding links still stop at the limit', async (t) => {
    const mail = await startMailServer(t);
    const resetApp = await startResetApp(t, mail, { env: { PASSWORD_RESET_MAX_OUTSTANDING: '2' } });
    const user = await userWithEmail(resetApp, 'burst@example.com');
    const replies = await Promise.all(Array.from({ length: 8 }, () => resetApp.post(REQUEST_URL, { email: 'burst@example.com' })));
    assert.deepEqual(replies.map((reply) => reply.status), Array(8).fill(200));

    await resetApp.app.close();
    assert.equal((await storedLinks(resetApp.database, user.id)).length, 2);
    assert.equal(mail.received.length, 2);
  });

  test('when the email is missing, blank or invalid, then the reply names the field and nothing is sent', async (t) => {
    const mail = await startMailServer(t);
    const resetApp = await startResetApp(t, mail);
    await userWithEmail(resetApp, 'valid@example.com');
    const cases: [unknown, unknown][] = [
      [{}, { email: ['This field is required.'] }],
      [{ email: '' }, { email: ['This field may not be blank.'] }],
      [{ email: '   ' }, { email: ['This field may not be blank.'] }],
      [{ email: null }, { email: ['This field may not be null.'] }],
      [{ email: ['valid@example.com'] }, { email: ['Not a valid string.'] }],
      [{ email: 'not an address' }, { email: ['Enter a valid email address.'] }],
      [{ email: 'valid@example.com\0' }, { email: ['Null characters are not allowed.'] }],
      [{ email: `${'a'.repeat(250)}@example.com` }, { email: ['Ensure this field has no more than 254 characters.'] }],
    ];
    for (const [body, errors] of cases) await expectRefusal(await resetApp.post(REQUEST_URL, body), 400, errors);
    await expectRefusal(await resetApp.post(REQUEST_URL, [1]), 400, { non_field_errors: ['Invalid data. Expected a dictionary, but got list.'] });
    await resetApp.app.close();
    assert.deepEqual(mail.received, []);
  });

  test('when the email is sent as a form, with white space around it, then the link is mailed all the same', async (t) => {
    const mail = await startMailServer(t);
    const resetApp = await startResetApp(t, mail);
    await userWithEmail(resetApp, 'form@example.com');
    const reply = await fetch(`${resetApp.base}${REQUEST_URL}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'email=+form%40example.com+',
    });
    await expectRefusal(reply, 200, MAIL_SENT);
    assert.deepEqual((await mail.next()).to, ['form@example.com']);
  });

  test('when one address is asked for too often, then 429 comes back alike for a registered and an unregistered one', async (t) => {
    const mail = await startMailServer(t);
    const resetApp = await startResetApp(t, mail, { config: { throttle: limits({ passwordResetPerEmail: { max: 2, windowSeconds: 60 } }) } });
    await userWithEmail(resetApp, 'often@example.com');
    const replies: Record<string, Awaited<ReturnType<typeof comparable>>> = {};
    for (const email of ['often@example.com', 'never@example.com']) {
      for (let attempt = 0; attempt < 2; attempt++) await expectRefusal(await resetApp.post(REQUEST_URL, { email }), 200, MAIL_SENT);
      // Another spelling of the same address counts as the same address.
      replies[email] = await comparable(await resetApp.post(REQUEST_URL, { email: email.toUpperCase() }));
    }
    assert.deepEqual(replies['often@example.com'], replies['never@example.com']);
    const refused = replies['often@example.com']!;
    assert.equal(refused.status, 429);
    assert.match(JSON.parse(refused.body).detail, /^Request was throttled\. Expected available in \d+ seconds?\.$/);
    assert.ok(refused.headers.some(([name, value]) => name === 'retry-after' && Number(value) > 0));
    await expectRefusal(await resetApp.post(REQUEST_URL, { email: 'someone-else@example.com' }), 200, MAIL_SENT);
    await resetApp.app.close();
    assert.equal(mail.received.length, 2);
  });

  test('when one client asks too often, whatever the addresses, then it gets 429 before its body is read', async (t) => {
    const resetApp = await startResetApp(t, undefined, { config: { throttle: limits({ passwordResetPerAddress: { max: 2, windowSeconds: 60 } }) } });
    await expectRefusal(await resetApp.post(REQUEST_URL, { email: 'one@example.com' }), 200, MAIL_SENT);
    await expectRefusal(await resetApp.post(REQUEST_URL, { email: 'not an address' }), 400, { email: ['Enter a valid email address.'] });
    const refused = await fetch(`${resetApp.base}${REQUEST_URL}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers.get('retry-after')) > 0);
  });

  test('when another method is used, then 405 lists POST and OPTIONS, and OPTIONS describes the endpoint', async (t) => {
    const resetApp = await startResetApp(t, undefined);
    for (const url of [REQUEST_URL, CONFIRM_URL]) {
      const refused = await fetch(`${resetApp.base}${url}`);
      assert.equal(refused.status, 405);
      assert.equal(refused.headers.get('allow'), 'POST, OPTIONS');
      assert.deepEqual(await refused.json(), { detail: 'Method "GET" not allowed.' });
      const described = await fetch(`${resetApp.base}${url}`, { method: 'OPTIONS' });
      assert.equal(described.status, 200);
      assert.match((await described.json()).name, /^Password Reset/);
    }
  });
});
