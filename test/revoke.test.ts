import { describe, expect, it } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "./support/binary.ts";
import { BACKENDS, device, idWith, laptop, newToken, readDevices, seed, tokensOf, type Backend, type Device } from "./support/devices.ts";
import { decodeSetupCode, newIdentity, requestCode } from "./support/requests.ts";
import { readPairedRows, snapshot, sqliteFile, tempStateDir } from "./support/stores.ts";
import { HOSTILE_STRINGS } from "./vectors/hostile.ts";

const revoke = (state: string, ...args: string[]) => run(["revoke", "--state-dir", state, ...args]);

type Operator = { token: string; revokedAtMs?: number; createdAtMs?: number; lastUsedAtMs?: number };
const operatorOf = (d: Device | undefined) => (d?.tokens as { operator: Operator }).operator;

/** A store with a phone, a second phone sharing its first 8 hex digits, and a laptop. */
function fixture(state: string, backend: Backend) {
  const phone = device(idWith("0123456789"), { tokens: { operator: { token: newToken(), role: "operator", scopes: ["operator.read"], createdAtMs: 10, lastUsedAtMs: 20 } }, futureField: { keep: [1, 2] } });
  const twin = device(idWith("01234567ff"), { displayName: "KokoChat 2" });
  const mac = laptop(idWith("abcdef01"));
  seed(state, backend, [phone, twin, mac], (db) =>
    db.query("INSERT INTO device_pairing_pending (request_id, device_id, public_key, ts) VALUES (?,?,?,?)").run("r1", phone.deviceId, "k", 1),
  );
  return { phone, twin, mac, all: [phone, twin, mac] };
}

