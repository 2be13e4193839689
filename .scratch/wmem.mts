import { Worker } from 'node:worker_threads';
const rss = () => Math.round(process.memoryUsage().rss / 1048576);
const before = rss();
const code = `const S = require('better-sqlite3'); const db = new S(':memory:'); require('node:worker_threads').parentPort.on('message', (m) => require('node:worker_threads').parentPort.postMessage(m));`;
const w = new Worker(code, { eval: true, resourceLimits: { maxYoungGenerationSizeMb: Number(process.argv[2]), maxOldGenerationSizeMb: 64 } });
await new Promise((r) => w.once('online', r));
for (let i = 0; i < 20000; i++) { w.postMessage([{ id: i, sql: 'x'.repeat(500), parameters: [1, 'abc', null] }]); await new Promise((r) => w.once('message', r)); }
console.log('young', process.argv[2], 'rss before', before, 'after', rss());
await w.terminate();
