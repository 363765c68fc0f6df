import { describe, expect, it } from "bun:test";
import { writeFileSync } from "node:fs";
import { run } from "./support/binary.ts";
import { BACKENDS, device, idWith, laptop, newToken, seed, tokensOf } from "./support/devices.ts";
import { decodeSetupCode, newIdentity, requestCode } from "./support/requests.ts";
import { insertPaired, makeSqliteStore, pairedFile, readJson, snapshot, tempStateDir } from "./support/stores.ts";
import { join } from "node:path";
import { existsSync } from "node:fs";

const devices = (state: string, ...args: string[]) => run(["devices", "--state-dir", state, ...args]);

for (const backend of BACKENDS) {
  describe(`devices (${backend} store)`, () => {
    it("lists KokoChat devices by default with every field, and every device with --all", async () => {
      using s = tempStateDir();
      const phone = device(idWith("aa"), {
        platform: "android",
        clientId: "openclaw-android",
        deviceFamily: "Pixel",
        tokens: { operator: { token: newToken(), role: "operator", scopes: ["operator.read"], createdAtMs: 1_700_000_000_000, rotatedAtMs: 1_700_000_200_000, lastUsedAtMs: 1_700_000_300_000 } },
      });
      const revoked = device(idWith("bb"), {
        displayName: "KokoChat",
        clientId: "webchat",
        clientMode: "webchat",
        platform: "web",
        approvedAtMs: 1_700_000_050_000,
        tokens: { operator: { token: newToken(), role: "operator", scopes: [], createdAtMs: 1, revokedAtMs: 1_700_000_400_000 } },
      });
      const mac = laptop(idWith("cc"));
      seed(s.dir, backend, [phone, revoked, mac]);
      const before = snapshot(s.dir);

      const r = await devices(s.dir, "--json");
      expect(r.exitCode).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out).toMatchObject({ ok: true, filter: "kokochat", hidden: 1, store: { backend }, stateDir: s.dir, stateDirSource: "--state-dir" });
      expect(out.devices.map((d: { deviceId: string }) => d.deviceId)).toEqual([phone.deviceId, revoked.deviceId]); // newest approval first
      expect(out.devices[0]).toMatchObject({
        deviceId: phone.deviceId,
        shortId: phone.deviceId.slice(0, 12),
        displayName: "KokoChat",
        platform: "android",
        deviceFamily: "Pixel",
        clientId: "openclaw-android",
        clientMode: "ui",
        role: "operator",
        roles: ["operator"],
        scopes: ["operator.read", "operator.write"],
        createdAtMs: 1_700_000_000_000,
        approvedAtMs: 1_700_000_100_000,
        lastUsedAtMs: 1_700_000_300_000,
        approvedVia: "owner",
        token: "rotated",
        kokochat: true,
      });
      expect(out.devices[0].tokens).toEqual([
        { role: "operator", state: "rotated", scopes: ["operator.read"], createdAtMs: 1_700_000_000_000, rotatedAtMs: 1_700_000_200_000, lastUsedAtMs: 1_700_000_300_000 },
      ]);
      expect(out.devices[1]).toMatchObject({ token: "revoked", clientId: "webchat" });

      const all = JSON.parse((await devices(s.dir, "--json", "--all")).stdout);
      expect(all).toMatchObject({ filter: "all", hidden: 0 });
      const listedMac = all.devices.find((d: { deviceId: string }) => d.deviceId === mac.deviceId);
      expect(listedMac).toMatchObject({ token: "active", kokochat: false, clientId: "openclaw-cli" });
      expect(listedMac.tokens.map((t: { role: string }) => t.role).sort()).toEqual(["node", "operator"]);
      expect(snapshot(s.dir)).toEqual(before); // listing writes nothing
    });

    it("prints one block per device on stdout: short and full id, name, client, token state, times", async () => {
      using s = tempStateDir();
      const phone = device(idWith("ab"));
      seed(s.dir, backend, [phone, laptop(idWith("cd"))]);
      const r = await devices(s.dir);
      expect(r.exitCode).toBe(0);
      expect(r.stderr).toContain("1 KokoChat device in the");
      expect(r.stderr).toContain("1 other device (--all shows them)");
      expect(r.stdout).toContain(`${phone.deviceId.slice(0, 12)}  KokoChat — ios, openclaw-ios (ui)`);
      expect(r.stdout).toContain(`device id   ${phone.deviceId}`);
      expect(r.stdout).toContain("token       active (created 2023-11-14 22:13:20Z)");
      expect(r.stdout).toContain("approved 2023-11-14 22:15:00Z via owner");
      expect(r.stdout).toContain("last used   never");
      expect(r.stdout).not.toContain("Mac");
      expect((await devices(s.dir, "--all")).stdout).toContain("Mac — darwin, openclaw-cli (cli)");
    });

    it("never shows a token, on stdout or stderr, in any mode", async () => {
      using s = tempStateDir();
      const planted = [device(idWith("11")), laptop(idWith("22")), device(idWith("33"), { tokens: { operator: { token: newToken(), role: "operator", revokedAtMs: 5, extra: newToken() } } })];
      seed(s.dir, backend, planted);
      // and one phone paired for real, with relay credentials
      const paired = await run(["pair", "--no-connector", "--store", backend, "--state-dir", s.dir, requestCode(newIdentity())]);
      expect(paired.exitCode).toBe(0);
      const secrets = [
        ...tokensOf(planted),
        (planted[2]!.tokens as { operator: { extra: string } }).operator.extra,
        decodeSetupCode(paired.stdout).deviceToken,
        readJson(join(s.dir, "kokochat-relay", "relay.json")).relaySecret,
      ];
      for (const args of [[], ["--json"], ["--all"], ["--all", "--json"]]) {
        const r = await devices(s.dir, ...args);
        expect(r.exitCode).toBe(0);
        for (const secret of secrets) {
          expect(r.stdout).not.toContain(secret);
          expect(r.stderr).not.toContain(secret);
        }
      }
    });

    it("makes names from the store safe for a terminal", async () => {
      using s = tempStateDir();
      seed(s.dir, backend, [device(idWith("ee"), { displayName: "KokoChat\x1b[2J\x1b]0;owned\x07\u202eevil", platform: "ios\r\nfake line" })]);
      const r = await devices(s.dir);
      expect(r.exitCode).toBe(0);
      expect(r.stdout).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f\u202e]/);
      expect(r.stdout).toContain("KokoChat?[2J?]0;owned??evil");
      expect(JSON.parse((await devices(s.dir, "--json")).stdout).devices[0].displayName).toBe("KokoChat\x1b[2J\x1b]0;owned\x07\u202eevil");
      using t = tempStateDir();
      seed(t.dir, backend, [device(idWith("ef"), { displayName: "KokoChat 📱 Jürgen" })]);
      expect((await devices(t.dir)).stdout).toContain("KokoChat 📱 Jürgen — ios");
    });

    it("says so when nothing is paired, with an empty stdout", async () => {
      using s = tempStateDir();
      seed(s.dir, backend, []);
      const r = await devices(s.dir);
      expect(r).toMatchObject({ exitCode: 0, stdout: "" });
      expect(r.stderr).toContain("0 KokoChat devices");
      expect(JSON.parse((await devices(s.dir, "--json")).stdout).devices).toEqual([]);
    });
  });
}