for (const backend of BACKENDS) {
  describe(`revoke (${backend} store)`, () => {
    it("revokes the operator token of the device a unique prefix names, and changes nothing else", async () => {
      using s = tempStateDir();
      const { phone, twin, mac } = fixture(s.dir, backend);
      const rowsBefore = backend === "sqlite" ? readPairedRows(s.dir) : [];
      const startedAt = Date.now();
      const r = await revoke(s.dir, "--yes", "0123456789");
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toBe(`${phone.deviceId}\n`);
      expect(r.stderr).toContain(`Revoked the operator token of KokoChat (ios, device ${phone.deviceId.slice(0, 12)}…)`);

      const after = readDevices(s.dir, backend);
      const op = operatorOf(after[phone.deviceId]);
      expect(op.revokedAtMs).toBeGreaterThanOrEqual(startedAt);
      expect(op.revokedAtMs).toBeLessThanOrEqual(Date.now());
      const { revokedAtMs, ...rest } = op;
      expect(rest).toEqual(operatorOf(phone) as never); // same token, createdAtMs, lastUsedAtMs
      expect(after[twin.deviceId]).toEqual(twin);
      expect(after[mac.deviceId]).toEqual(mac);
      if (backend === "json") expect(after[phone.deviceId]).toEqual({ ...phone, tokens: { operator: op } });
      else {
        // only tokens_json of that one row changed; the pending request stays
        const rows = readPairedRows(s.dir);
        for (const [i, row] of rows.entries()) {
          const before = rowsBefore[i]!;
          if (row.device_id !== phone.deviceId) expect(row).toEqual(before);
          else expect({ ...row, tokens_json: null }).toEqual({ ...before, tokens_json: null });
        }
        const db = new Database(sqliteFile(s.dir), { readonly: true });
        expect(db.query("SELECT count(*) AS n FROM device_pairing_pending").get()).toEqual({ n: 1 });
        db.close();
      }
    });

    it("accepts the full id, upper case, and a short id copied with its '…'", async () => {
      for (const form of [(id: string) => id, (id: string) => id.slice(0, 20).toUpperCase(), (id: string) => `${id.slice(0, 12)}…`]) {
        using s = tempStateDir();
        const { phone } = fixture(s.dir, backend);
        const r = await revoke(s.dir, "--yes", "--json", form(phone.deviceId));
        expect(r.exitCode).toBe(0);
        expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, state: "revoked", changed: true, device: { deviceId: phone.deviceId, token: "revoked" } });
      }
    });

    it("refuses an ambiguous prefix (64), naming the short ids, and changes no byte", async () => {
      using s = tempStateDir();
      const { phone, twin } = fixture(s.dir, backend);
      const before = snapshot(s.dir);
      const r = await revoke(s.dir, "--yes", "01234567");
      expect(r.exitCode).toBe(64);
      expect(r.stderr).toContain("2 devices have an id starting with the given digits");
      expect(r.stderr).toContain(`${phone.deviceId.slice(0, 12)}…`);
      expect(r.stderr).toContain(`${twin.deviceId.slice(0, 12)}…`);
      expect(r.stderr).toContain("give more of the id");
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(snapshot(s.dir)).toEqual(before);
    });

    it("refuses an unknown device (64) and changes no byte", async () => {
      using s = tempStateDir();
      fixture(s.dir, backend);
      const before = snapshot(s.dir);
      const r = await revoke(s.dir, "--yes", "--json", "deadbeefdeadbeef");
      expect(r.exitCode).toBe(64);
      expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, error: { code: "usage", exit: 64 } });
      expect(r.stderr).toContain("no paired device has an id starting with the given digits");
      expect(snapshot(s.dir)).toEqual(before);
    });

    it("refuses every hostile, non-hex or too short DEVICE as usage (64), one line, never echoing it, changing no byte", async () => {
      using s = tempStateDir();
      fixture(s.dir, backend);
      const before = snapshot(s.dir);
      const values = [...HOSTILE_STRINGS.filter((v) => !v.includes("\u0000") && v.length < 10_000), "0123456", "0123456g", "01234567%", "01234567_", "0123456789*", "0".repeat(65), " 01234567 x", "０１２３４５６７"];
      for (let i = 0; i < values.length; i += 6)
        await Promise.all(
          values.slice(i, i + 6).map(async (value) => {
            const r = await revoke(s.dir, "--yes", "--", value);
            expect(r.exitCode).toBe(64);
            expect(r.stdout).toBe("");
            expect(r.stderr.trim().split("\n")).toHaveLength(1);
            expect(r.stderr).not.toMatch(/\.ts:\d+|at </);
            if (value.length > 3) expect(r.stderr).not.toContain(value);
          }),
        );
      for (const args of [[], ["0123456789", "abcdef01"], ["--bogus", "0123456789"]]) expect((await revoke(s.dir, "--yes", ...args)).exitCode).toBe(64);
      expect(snapshot(s.dir)).toEqual(before);
    });

    it("without --yes and not on a terminal, refuses (64) saying to pass --yes, and changes no byte", async () => {
      using s = tempStateDir();
      fixture(s.dir, backend);
      const before = snapshot(s.dir);
      for (const stdin of [undefined, "y\n"]) {
        const r = await run(["revoke", "--state-dir", s.dir, "0123456789"], stdin === undefined ? {} : { stdin });
        expect(r.exitCode).toBe(64);
        expect(r.stderr).toContain("pass --yes");
      }
      expect(snapshot(s.dir)).toEqual(before);
    });

    it("--dry-run says what it would do and changes no byte", async () => {
      using s = tempStateDir();
      const { phone } = fixture(s.dir, backend);
      const before = snapshot(s.dir);
      const r = await revoke(s.dir, "--dry-run", "--json", "0123456789");
      expect(r.exitCode).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, dryRun: true, state: "would-revoke", changed: false, device: { deviceId: phone.deviceId, token: "active" } });
      expect(r.stderr).toContain("dry run: would revoke");
      expect(snapshot(s.dir)).toEqual(before);
    });

    it("leaves an already revoked token, or a device without an operator token, byte-identical (exit 0)", async () => {
      using s = tempStateDir();
      const revoked = device(idWith("1111111111"), { tokens: { operator: { token: newToken(), role: "operator", createdAtMs: 1, revokedAtMs: 99 } } });
      const node = device(idWith("2222222222"), { role: "node", tokens: { node: { token: newToken(), role: "node", createdAtMs: 1 } } });
      seed(s.dir, backend, [revoked, node]);
      const before = snapshot(s.dir);
      const a = await revoke(s.dir, "--yes", "--json", "1111111111");
      expect(a.exitCode).toBe(0);
      expect(JSON.parse(a.stdout)).toMatchObject({ state: "already-revoked", changed: false });
      const b = await revoke(s.dir, "--yes", "--json", "2222222222");
      expect(b.exitCode).toBe(0);
      expect(JSON.parse(b.stdout)).toMatchObject({ state: "no-operator-token", changed: false });
      expect(snapshot(s.dir)).toEqual(before);
    });

    it("never prints a token, on stdout or stderr", async () => {
      using s = tempStateDir();
      const { all } = fixture(s.dir, backend);
      const outputs = [await revoke(s.dir, "--dry-run", "0123456789"), await revoke(s.dir, "--yes", "--json", "0123456789"), await revoke(s.dir, "--yes", "0123456789"), await revoke(s.dir, "01234567")];
      expect(outputs.map((r) => r.exitCode)).toEqual([0, 0, 0, 64]); // the last one lacks --yes with stdin not a terminal
      expect(tokensOf(all).length).toBeGreaterThan(0);
      for (const r of outputs) for (const token of tokensOf(all)) expect(r.stdout + r.stderr).not.toContain(token);
    });

    it("a phone paired for real is locked out by revoke and let back in by pairing again", async () => {
      using s = tempStateDir();
      seed(s.dir, backend, []);
      const phone = newIdentity();
      const pair = () => run(["pair", "--no-connector", "--store", backend, "--state-dir", s.dir, requestCode(phone)]);
      const first = decodeSetupCode((await pair()).stdout);
      const r = await revoke(s.dir, "--yes", phone.deviceId.slice(0, 8));
      expect(r.exitCode).toBe(0);
      expect(operatorOf(readDevices(s.dir, backend)[phone.deviceId])).toMatchObject({ token: first.deviceToken, revokedAtMs: expect.any(Number) });
      const second = decodeSetupCode((await pair()).stdout);
      const op = operatorOf(readDevices(s.dir, backend)[phone.deviceId]);
      expect(op.token).toBe(second.deviceToken);
      expect(op.token).not.toBe(first.deviceToken);
      expect(op.revokedAtMs).toBeUndefined();
      const listed = JSON.parse((await run(["devices", "--json", "--state-dir", s.dir])).stdout);
      expect(listed.devices[0]).toMatchObject({ deviceId: phone.deviceId, token: "rotated" });
    });
  });
}

