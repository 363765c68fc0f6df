/**
 * Current OpenClaw (2026.7+): paired devices are rows of
 * `device_pairing_paired` in `<state>/state/openclaw.sqlite` (SPEC §3a).
 * One BEGIN IMMEDIATE transaction reads the device's row, refuses a different
 * key, upserts the row and deletes the device's pending requests. We never
 * create the database or a table, and touch no other table, row or pragma
 * (busy_timeout is a setting of our own connection only).
 */
import { Database } from "bun:sqlite";
import { existsSync } from "node:fs";
import { CliError, errno } from "../errors.ts";
import { busyTimeoutMs } from "./lock.ts";
import { checkpoint } from "../testhooks.ts";
import { assertSameKey, mergeDevice, type Approval, type DeviceEdit, type DeviceRecord, type ListedDevice, type StoreOutcome } from "./device.ts";

export const PAIRED = "device_pairing_paired";
export const PENDING = "device_pairing_pending";

/** record field → column, for every column we write. */
const COLUMNS = {
  deviceId: "device_id",
  publicKey: "public_key",
  displayName: "display_name",
  platform: "platform",
  deviceFamily: "device_family",
  clientId: "client_id",
  clientMode: "client_mode",
  role: "role",
  roles: "roles_json",
  scopes: "scopes_json",
  approvedScopes: "approved_scopes_json",
  tokens: "tokens_json",
  approvedVia: "approved_via",
  createdAtMs: "created_at_ms",
  approvedAtMs: "approved_at_ms",
} as const;
const JSON_FIELDS = new Set(["roles", "scopes", "approvedScopes", "tokens"]);
const FIELDS = Object.keys(COLUMNS) as (keyof typeof COLUMNS)[];

export type SqliteInfo = { userVersion: number; schemaVersion?: number; appVersion?: string };

export function sqliteError(error: unknown, path: string): Error {
  if (error instanceof CliError) return error;
  const code = errno(error) ?? "";
  if (!code.startsWith("SQLITE_")) return error as Error; // a fault of ours: exit 70
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"))
    return new CliError("busy", "the OpenClaw device database is busy: try again in a moment");
  if (code.startsWith("SQLITE_CONSTRAINT"))
    return new CliError("bad-store", `${path} refused the device row (${code}): this OpenClaw's device store is unknown to kokochat-pairing: update kokochat-pairing`);
  if (code.startsWith("SQLITE_NOTADB") || code.startsWith("SQLITE_CORRUPT"))
    return new CliError("bad-store", `${path} is not a readable SQLite database: check it with 'openclaw doctor'; nothing was changed`);
  if (code.startsWith("SQLITE_READONLY") || code.startsWith("SQLITE_PERM") || code.startsWith("SQLITE_AUTH") || code.startsWith("SQLITE_CANTOPEN"))
    return new CliError("refused", `cannot open ${path} for writing: run as the user that owns the OpenClaw state dir`);
  return new CliError("io", `cannot use ${path} (${code}): check the disk and the path`);
}

/**
 * To write: read-write. To only read: read-only when the WAL file exists (the
 * gateway runs, or a writer died), so nothing is checkpointed or removed; else
 * read-write that never writes, since a read-only connection would create
 * -wal/-shm files it cannot remove, while the last read-write connection
 * removes them on close, leaving the folder as it was.
 */
export function openDatabase(path: string, purpose: "read" | "write"): Database {
  try {
    const readonly = purpose === "read" && existsSync(`${path}-wal`);
    const db = readonly ? new Database(path, { readonly: true }) : new Database(path, { readwrite: true, create: false });
    db.run(`PRAGMA busy_timeout = ${busyTimeoutMs()}`);
    return db;
  } catch (error) {
    throw sqliteError(error, path);
  }
}

type ColumnInfo = { name: string; notnull: number; dflt_value: unknown; pk: number };

const columnsOf = (db: Database, table: string) => db.query<ColumnInfo, [string]>("SELECT name, \"notnull\", dflt_value, pk FROM pragma_table_info(?)").all(table);

export const hasPairedTable = (db: Database) => columnsOf(db, PAIRED).length > 0;

/** Refuse a schema we could write wrongly: a column we write is missing, or a NOT NULL column we don't know has no default. */
export function checkSchema(db: Database, path: string): void {
  const unknown = (what: string) =>
    new CliError("bad-store", `${path}: ${what}; this OpenClaw version's device store is unknown to kokochat-pairing: update kokochat-pairing`);
  const paired = columnsOf(db, PAIRED);
  if (paired.length === 0) throw unknown(`table ${PAIRED} is missing`);
  const names = new Set(paired.map((c) => c.name));
  const written = new Set<string>(Object.values(COLUMNS));
  for (const column of written) if (!names.has(column)) throw unknown(`column ${PAIRED}.${column} is missing`);
  for (const c of paired)
    if (c.notnull && c.dflt_value === null && !written.has(c.name)) throw unknown(`required column ${PAIRED}.${c.name} is not known`);
  if (!columnsOf(db, PENDING).some((c) => c.name === "device_id")) throw unknown(`table ${PENDING} or its device_id column is missing`);
}

