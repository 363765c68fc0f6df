/**
 * Which device store the installed gateway reads (SPEC §3, §7). `auto` picks
 * SQLite when state/openclaw.sqlite holds the device table, else the JSON
 * files — unless the gateway is of the SQLite era (it would ignore them).
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { CliError } from "../errors.ts";
import type { OpenClawConfig } from "../openclaw/config.ts";
import { jsonFiles } from "./json.ts";
import { hasPairedTable, openDatabase, readInfo, sqliteError, type SqliteInfo } from "./sqlite.ts";

export type StoreChoice = "auto" | "sqlite" | "json";
export type StoreKind = "sqlite" | "json";
export type StoreTarget = { kind: StoreKind; path: string; info?: SqliteInfo };

/** First OpenClaw release that reads devices from SQLite only. */
const SQLITE_ERA: readonly number[] = [2026, 7];

export const sqlitePath = (stateDir: string) => join(stateDir, "state", "openclaw.sqlite");

function isSqliteEra(version: string | undefined): boolean {
  const parts = /^(\d+)\.(\d+)/.exec(version ?? "");
  if (!parts) return false;
  const [major, minor] = [Number(parts[1]), Number(parts[2])];
  return major > SQLITE_ERA[0]! || (major === SQLITE_ERA[0] && minor >= SQLITE_ERA[1]!);
}

/** The store as `--json` output names it (pair, devices, revoke, doctor). */
export const storeJson = (store: StoreTarget) => ({
  backend: store.kind,
  path: store.path,
  ...(store.info?.schemaVersion !== undefined && { schemaVersion: store.info.schemaVersion }),
  ...(store.info?.appVersion !== undefined && { openclawVersion: store.info.appVersion }),
});

function inspectSqlite(path: string): { hasTable: boolean; info: SqliteInfo } {
  const db = openDatabase(path, "read");
  try {
    return { hasTable: hasPairedTable(db), info: readInfo(db) };
  } catch (error) {
    throw sqliteError(error, path);
  } finally {
    db.close();
  }
}

export function selectStore(stateDir: string, source: string, choice: StoreChoice, config: OpenClawConfig): StoreTarget {
  let isDir = false;
  try {
    isDir = statSync(stateDir).isDirectory();
  } catch {}
  if (!isDir)
    throw new CliError("store-missing", `no OpenClaw state dir at ${stateDir} (from ${source}): run OpenClaw once, or pass --state-dir`);

  const dbPath = sqlitePath(stateDir);
  const sqlite = existsSync(dbPath) ? inspectSqlite(dbPath) : undefined;
  const notYet = () =>
    new CliError("store-missing", `${dbPath} has no device table yet: start the OpenClaw gateway once so it creates it, then pair again`);
  const jsonIgnored = () =>
    new CliError(
      "refused",
      `this OpenClaw (${sqlite?.info.appVersion ?? config.lastTouchedVersion ?? "2026.7 or later"}) reads devices from ${dbPath} and ignores devices/paired.json: use --store sqlite or auto`,
    );
  const sqliteEra = isSqliteEra(sqlite?.info.appVersion) || isSqliteEra(config.lastTouchedVersion);

  if (choice === "sqlite" || (choice === "auto" && sqlite?.hasTable)) {
    if (!sqlite?.hasTable) throw notYet();
    return { kind: "sqlite", path: dbPath, info: sqlite.info };
  }
  if (sqlite?.hasTable || sqliteEra) throw choice === "json" ? jsonIgnored() : notYet();
  return { kind: "json", path: jsonFiles(stateDir).paired };
}