describe("revoke: a SQLite row it cannot read", () => {
  it("refuses (78) a device whose tokens_json is not JSON, changing no byte", async () => {
    using s = tempStateDir();
    seed(s.dir, "sqlite", [], (db) => db.run(`INSERT INTO device_pairing_paired (device_id, public_key, client_id, tokens_json, created_at_ms, approved_at_ms) VALUES ('${idWith("5555555555")}', 'k', 'openclaw-ios', '{oops', 1, 1)`));
    const before = snapshot(s.dir);
    const r = await revoke(s.dir, "--yes", "5555555555");
    expect(r.exitCode).toBe(78);
    expect(r.stderr).toContain("tokens_json");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(snapshot(s.dir)).toEqual(before);
  });
});

describe("revoke: the JSON store's read-back", () => {
  it("redoes the revocation when the gateway's snapshot clobbers the first write", async () => {
    using s = tempStateDir();
    const { phone, twin } = fixture(s.dir, "json");
    const r = await run(["revoke", "--yes", "--state-dir", s.dir, "0123456789"], { env: { KOKOCHAT_TEST_CLOBBER_AT: "json-written" } });
    expect(r.exitCode).toBe(0);
    const after = readDevices(s.dir, "json");
    expect(operatorOf(after[phone.deviceId])).toMatchObject({ token: operatorOf(phone).token, revokedAtMs: expect.any(Number) });
    expect(after[twin.deviceId]).toEqual(twin);
  });
});

describe("revoke: busy stores", () => {
  it("SQLite: waits for a writer holding the database, then says busy (75) and changes nothing", async () => {
    using s = tempStateDir();
    const { phone } = fixture(s.dir, "sqlite");
    const db = new Database(sqliteFile(s.dir));
    db.run("BEGIN IMMEDIATE");
    try {
      const r = await run(["revoke", "--yes", "--state-dir", s.dir, "0123456789"], { env: { KOKOCHAT_BUSY_TIMEOUT_MS: "300" } });
      expect(r.exitCode).toBe(75);
      expect(r.stderr).toContain("busy");
    } finally {
      db.run("ROLLBACK");
      db.close();
    }
    expect(operatorOf(readDevices(s.dir, "sqlite")[phone.deviceId]).revokedAtMs).toBeUndefined();
  });

  it("JSON: waits for another run holding the lock, then says busy (75) and leaves paired.json as it was", async () => {
    using s = tempStateDir();
    fixture(s.dir, "json");
    const lock = join(s.dir, "devices", "paired.json.kokochat-lock");
    mkdirSync(lock);
    writeFileSync(join(lock, "owner.json"), JSON.stringify({ pid: process.pid, nonce: "test" }));
    const before = snapshot(s.dir);
    const r = await run(["revoke", "--yes", "--state-dir", s.dir, "0123456789"], { env: { KOKOCHAT_BUSY_TIMEOUT_MS: "300" } });
    expect(r.exitCode).toBe(75);
    expect(snapshot(s.dir)).toEqual(before);
    expect(Object.keys(snapshot(s.dir))).toContain(join("devices", "paired.json"));
  });
});

// `script` gives the binary a real terminal, to answer the confirmation as a person would.
const hasScript = Bun.which("script") !== null && process.platform === "linux";

describe.skipIf(!hasScript)("revoke on a terminal", () => {
  const onTerminal = async (state: string, answer: string) => {
    const binary = (await import("./support/binary.ts")).binary;
    const command = `'${await binary()}' revoke --state-dir '${state}' 0123456789`;
    const proc = Bun.spawn(["script", "-qec", command, "/dev/null"], { stdin: new TextEncoder().encode(answer), stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH!, HOME: process.env.HOME!, NO_COLOR: "1" } });
    const [out, exitCode] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    return { out, exitCode };
  };

  for (const backend of BACKENDS)
    it(`asks first (${backend}): 'n' changes no byte (exit 1), 'y' revokes`, async () => {
      using s = tempStateDir();
      const { phone } = fixture(s.dir, backend);
      const before = snapshot(s.dir);
      const no = await onTerminal(s.dir, "n\n");
      expect(no.out).toContain("[y/N]");
      expect(no.out).toContain("not revoked; nothing was changed");
      expect(no.exitCode).toBe(1);
      expect(snapshot(s.dir)).toEqual(before);
      const yes = await onTerminal(s.dir, "y\n");
      expect(yes.exitCode).toBe(0);
      expect(operatorOf(readDevices(s.dir, backend)[phone.deviceId]).revokedAtMs).toEqual(expect.any(Number));
    });
});
