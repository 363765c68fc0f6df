/** Paired devices planted straight into either store, and read back in one shape, for devices/revoke/doctor tests. */
import { Database } from "bun:sqlite";
import { randomBytes } from "node:crypto";
import { insertPaired, makeJsonStore, makeSqliteStore, pairedFile, readJson, readPairedRows, type Row } from "./stores.ts";

export type Backend = "sqlite" | "json";
export const BACKENDS: readonly Backend[] = ["sqlite", "json"];

export type Device = Record<string, unknown> & { deviceId: string };

export const newToken = () => randomBytes(32).toString("base64url");

/** A device in OpenClaw's JSON shape (SPEC §3b); `id` may be any 64-hex string, so prefixes can be made to collide. */
export function device(id: string, overrides: Record<string, unknown> = {}): Device {
  return {
    deviceId: id,
    publicKey: randomBytes(32).toString("base64url"),
    displayName: "KokoChat",
    platform: "ios",
    clientId: "openclaw-ios",
    clientMode: "ui",
    role: "operator",
    roles: ["operator"],
    scopes: ["operator.read", "operator.write"],
    approvedScopes: ["operator.read", "operator.write"],
    tokens: { operator: { token: newToken(), role: "operator", scopes: ["operator.read", "operator.write"], createdAtMs: 1_700_000_000_000 } },
    createdAtMs: 1_700_000_000_000,
    approvedAtMs: 1_700_000_100_000,
    approvedVia: "owner",
    ...overrides,
  };
}

/** Another program's device in a JSON store, with a field no version of ours knows: it must come through any write untouched. */
export const foreignDevice = {
  deviceId: "f".repeat(64),
  publicKey: "foreign",
  displayName: "Mac",
  role: "node",
  roles: ["node"],
  tokens: { node: { token: "t", role: "node", scopes: [], createdAtMs: 1 } },
  createdAtMs: 1,
  approvedAtMs: 2,
  futureField: { nested: [1, 2, 3] },
};

export const laptop = (id: string) =>
  device(id, {
    displayName: "Mac",
    platform: "darwin",
    clientId: "openclaw-cli",
    clientMode: "cli",
    tokens: { operator: { token: newToken(), role: "operator", scopes: [], createdAtMs: 1 }, node: { token: newToken(), role: "node", scopes: [], createdAtMs: 1 } },
  });

const COLUMNS: Record<string, string> = {
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
};

export function toRow(d: Device, extra: Row = {}): Row {
  const row: Row = {};
  for (const [field, column] of Object.entries(COLUMNS)) {
    const value = d[field];
    if (value === undefined) continue;
    row[column] = typeof value === "object" ? JSON.stringify(value) : (value as string | number);
  }
  return { ...row, ...extra };
}

/** A store of `backend` holding `devices`; `setup` runs on the SQLite database after the rows are in. */
export function seed(state: string, backend: Backend, devices: Device[], setup?: (db: Database) => void): void {
  if (backend === "sqlite")
    makeSqliteStore(state, (db) => {
      for (const d of devices) insertPaired(db, toRow(d));
      setup?.(db);
    });
  else makeJsonStore(state, Object.fromEntries(devices.map((d) => [d.deviceId, d])));
}

/** Every device of the store in the JSON shape (SQLite JSON columns parsed). */
export function readDevices(state: string, backend: Backend): Record<string, Device> {
  if (backend === "json") return readJson(pairedFile(state));
  const out: Record<string, Device> = {};
  for (const row of readPairedRows(state)) {
    const d: Record<string, unknown> = {};
    for (const [field, column] of Object.entries(COLUMNS)) {
      const value = row[column];
      if (value === null || value === undefined) continue;
      d[field] = column.endsWith("_json") ? JSON.parse(String(value)) : value;
    }
    out[String(row.device_id)] = d as Device;
  }
  return out;
}

/** Every token string held in a device list (for "never printed" checks). */
export const tokensOf = (devices: Device[]) =>
  devices.flatMap((d) => Object.values((d.tokens ?? {}) as Record<string, { token?: string }>).map((t) => t.token!)).filter(Boolean);

/** A 64-hex id starting with `prefix`. */
export const idWith = (prefix: string) => (prefix + randomBytes(32).toString("hex")).slice(0, 64);