export function readInfo(db: Database): SqliteInfo {
  const userVersion = db.query<{ user_version: number }, []>("PRAGMA user_version").get()?.user_version ?? 0;
  let meta: { schema_version?: number; app_version?: string } | null = null;
  try {
    meta = db.query<{ schema_version: number; app_version: string }, []>("SELECT schema_version, app_version FROM schema_meta WHERE meta_key = 'primary'").get();
  } catch {}
  return {
    userVersion,
    ...(typeof meta?.schema_version === "number" && { schemaVersion: meta.schema_version }),
    ...(typeof meta?.app_version === "string" && { appVersion: meta.app_version }),
  };
}

/** A row as a record. A JSON column that does not parse is refused, or, given `unreadable`, named there and left out. */
function rowToRecord(row: Record<string, unknown>, path: string, unreadable?: string[]): DeviceRecord {
  const record: DeviceRecord = {};
  for (const field of FIELDS) {
    const value = row[COLUMNS[field]];
    if (value === null || value === undefined) continue;
    if (JSON_FIELDS.has(field)) {
      try {
        record[field] = JSON.parse(String(value));
      } catch {
        if (unreadable) {
          unreadable.push(COLUMNS[field]);
          continue;
        }
        throw new CliError("bad-store", `${path}: the device's ${COLUMNS[field]} is not JSON; nothing was changed: fix or remove the device with 'openclaw devices'`);
      }
    } else record[field] = value;
  }
  return record;
}

function recordToParams(record: DeviceRecord): Record<string, string | number | null> {
  const params: Record<string, string | number | null> = {};
  for (const field of FIELDS) {
    const value = record[field];
    params[`$${field}`] = value === undefined ? null : JSON_FIELDS.has(field) ? JSON.stringify(value) : (value as string | number);
  }
  return params;
}

const selectDevice = `SELECT * FROM ${PAIRED} WHERE device_id = ?`;

/**
 * Read, decide and write one device inside one BEGIN IMMEDIATE transaction
 * (SPEC §3a): the row is read, `edit` decides, and only the columns that
 * changed are written (a new device is inserted whole); with `dropPending`
 * the device's pending requests go too. No other row, table or pragma is
 * touched. Shared by pair and revoke.
 */
export function modifyDeviceSqlite<T>(path: string, deviceId: string, edit: DeviceEdit<T>): T {
  const db = openDatabase(path, "write");
  try {
    checkSchema(db, path);
    const modify = db.transaction(() => {
      const row = db.query<Record<string, unknown>, [string]>(selectDevice).get(deviceId);
      const existing = row ? rowToRecord(row, path) : undefined;
      const change = edit(existing);
      if (change.next) {
        const params = recordToParams(change.next);
        if (!existing) {
          db.query(`INSERT INTO ${PAIRED} (${FIELDS.map((f) => COLUMNS[f]).join(", ")}) VALUES (${FIELDS.map((f) => `$${f}`).join(", ")})`).run(params as never);
        } else {
          const before = recordToParams(existing);
          const changed = FIELDS.filter((f) => f !== "deviceId" && before[`$${f}`] !== params[`$${f}`]);
          if (changed.length > 0) {
            const values = Object.fromEntries([["$deviceId", deviceId], ...changed.map((f) => [`$${f}`, params[`$${f}`]])]);
            db.query(`UPDATE ${PAIRED} SET ${changed.map((f) => `${COLUMNS[f]} = $${f}`).join(", ")} WHERE device_id = $deviceId`).run(values as never);
          }
        }
      }
      if (change.dropPending) db.query(`DELETE FROM ${PENDING} WHERE device_id = ?`).run(deviceId);
      checkpoint("sqlite-in-transaction");
      return change.result;
    });
    return modify.immediate();
  } catch (error) {
    throw sqliteError(error, path);
  } finally {
    db.close();
  }
}

export function approveSqlite(path: string, approval: Approval): StoreOutcome {
  const rotated = modifyDeviceSqlite(path, approval.request.deviceId, (existing) => ({
    next: { ...mergeDevice(existing, approval), approvedVia: "owner" },
    dropPending: true,
    result: existing !== undefined,
  }));
  return { rotated };
}

/** Columns only shown, never written: record field → column. */
const SHOWN_COLUMNS = { operatorLabel: "operator_label", lastSeenAtMs: "last_seen_at_ms", lastSeenReason: "last_seen_reason" } as const;

/** Every paired device, newest approval first. A row whose JSON columns do not parse is listed with them named. */
export function listDevicesSqlite(path: string): ListedDevice[] {
  const db = openDatabase(path, "read");
  try {
    const rows = db.query<Record<string, unknown>, []>(`SELECT * FROM ${PAIRED} ORDER BY approved_at_ms DESC, device_id`).all();
    return rows.map((row) => {
      const unreadable: string[] = [];
      const record = rowToRecord(row, path, unreadable);
      for (const [field, column] of Object.entries(SHOWN_COLUMNS)) if (row[column] !== null && row[column] !== undefined) record[field] = row[column];
      return { id: String(row.device_id), record, unreadable };
    });
  } catch (error) {
    throw sqliteError(error, path);
  } finally {
    db.close();
  }
}

/** Dry run: the same checks, read-only. */
export function previewSqlite(path: string, approval: Approval): StoreOutcome {
  const db = openDatabase(path, "read");
  try {
    checkSchema(db, path);
    const row = db.query<Record<string, unknown>, [string]>(selectDevice).get(approval.request.deviceId);
    const existing = row ? rowToRecord(row, path) : undefined;
    assertSameKey(existing, approval);
    return { rotated: existing !== undefined };
  } catch (error) {
    throw sqliteError(error, path);
  } finally {
    db.close();
  }
}
