import { Worker } from 'node:worker_threads';
const rss = () => Math.round(process.memoryUsage().rss / 1048576);
const before = rss();
const w = new Worker(`require('node:worker_threads').parentPort.on('message', (m) => require('node:worker_threads').parentPort.postMessage(m));`, { eval: true, resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 64 } });
await new Promise((r) => w.once('online', r));
console.log('online', rss());
for (let i = 0; i < 20000; i++) { w.postMessage([{ id: i, sql: 'x'.repeat(500), parameters: [1, 'abc', null] }]); await new Promise((r) => w.once('message', r)); }
console.log('rss before', before, 'after', rss());
await w.terminate();
console.log('terminated', rss());
