import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Sql } from './pool';

const MIGRATIONS_DIR = path.join(__dirname, 'migrations');
/**
 * Every SQL function, one file each (`CREATE OR REPLACE`), applied on every run BEFORE the
 * migrations: a function is changed by editing its one file, never restated by a later migration,
 * and the migrations' triggers find their functions already there on a fresh database.
 * Functions are PL/pgSQL, whose bodies are checked against tables only when called, so a
 * function may name a column that this run's migrations are about to add.
 */
const FUNCTIONS_DIR = path.join(__dirname, 'functions');
/** Any constant: serialises concurrent migrators (api and worker starting together). */
const MIGRATION_LOCK = 7_241_001;

async function sqlFiles(dir: string, pattern: RegExp): Promise<string[]> {
  return (await readdir(dir)).filter((f) => pattern.test(f)).sort();
}

/** Applies the functions, then the versioned SQL files in order, each once, in one transaction. */
export async function migrate(sql: Sql): Promise<string[]> {
  const files = await sqlFiles(MIGRATIONS_DIR, /^\d{3}_.+\.sql$/);
  const functions = await sqlFiles(FUNCTIONS_DIR, /^[a-z_]+\.sql$/);
  const applied: string[] = [];
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    for (const file of functions) await tx.unsafe(await readFile(path.join(FUNCTIONS_DIR, file), 'utf8'));
    await tx`CREATE TABLE IF NOT EXISTS schema_migrations (
      version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`;
    const done = new Set(
      (await tx<{ version: string }[]>`SELECT version FROM schema_migrations`).map((r) => r.version),
    );
    for (const file of files) {
      if (done.has(file)) continue;
      const text = await readFile(path.join(MIGRATIONS_DIR, file), 'utf8');
      await tx.unsafe(text);
      await tx`INSERT INTO schema_migrations (version) VALUES (${file})`;
      applied.push(file);
    }
  });
  return applied;
}
