import { describe, expect, it } from "bun:test";
import { Database } from "bun:sqlite";
import { writeFileSync } from "node:fs";
import { run } from "./support/binary.ts";
import { decodeSetupCode, newIdentity, requestCode } from "./support/requests.ts";
import { insertPaired, makeSqliteStore, readPairedRows, snapshot, sqliteFile, tempStateDir } from "./support/stores.ts";

const pairInto = (state: string, code: string, ...flags: string[]) => run(["pair", "--no-connector", "--state-dir", state, ...flags, code]);

const foreign = {
  device_id: "f".repeat(64),
  public_key: "foreign-key",
  display_name: "Mac",
  operator_label: "my laptop",
  remote_ip: "10.0.0.2",
  node_surface_json: '{"caps":["canvas"]}',
  tokens_json: '{"node":{"token":"t","role":"node","scopes":[],"createdAtMs":1}}',
  approved_via: "silent",
  created_at_ms: 1,
  approved_at_ms: 2,
  last_seen_at_ms: 3,
  last_seen_reason: "connect",
};

describe("SQLite store (OpenClaw 2026.7+)", () => {
  it("approves the device in one row the gateway can read, and keeps every other row", async () => {
    using s = tempStateDir();
    const id = newIdentity();
    makeSqliteStore(s.dir, (db) => {
      insertPaired(db, foreign);
      db.query("INSERT INTO device_pairing_pending (request_id, device_id, public_key, ts) VALUES (?,?,?,?)").run("r1", id.deviceId, id.publicKeyB64, 5);
      db.query("INSERT INTO device_pairing_pending (request_id, device_id, public_key, ts) VALUES (?,?,?,?)").run("r2", "e".repeat(64), "k", 6);
    });
    const r = await pairInto(s.dir, requestCode(id));
    expect(r.exitCode).toBe(0);
    const code = decodeSetupCode(r.stdout);
    const rows = readPairedRows(s.dir);
    expect(rows).toHaveLength(2);
    expect(rows.find((row) => row.device_id === foreign.device_id)).toEqual({ ...foreign, device_family: null, platform: null, client_id: null, client_mode: null, browser_origin: null, role: null, roles_json: null, scopes_json: null, approved_scopes_json: null, pending_node_surface_json: null });
    const row = rows.find((row) => row.device_id === id.deviceId)!;
    expect(row).toMatchObject({ public_key: id.publicKeyB64, role: "operator", approved_via: "owner", client_id: "openclaw-ios", client_mode: "ui", platform: "ios", display_name: "KokoChat" });
    expect(JSON.parse(String(row.roles_json))).toEqual(["operator"]);
    const tokens = JSON.parse(String(row.tokens_json));
    expect(tokens.operator.token).toBe(code.deviceToken);
    expect(tokens.operator.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(tokens.operator.scopes).toContain("operator.admin");
    expect(code.deviceId).toBe(id.deviceId);
    const db = new Database(sqliteFile(s.dir), { readonly: true });
    expect(db.query("SELECT request_id FROM device_pairing_pending").all()).toEqual([{ request_id: "r2" }]);
    expect(db.query("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
    expect(db.query("PRAGMA user_version").get()).toEqual({ user_version: 18 });
    db.close();
  });

  it("rotates the token on re-pair, keeping createdAtMs, lastUsedAtMs and fields it does not own", async () => {
    using s = tempStateDir();
    const id = newIdentity();
    makeSqliteStore(s.dir);
    const first = decodeSetupCode((await pairInto(s.dir, requestCode(id))).stdout);
    const db = new Database(sqliteFile(s.dir));
    const before = db.query<{ tokens_json: string; created_at_ms: number }, []>("SELECT tokens_json, created_at_ms FROM device_pairing_paired").get()!;
    const tokens = JSON.parse(before.tokens_json);
    tokens.operator.lastUsedAtMs = 42;
    tokens.operator.revokedAtMs = 43;
    db.query("UPDATE device_pairing_paired SET tokens_json = ?, operator_label = 'kitchen phone', last_seen_at_ms = 7").run(JSON.stringify(tokens));
    db.close();

    const again = await pairInto(s.dir, requestCode(id), "--json");
    expect(again.exitCode).toBe(0);
    const out = JSON.parse(again.stdout);
    expect(out.rotated).toBe(true);
    const second = decodeSetupCode(out.setupCode);
    expect(second.deviceToken).not.toBe(first.deviceToken);
    const [row] = readPairedRows(s.dir);
    const op = JSON.parse(String(row!.tokens_json)).operator;
    expect(op.token).toBe(second.deviceToken);
    expect(op.createdAtMs).toBe(tokens.operator.createdAtMs);
    expect(op.lastUsedAtMs).toBe(42);
    expect(op.revokedAtMs).toBeUndefined();
    expect(typeof op.rotatedAtMs).toBe("number");
    expect(row).toMatchObject({ created_at_ms: before.created_at_ms, operator_label: "kitchen phone", last_seen_at_ms: 7 });
  });

  it("--limited grants no operator.admin, even on a device that had it", async () => {
    using s = tempStateDir();
    const id = newIdentity();
    makeSqliteStore(s.dir);
    await pairInto(s.dir, requestCode(id));
    const r = await pairInto(s.dir, requestCode(id), "--limited");
    expect(r.exitCode).toBe(0);
    const [row] = readPairedRows(s.dir);
    for (const column of ["scopes_json", "approved_scopes_json"]) expect(JSON.parse(String(row![column]))).not.toContain("operator.admin");
    expect(JSON.parse(String(row!.tokens_json)).operator.scopes).not.toContain("operator.admin");
    expect(r.stderr).toContain("--limited: the phone asked for operator.admin");
  });

  it("refuses a device paired under another key (77) and changes no byte", async () => {
    using s = tempStateDir();
    const id = newIdentity();
    makeSqliteStore(s.dir, (db) => insertPaired(db, { ...foreign, device_id: id.deviceId, public_key: newIdentity().publicKeyB64 }));
    const before = snapshot(s.dir);
    const r = await pairInto(s.dir, requestCode(id));
    expect(r.exitCode).toBe(77);
    expect(r.stderr).toContain("already paired with a different public key");
    expect(r.stdout).toBe("");
    expect(snapshot(s.dir)).toEqual(before);
  });

  const refusedStores: [string, (state: string) => void, number, RegExp][] = [
    ["a file that is not a database", (state) => { makeSqliteStore(state); writeFileSync(sqliteFile(state), "not a database at all, just text".repeat(200)); }, 78, /not a readable SQLite database/],
    ["a device table missing a column we write", (state) => makeSqliteStore(state, (db) => db.run("ALTER TABLE device_pairing_paired DROP COLUMN approved_via")), 78, /approved_via is missing/],
    ["a database without the device tables yet", (state) => makeSqliteStore(state, (db) => db.run("DROP TABLE device_pairing_paired")), 69, /start the OpenClaw gateway once/],
    ["a device row whose tokens_json is not JSON", (state) => makeSqliteStore(state, (db) => insertPaired(db, { ...foreign, device_id: "PLACEHOLDER", tokens_json: "{oops" })), 78, /tokens_json is not JSON/],
  ];
  for (const [name, make, exit, message] of refusedStores) {
    it(`refuses ${name} (${exit}) and leaves it byte-identical`, async () => {
      using s = tempStateDir();
      const id = newIdentity();
      make(s.dir);
      const db = new Database(sqliteFile(s.dir));
      try { db.run(`UPDATE device_pairing_paired SET device_id = '${id.deviceId}', public_key = '${id.publicKeyB64}' WHERE device_id = 'PLACEHOLDER'`); } catch {}
      db.close();
      const before = snapshot(s.dir);
      const r = await pairInto(s.dir, requestCode(id));
      expect(r.exitCode).toBe(exit);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(snapshot(s.dir)).toEqual(before);
    });
  }

  it("refuses a NOT NULL column without a default that it does not know (78)", async () => {
    using s = tempStateDir();
    makeSqliteStore(s.dir, (db) => {
      db.run("DROP TABLE device_pairing_paired");
      db.run("CREATE TABLE device_pairing_paired (device_id TEXT PRIMARY KEY, public_key TEXT NOT NULL, display_name TEXT, platform TEXT, device_family TEXT, client_id TEXT, client_mode TEXT, role TEXT, roles_json TEXT, scopes_json TEXT, approved_scopes_json TEXT, tokens_json TEXT, approved_via TEXT, created_at_ms INTEGER NOT NULL, approved_at_ms INTEGER NOT NULL, tenant_id TEXT NOT NULL) STRICT");
    });
    const before = snapshot(s.dir);
    const r = await pairInto(s.dir, requestCode(newIdentity()));
    expect(r.exitCode).toBe(78);
    expect(r.stderr).toContain("tenant_id is not known");
    expect(snapshot(s.dir)).toEqual(before);
  });

  it("accepts a newer schema that only adds nullable or defaulted columns", async () => {
    using s = tempStateDir();
    makeSqliteStore(s.dir, (db) => db.run("ALTER TABLE device_pairing_paired ADD COLUMN tenant TEXT NOT NULL DEFAULT 'home'"));
    const r = await pairInto(s.dir, requestCode(newIdentity()));
    expect(r.exitCode).toBe(0);
    expect(readPairedRows(s.dir)[0]!.tenant).toBe("home");
  });

  it("never writes devices/paired.json when the device table exists, even without version metadata (77)", async () => {
    using s = tempStateDir();
    makeSqliteStore(s.dir, (db) => db.run("DELETE FROM schema_meta; PRAGMA user_version = 0"));
    const before = snapshot(s.dir);
    const r = await pairInto(s.dir, requestCode(newIdentity()), "--store", "json");
    expect(r.exitCode).toBe(77);
    expect(snapshot(s.dir)).toEqual(before);
  });

  it("a dry run next to a WAL left by a killed writer changes no byte", async () => {
    using s = tempStateDir();
    makeSqliteStore(s.dir);
    // A writer that dies without closing leaves its WAL (and -shm) behind, as a crashed gateway would.
    const writer = Bun.spawn([process.execPath, "-e", `
      const { Database } = require("bun:sqlite");
      const db = new Database(${JSON.stringify(sqliteFile(s.dir))});
      db.run("INSERT INTO device_pairing_pending (request_id, device_id, public_key, ts) VALUES ('r', 'd', 'k', 1)");
      process.kill(process.pid, "SIGKILL");`]);
    await writer.exited;
    // -shm is SQLite's shared-memory index: every reader, the gateway included, writes its read marks
    // there. The database and its WAL — the data — must not change.
    const data = () => Object.fromEntries(Object.entries(snapshot(s.dir)).filter(([name]) => !name.endsWith("-shm")));
    const before = data();
    expect(Object.keys(before)).toContain("state/openclaw.sqlite-wal");
    const r = await pairInto(s.dir, requestCode(newIdentity()), "--dry-run");
    expect(r.exitCode).toBe(0);
    expect(data()).toEqual(before);
  });

  it("waits for a writer holding the database, then says busy (75) without changing it", async () => {
    using s = tempStateDir();
    makeSqliteStore(s.dir);
    const db = new Database(sqliteFile(s.dir));
    db.run("BEGIN IMMEDIATE");
    try {
      const r = await run(["pair", "--no-connector", "--state-dir", s.dir, requestCode(newIdentity())], { env: { KOKOCHAT_BUSY_TIMEOUT_MS: "300" } });
      expect(r.exitCode).toBe(75);
      expect(r.stderr).toContain("busy");
    } finally {
      db.run("ROLLBACK");
      db.close();
    }
    expect(readPairedRows(s.dir)).toHaveLength(0);
  });
});