describe("devices: stores it cannot read", () => {
  it("lists a SQLite row whose tokens_json is not JSON, naming the problem", async () => {
    using s = tempStateDir();
    const good = device(idWith("12"));
    seed(s.dir, "sqlite", [good], (db) => insertPaired(db, { device_id: idWith("34"), public_key: "k", display_name: "KokoChat", client_id: "openclaw-ios", tokens_json: "{oops", created_at_ms: 1, approved_at_ms: 1 }));
    const r = await devices(s.dir, "--json");
    expect(r.exitCode).toBe(0);
    const bad = JSON.parse(r.stdout).devices.find((d: { deviceId: string }) => d.deviceId.startsWith("34"));
    expect(bad).toMatchObject({ token: "unreadable", unreadable: ["tokens_json"] });
    expect((await devices(s.dir)).stdout).toContain("problem     tokens_json not JSON");
  });

  it("refuses a paired.json that is not JSON (78), one line, changing nothing", async () => {
    using s = tempStateDir();
    seed(s.dir, "json", []);
    writeFileSync(pairedFile(s.dir), "{ not json");
    const before = snapshot(s.dir);
    const r = await devices(s.dir);
    expect(r.exitCode).toBe(78);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(snapshot(s.dir)).toEqual(before);
  });

  it("says the store is not there (69) for a missing state dir, or a database without the device table", async () => {
    using s = tempStateDir();
    expect((await devices(join(s.dir, "nope"))).exitCode).toBe(69);
    makeSqliteStore(s.dir, (db) => db.run("DROP TABLE device_pairing_paired"));
    expect((await devices(s.dir, "--store", "sqlite")).exitCode).toBe(69);
    expect(existsSync(pairedFile(s.dir))).toBe(false);
  });

  it("rejects stray arguments and unknown options (64)", async () => {
    using s = tempStateDir();
    for (const args of [["extra"], ["--bogus"], ["--store", "xml"]]) {
      const r = await devices(s.dir, ...args);
      expect(r.exitCode).toBe(64);
      const json = await devices(s.dir, "--json", ...args);
      expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, error: { exit: 64 } });
    }
  });
});
