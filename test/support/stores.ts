/** OpenClaw state dirs for tests: real folders, a real SQLite database made from the gateway's DDL. */
import { Database } from "bun:sqlite";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const DDL = readFileSync(join(import.meta.dir, "../fixtures/openclaw-2026.9.6-devices.sql"), "utf8");

export type StateDir = { dir: string; [Symbol.dispose](): void };

export function tempStateDir(): StateDir {
  const dir = mkdtempSync(join(tmpdir(), "kokochat-state-"));
  chmodSync(dir, 0o700);
  return { dir, [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) };
}

export const sqliteFile = (state: string) => join(state, "state", "openclaw.sqlite");
export const pairedFile = (state: string) => join(state, "devices", "paired.json");
export const pendingFile = (state: string) => join(state, "devices", "pending.json");

/** A state dir as OpenClaw 2026.9.6 leaves it: WAL mode, the device tables, optional rows. */
export function makeSqliteStore(state: string, setup?: (db: Database) => void): string {
  mkdirSync(join(state, "state"), { recursive: true, mode: 0o700 });
  const path = sqliteFile(state);
  const db = new Database(path, { create: true });
  db.run("PRAGMA journal_mode = WAL");
  db.run(DDL);
  setup?.(db);
  db.close();
  chmodSync(path, 0o600);
  return path;
}

export type Row = Record<string, string | number | null>;

export function insertPaired(db: Database, row: Row): void {
  const keys = Object.keys(row);
  db.query(`INSERT INTO device_pairing_paired (${keys.join(",")}) VALUES (${keys.map(() => "?").join(",")})`).run(...(Object.values(row) as never[]));
}

export function readPairedRows(state: string): Row[] {
  const db = new Database(sqliteFile(state), { readonly: true });
  try {
    return db.query<Row, []>("SELECT * FROM device_pairing_paired ORDER BY device_id").all();
  } finally {
    db.close();
  }
}

export function makeJsonStore(state: string, paired?: unknown, pending?: unknown): void {
  mkdirSync(join(state, "devices"), { recursive: true, mode: 0o700 });
  if (paired !== undefined) writeFileSync(pairedFile(state), typeof paired === "string" ? paired : JSON.stringify(paired, null, 2), { mode: 0o600 });
  if (pending !== undefined) writeFileSync(pendingFile(state), typeof pending === "string" ? pending : JSON.stringify(pending, null, 2), { mode: 0o600 });
}

export const readJson = (path: string) => JSON.parse(readFileSync(path, "utf8"));

/** Every file under `dir` with its bytes, to prove a run changed nothing at all. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      const stat = statSync(path);
      if (stat.isDirectory()) {
        out[`${relative(dir, path)}/`] = (stat.mode & 0o777).toString(8);
        walk(path);
      } else out[relative(dir, path)] = `${(stat.mode & 0o777).toString(8)}:${readFileSync(path).toString("base64")}`;
    }
  };
  walk(dir);
  return out;
}

export const modeOf = (path: string) => statSync(path).mode & 0o777;
