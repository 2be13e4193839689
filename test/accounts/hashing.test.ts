import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test, type TestContext } from 'node:test';
import { buildTestApp, createUser, dialectName, uniqueUsername } from '../helpers.js';
import { djangoPbkdf2, insertUser, postLogin } from './support.js';

/**
 * Sends `request` every 2 ms while `work` runs, as clients would, and measures how much of
 * the process's CPU time the event loop's own thread spent meanwhile. Were hashing done on
 * the event loop, that thread would do nearly all of it (and few answers would come back);
 * done on the thread pool, the hashing threads do most of it. CPU time, unlike wall-clock
 * time, does not change when other programs keep the machine busy.
 */
async function answeredDuring(work: Promise<unknown>, request: () => Promise<{ statusCode: number }>) {
  let done = false;
  const finished = work.finally(() => {
    done = true;
  });
  let count = 0;
  const deadline = performance.now() + 20_000;
  const loopBefore = eventLoopThreadCpuMs();
  const processBefore = process.cpuUsage();
  while (!done) {
    assert.ok(performance.now() < deadline, 'the logins did not finish');
    await sleep(2);
    const reply = await request();
    assert.equal(reply.statusCode, 200);
    if (!done) count++;
  }
  await finished;
  const processUsage = process.cpuUsage(processBefore);
  const processMs = (processUsage.user + processUsage.system) / 1000;
  return { count, loopShare: (eventLoopThreadCpuMs() - loopBefore) / processMs };
}

/** CPU time used so far by the calling thread, the event loop's, from Linux's /proc (10 ms ticks). */
function eventLoopThreadCpuMs(): number {
  const afterName = readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1]!.split(' ');
  // utime and stime: fields 14 and 15 of the line, counted from the state (field 3) here.
  return (Number(afterName[11]) + Number(afterName[12])) * 10;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const LOGINS = 12;
const IMPORTED = 4;

function assertAnswered(t: TestContext, answers: { count: number; loopShare: number }, logins: number): void {
  const report = `${answers.count} answers during ${logins} logins; the event loop used ${(answers.loopShare * 100).toFixed(0)}% of the CPU time`;
  t.diagnostic(report);
  assert.ok(answers.count >= 5, report);
  assert.ok(answers.loopShare < 0.6, report);
}

describe(`[${dialectName}] password hashing off the event loop`, () => {
  test('when several logins are being hashed, then other requests keep being answered meanwhile', async (t) => {
    const { app } = await buildTestApp(t);
    const user = await createUser(app);

    const logins = Promise.all(
      Array.from({ length: LOGINS }, (_, i) => postLogin(app, user.username, i % 2 === 0 ? user.password : 'wrong password')),
    );
    const root = await answeredDuring(logins, () => app.inject({ method: 'GET', url: '/' }));
    assertAnswered(t, root, LOGINS);

    const moreLogins = Promise.all(Array.from({ length: LOGINS }, () => postLogin(app, uniqueUsername('ghost'), 'no such user')));
    const tasks = await answeredDuring(moreLogins, () => app.inject({ method: 'GET', url: '/api/tasks/', headers: user.auth }));
    assertAnswered(t, tasks, LOGINS);
  });

  test('when imported Django users log in, then their PBKDF2 checks do not stall other requests either', async (t) => {
    const { app, database } = await buildTestApp(t);
    const user = await createUser(app);
    const imported = Array.from({ length: IMPORTED }, () => uniqueUsername('imported'));
    for (const username of imported) {
      await insertUser(database, { username, password: djangoPbkdf2('legacy passphrase', 600_000) });
    }

    const logins = Promise.all(imported.map((username) => postLogin(app, username, 'legacy passphrase')));
    const tasks = await answeredDuring(logins, () => app.inject({ method: 'GET', url: '/api/tasks/', headers: user.auth }));
    assert.deepEqual((await logins).map((reply) => reply.statusCode), imported.map(() => 200));
    assertAnswered(t, tasks, IMPORTED);
  });
});
