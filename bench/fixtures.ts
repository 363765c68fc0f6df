/**
 * Device stores for the benchmark: a SQLite store made from OpenClaw 2026.9.6's
 * DDL (test/fixtures) and a JSON store, each holding N paired devices shaped
 * the way the gateway writes them. Made once per size; every timed run gets a
 * fresh copy so each run does the same work.
 */
import { cpSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { insertPaired, makeJsonStore, makeSqliteStore } from "../test/support/stores.ts";

export type Backend = "sqlite" | "json";

const SCOPES = ["operator.admin", "operator.read", "operator.write", "operator.approvals", "operator.talk.secrets"];

/** One device as the gateway stores it (SPEC §3b field names). */
function device(i: number) {
  const deviceId = randomBytes(32).toString("hex");
  const now = 1_780_000_000_000 + i;
  return {
    deviceId,
    publicKey: randomBytes(32).toString("base64url"),
    displayName: `Device ${i}`,
    platform: i % 2 ? "ios" : "android",
    clientId: i % 2 ? "openclaw-ios" : "openclaw-android",
    clientMode: "ui",
    role: "operator",
    roles: ["operator"],
    scopes: SCOPES,
    approvedScopes: SCOPES,
    tokens: { operator: { token: randomBytes(32).toString("base64url"), role: "operator", scopes: SCOPES, createdAtMs: now, lastUsedAtMs: now } },
    createdAtMs: now,
    approvedAtMs: now,
  };
}

/** A state dir holding `count` paired devices in the given backend; returns its path. */
export function makeTemplate(root: string, backend: Backend, count: number): string {
  const state = mkdtempSync(join(root, `${backend}-${count}-`));
  const devices = Array.from({ length: count }, (_, i) => device(i));
  if (backend === "sqlite") {
    makeSqliteStore(state, (db) =>
      db.transaction(() => {
        for (const d of devices)
          insertPaired(db, {
            device_id: d.deviceId,
            public_key: d.publicKey,
            display_name: d.displayName,
            platform: d.platform,
            client_id: d.clientId,
            client_mode: d.clientMode,
            role: d.role,
            roles_json: JSON.stringify(d.roles),
            scopes_json: JSON.stringify(d.scopes),
            approved_scopes_json: JSON.stringify(d.approvedScopes),
            tokens_json: JSON.stringify(d.tokens),
            approved_via: "owner",
            created_at_ms: d.createdAtMs,
            approved_at_ms: d.approvedAtMs,
          });
      })(),
    );
  } else {
    makeJsonStore(state, Object.fromEntries(devices.map((d) => [d.deviceId, d])), {});
  }
  return state;
}

/** A fresh copy of a template state dir. */
export function freshCopy(template: string, root: string): string {
  const dir = mkdtempSync(join(root, "run-"));
  cpSync(template, dir, { recursive: true });
  return dir;
}
