import { describe, expect, it } from "bun:test";
import { chownSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "./support/binary.ts";
import { foreignDevice } from "./support/devices.ts";
import { SilentPort } from "./support/silent-port.ts";
import { decodeSetupCode, newIdentity, requestCode } from "./support/requests.ts";
import { makeJsonStore, makeSqliteStore, modeOf, pairedFile, pendingFile, readJson, snapshot, tempStateDir } from "./support/stores.ts";

const pairInto = (state: string, code: string, ...flags: string[]) => run(["pair", "--no-connector", "--state-dir", state, ...flags, code]);

describe("JSON store (OpenClaw 2026.4.15–2026.6.x)", () => {
  it("creates devices/paired.json (0600, folder 0700) when the state dir has none", async () => {
    using s = tempStateDir();
    const id = newIdentity();
    const r = await pairInto(s.dir, requestCode(id));
    expect(r.exitCode).toBe(0);
    const paired = readJson(pairedFile(s.dir));
    expect(Object.keys(paired)).toEqual([id.deviceId]);
    expect(paired[id.deviceId].tokens.operator.token).toBe(decodeSetupCode(r.stdout).deviceToken);
    expect(modeOf(pairedFile(s.dir))).toBe(0o600);
    expect(modeOf(join(s.dir, "devices"))).toBe(0o700);
    expect(readdirSync(join(s.dir, "devices")).sort()).toEqual(["paired.json"]); // no temp file or lock left
  });

  it("keeps other devices, unknown fields and other pending requests; removes this device's pending ones", async () => {
    using s = tempStateDir();
    const id = newIdentity();
    makeJsonStore(
      s.dir,
      { [foreignDevice.deviceId]: foreignDevice },
      { r1: { requestId: "r1", deviceId: id.deviceId, ts: 1 }, r2: { requestId: "r2", deviceId: foreignDevice.deviceId, ts: 2, extra: true } },
    );
    const r = await pairInto(s.dir, requestCode(id));
    expect(r.exitCode).toBe(0);
    const paired = readJson(pairedFile(s.dir));
    expect(paired[foreignDevice.deviceId]).toEqual(foreignDevice);
    expect(paired[id.deviceId]).toMatchObject({
      deviceId: id.deviceId,
      publicKey: id.publicKeyB64,
      role: "operator",
      roles: ["operator"],
      clientId: "openclaw-ios",
      clientMode: "ui",
      platform: "ios",
    });
    expect(readJson(pendingFile(s.dir))).toEqual({ r2: { requestId: "r2", deviceId: foreignDevice.deviceId, ts: 2, extra: true } });
    expect(modeOf(pendingFile(s.dir))).toBe(0o600);
  });

  it("adds a new device as the last entry and leaves every byte before it as the gateway wrote it", async () => {
    using s = tempStateDir();
    const id = newIdentity();
    mkdirSync(join(s.dir, "devices"), { recursive: true });
    // The gateway's own layout (indented, CRLF here to make any re-encoding visible), then trailing blanks.
    const gatewayText = JSON.stringify({ [foreignDevice.deviceId]: foreignDevice }, null, 2).replaceAll("\n", "\r\n");
    writeFileSync(pairedFile(s.dir), `${gatewayText}\r\n\r\n`);
    const r = await pairInto(s.dir, requestCode(id));
    expect(r.exitCode).toBe(0);
    const after = readFileSync(pairedFile(s.dir), "utf8");
    expect(after.startsWith(gatewayText.slice(0, -1).trimEnd())).toBe(true);
    const paired = JSON.parse(after);
    expect(Object.keys(paired)).toEqual([foreignDevice.deviceId, id.deviceId]);
    expect(paired[foreignDevice.deviceId]).toEqual(foreignDevice);
    expect(paired[id.deviceId].tokens.operator.token).toBe(decodeSetupCode(r.stdout).deviceToken);
    expect(after.endsWith("\n}\n")).toBe(true);
  });

  it("adds a device to an empty paired.json ({})", async () => {
    using s = tempStateDir();
    const id = newIdentity();
    makeJsonStore(s.dir, {});
    expect((await pairInto(s.dir, requestCode(id))).exitCode).toBe(0);
    expect(Object.keys(readJson(pairedFile(s.dir)))).toEqual([id.deviceId]);
  });

  it("rotates the token on re-pair and keeps createdAtMs, lastUsedAtMs and the device's unknown fields", async () => {
    using s = tempStateDir();
    const id = newIdentity();
    const first = decodeSetupCode((await pairInto(s.dir, requestCode(id))).stdout);
    const paired = readJson(pairedFile(s.dir));
    paired[id.deviceId].tokens.operator.lastUsedAtMs = 99;
    paired[id.deviceId].notes = "user data";
    paired[id.deviceId].roles = ["operator", "node"];
    writeFileSync(pairedFile(s.dir), JSON.stringify(paired));
    const second = decodeSetupCode((await pairInto(s.dir, requestCode(id))).stdout);
    expect(second.deviceToken).not.toBe(first.deviceToken);
    const device = readJson(pairedFile(s.dir))[id.deviceId];
    expect(device.tokens.operator).toMatchObject({ token: second.deviceToken, lastUsedAtMs: 99, createdAtMs: paired[id.deviceId].tokens.operator.createdAtMs });
    expect(typeof device.tokens.operator.rotatedAtMs).toBe("number");
    expect(device.notes).toBe("user data");
    expect(device.roles).toEqual(["operator", "node"]);
    expect(device.createdAtMs).toBe(paired[id.deviceId].createdAtMs);
  });

  it("refuses a device paired under another key (77) and changes no byte", async () => {
    using s = tempStateDir();
    const id = newIdentity();
    makeJsonStore(s.dir, { [id.deviceId]: { ...foreignDevice, deviceId: id.deviceId, publicKey: newIdentity().publicKeyB64 } });
    const before = snapshot(s.dir);
    const r = await pairInto(s.dir, requestCode(id));
    expect(r.exitCode).toBe(77);
    expect(snapshot(s.dir)).toEqual(before);
  });

  const broken: [string, string | undefined, string | undefined][] = [
    ["paired.json that is not JSON", "{ not json", undefined],
    ["paired.json that is empty", "", undefined],
    ["paired.json that is an array", "[]", undefined],
    ["paired.json whose entry is not an object", '{"x": 5}', undefined],
    ["paired.json whose entry has a non-string key", '{"x": {"publicKey": 7}}', undefined],
    ["pending.json that is not JSON", "{}", "{{"],
    ["pending.json that is null", "{}", "null"],
  ];
  for (const [name, paired, pending] of broken) {
    it(`refuses ${name} (78) and leaves every file byte-identical`, async () => {
      using s = tempStateDir();
      makeJsonStore(s.dir, paired, pending);
      const before = snapshot(s.dir);
      const r = await pairInto(s.dir, requestCode(newIdentity()));
      expect(r.exitCode).toBe(78);
      expect(r.stderr).toMatch(/nothing was changed/);
      expect(snapshot(s.dir)).toEqual(before);
    });
  }

  it("redoes the merge when another writer replaced paired.json between our read and our rename", async () => {
    using s = tempStateDir();
    makeJsonStore(s.dir, { keep: { deviceId: "keep", publicKey: "k" } });
    const id = newIdentity();
    const r = await run(["pair", "--no-connector", "--state-dir", s.dir, requestCode(id)], { env: { KOKOCHAT_TEST_CLOBBER_AT: "json-written" } });
    expect(r.exitCode).toBe(0);
    const paired = readJson(pairedFile(s.dir));
    expect(Object.keys(paired).sort()).toEqual([id.deviceId, "keep"].sort());
    expect(paired[id.deviceId].tokens.operator.token).toBe(decodeSetupCode(r.stdout).deviceToken);
  });

  describe("a gateway that persists a stale snapshot after our write (OpenClaw 2026.5.22)", () => {
    async function pairAgainstStaleWriter(env: Record<string, string>, delayMs = 150) {
      using s = tempStateDir();
      makeJsonStore(s.dir, { keep: { deviceId: "keep", publicKey: "k" } });
      expect((await pairInto(s.dir, requestCode(newIdentity()))).exitCode).toBe(0); // relay credentials exist
      const writer = Bun.spawn([process.execPath, join(import.meta.dir, "support", "stale-writer.ts"), pairedFile(s.dir), String(delayMs)], { stdout: "pipe" });
      try {
        const out = writer.stdout.getReader();
        expect(new TextDecoder().decode((await out.read()).value)).toContain("ready");
        const id = newIdentity();
        const r = await run(["pair", "--no-connector", "--state-dir", s.dir, requestCode(id)], { env });
        // The writer did put its stale snapshot back (else these tests prove nothing), within a bound.
        expect(await Promise.race([writer.exited, Bun.sleep(10_000).then(() => "still waiting")])).toBe(0);
        return { r, paired: readJson(pairedFile(s.dir)), id };
      } finally {
        writer.kill(); // by pid; a no-op once it has exited
      }
    }

    it("keeps watching while the gateway runs and puts the device back", async () => {
      // Something listens on the gateway's port: the watch turns itself on.
      const port = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
      try {
        const { r, paired, id } = await pairAgainstStaleWriter({ KOKOCHAT_LOCAL_GATEWAY_URL: `ws://127.0.0.1:${port.port}` });
        expect(r.exitCode).toBe(0);
        expect(paired[id.deviceId]?.tokens.operator.token).toBe(decodeSetupCode(r.stdout).deviceToken);
      } finally {
        port.stop(true);
      }
    });

    it("watches for as long as KOKOCHAT_JSON_SETTLE_MS says", async () => {
      const { r, paired, id } = await pairAgainstStaleWriter({ KOKOCHAT_JSON_SETTLE_MS: "1500" });
      expect(r.exitCode).toBe(0);
      expect(paired[id.deviceId]?.tokens.operator.token).toBe(decodeSetupCode(r.stdout).deviceToken);
    });

    it("catches a stale snapshot that lands between our locked write and the watch's first look", async () => {
      using s = tempStateDir();
      makeJsonStore(s.dir, { keep: { deviceId: "keep", publicKey: "k" } });
      const id = newIdentity();
      const r = await run(["pair", "--no-connector", "--state-dir", s.dir, requestCode(id)], {
        env: { KOKOCHAT_JSON_SETTLE_MS: "300", KOKOCHAT_TEST_CLOBBER_AT: "json-unlocked" },
      });
      expect(r.exitCode).toBe(0);
      expect(readJson(pairedFile(s.dir))[id.deviceId]?.tokens.operator.token).toBe(decodeSetupCode(r.stdout).deviceToken);
    });

    it("a gateway port that never answers costs the probe's wait, not the operating system's connect timeout", async () => {
      // Without the explicit exit, the pending connect would hold `pair` open for about two minutes.
      using port = await new SilentPort().start();
      using s = tempStateDir();
      makeJsonStore(s.dir, {});
      const id = newIdentity();
      const r = await run(["pair", "--no-connector", "--state-dir", s.dir, requestCode(id)], { env: { KOKOCHAT_LOCAL_GATEWAY_URL: port.url } });
      expect(r.exitCode).toBe(0);
      expect(Object.keys(readJson(pairedFile(s.dir)))).toEqual([id.deviceId]);
    }, 30_000);

    it("(the failure it prevents) loses the device without the watch", async () => {
      const { r, paired, id } = await pairAgainstStaleWriter({ KOKOCHAT_JSON_SETTLE_MS: "0" });
      expect(r.exitCode).toBe(0);
      expect(paired[id.deviceId]).toBeUndefined();
    });
  });

  it.skipIf(process.getuid?.() !== 0)("refuses (77) to write a state dir that belongs to another user, changing nothing", async () => {
    using s = tempStateDir();
    makeJsonStore(s.dir, { keep: { deviceId: "keep", publicKey: "k" } });
    chownSync(s.dir, 1000, 1000);
    const before = snapshot(s.dir);
    const r = await pairInto(s.dir, requestCode(newIdentity()));
    expect(r.exitCode).toBe(77);
    expect(r.stderr).toContain("belongs to uid 1000");
    expect(snapshot(s.dir)).toEqual(before);
  });

  it("says I/O error (74) when devices/ is a file, changing nothing", async () => {
    using s = tempStateDir();
    writeFileSync(join(s.dir, "devices"), "oops");
    const before = snapshot(s.dir);
    const r = await pairInto(s.dir, requestCode(newIdentity()));
    expect(r.exitCode).toBe(74);
    expect(snapshot(s.dir)).toEqual(before);
  });

  it("never writes JSON for a gateway that reads SQLite: --store json with openclaw.sqlite present is refused (77)", async () => {
    using s = tempStateDir();
    makeSqliteStore(s.dir);
    const before = snapshot(s.dir);
    const r = await pairInto(s.dir, requestCode(newIdentity()), "--store", "json");
    expect(r.exitCode).toBe(77);
    expect(r.stderr).toContain("ignores devices/paired.json");
    expect(snapshot(s.dir)).toEqual(before);
  });

  it("auto: a 2026.7+ config without the database yet says the store is not there (69)", async () => {
    using s = tempStateDir();
    writeFileSync(join(s.dir, "openclaw.json"), '// JSON5, as real configs are\n{ meta: { lastTouchedVersion: "2026.9.6" }, gateway: { port: 18789, }, }\n');
    const before = snapshot(s.dir);
    const r = await pairInto(s.dir, requestCode(newIdentity()));
    expect(r.exitCode).toBe(69);
    expect(snapshot(s.dir)).toEqual(before);
  });

  it("auto: an older config pairs into the JSON store", async () => {
    using s = tempStateDir();
    writeFileSync(join(s.dir, "openclaw.json"), '{ meta: { lastTouchedVersion: "2026.5.22" } }');
    const r = await pairInto(s.dir, requestCode(newIdentity()), "--json");
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout).store.backend).toBe("json");
  });

  it("--store sqlite without the database says it is not there (69)", async () => {
    using s = tempStateDir();
    mkdirSync(join(s.dir, "devices"));
    const r = await pairInto(s.dir, requestCode(newIdentity()), "--store", "sqlite");
    expect(r.exitCode).toBe(69);
  });
});
