import { randomUUID } from 'node:crypto';
import { benchDatabase } from './support';

(async () => {
  const db = await benchDatabase();
  const sql = db.pool(1);
  await sql`CREATE TABLE t_ops (k text COLLATE "C" PRIMARY KEY, kind text, h text, r jsonb, c timestamptz default now())`;
  await sql`CREATE TABLE t_tr (id bigserial primary key, k text, d bigint, c bigint, a bigint, kind text, descr text, created timestamptz default now())`;
  await sql`CREATE INDEX ON t_tr (d, id desc)`;
  await sql`CREATE INDEX ON t_tr (c, id desc)`;
  const hash = 'a'.repeat(64);
  for (const B of [64, 256]) {
    for (const what of ['ops', 'tr', 'both', 'select1']) {
      let n = 0;
      const t0 = performance.now();
      while (performance.now() - t0 < 3000) {
        const keys = Array.from({ length: B }, () => randomUUID());
        if (what === 'ops' || what === 'both')
          await sql`INSERT INTO t_ops (k, kind, h, r) SELECT k, 'debit', ${hash}, jsonb_build_object('amount', 1, 'availableAfter', 100, 'legs', '[{"bucket":"purchased","amount":1}]'::jsonb) FROM unnest(${keys}::text[]) k`;
        if (what === 'tr' || what === 'both')
          await sql`INSERT INTO t_tr (k, d, c, a, kind, descr) SELECT k, (random()*2000)::int, 2, 1, 'bench', null FROM unnest(${keys}::text[]) k`;
        if (what === 'select1') await sql`SELECT 1`;
        n++;
      }
      const ms = (performance.now() - t0) / n;
      console.log(B, what, ms.toFixed(2), 'ms/stmt', ((ms * 1000) / B).toFixed(1), 'us/row');
    }
  }
  await sql.end();
  await db.stop();
  process.exit(0);
})();
