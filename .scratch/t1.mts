import { sql } from 'kysely';
import { createDatabase } from '/work/main/src/db/database.ts';
const d = createDatabase('sqlite:/tmp/t1dir/x.sqlite3');
await d.close();
try { const r = await sql`create table t (id integer primary key)`.execute(d.db); console.log('written', r); } catch (e) { console.log('refused', e.message); }
