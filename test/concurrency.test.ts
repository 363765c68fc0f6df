import { describe, expect, it } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { binary, run } from "./support/binary.ts";
import { decodeSetupCode, newIdentity, requestCode } from "./support/requests.ts";
import { makeJsonStore, makeSqliteStore, pairedFile, readJson, readPairedRows, snapshot, tempStateDir } from "./support/stores.ts";

const PARALLEL = 20;

async function pairMany(state: string) {
  const ids = Array.from({ length: PARALLEL }, newIdentity);
  const results = await Promise.all(ids.map((id) => run(["pair", "--no-connector", "--state-dir", state, requestCode(id)])));
  for (const r of results) expect(r.exitCode).toBe(0);
  const relayIds = new Set(results.map((r) => decodeSetupCode(r.stdout).relay.id));
  expect(relayIds.size).toBe(1); // all phones share one relay id: minting is serialised
  return { ids, tokens: results.map((r) => decodeSetupCode(r.stdout).deviceToken) };
}

async function pairOnce(state: string) {
  expect((await run(["pair", "--no-connector", "--state-dir", state, requestCode(newIdentity())])).exitCode).toBe(0);
}

/** Start the binary hanging at a test hook, wait until it is there, SIGKILL it. */
async function killAt(step: string, state: string) {
  const proc = Bun.spawn([await binary(), "pair", "--no-connector", "--state-dir", state, requestCode(newIdentity())], {
    env: { PATH: process.env.PATH!, HOME: process.env.HOME!, KOKOCHAT_TEST_HANG_AT: step },
    stderr: "pipe",
    stdout: "ignore",
  });
  const reader = proc.stderr.getReader();
  let seen = "";
  while (!seen.includes(`hanging at ${step}`)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`binary exited before ${step}: ${seen}`);
    seen += new TextDecoder().decode(value);
  }
  proc.kill("SIGKILL");
  await proc.exited;
}

describe("concurrent pairings", () => {
  it(`${PARALLEL} pair processes on one SQLite store give ${PARALLEL} devices`, async () => {
    using s = tempStateDir();
    makeSqliteStore(s.dir);
    const { ids, tokens } = await pairMany(s.dir);
    const rows = readPairedRows(s.dir);
    expect(rows.map((r) => r.device_id).sort()).toEqual(ids.map((i) => i.deviceId).sort());
    for (const [i, id] of ids.entries()) expect(JSON.parse(String(rows.find((r) => r.device_id === id.deviceId)!.tokens_json)).operator.token).toBe(tokens[i]);
  });

  it(`${PARALLEL} pair processes on one JSON store give ${PARALLEL} devices`, async () => {
    using s = tempStateDir();
    makeJsonStore(s.dir, { keep: { deviceId: "keep", publicKey: "k" } });
    const { ids, tokens } = await pairMany(s.dir);
    const paired = readJson(pairedFile(s.dir));
    expect(Object.keys(paired).sort()).toEqual([...ids.map((i) => i.deviceId), "keep"].sort());
    for (const [i, id] of ids.entries()) expect(paired[id.deviceId].tokens.operator.token).toBe(tokens[i]);
  });
});

describe("crashes", () => {
  it("a pair killed while holding the JSON lock leaves a readable store and no lock that blocks the next run", async () => {
    using s = tempStateDir();
    makeJsonStore(s.dir, { keep: { deviceId: "keep", publicKey: "k" } });
    await killAt("json-locked", s.dir);
    expect(existsSync(join(s.dir, "devices", "paired.json.kokochat-lock"))).toBe(true);
    const r = await run(["pair", "--no-connector", "--state-dir", s.dir, requestCode(newIdentity())], { env: { KOKOCHAT_BUSY_TIMEOUT_MS: "5000" } });
    expect(r.exitCode).toBe(0);
    expect(Object.keys(readJson(pairedFile(s.dir)))).toHaveLength(2);
  });

  it("a pair killed after writing its temp file leaves paired.json as it was", async () => {
    using s = tempStateDir();
    makeJsonStore(s.dir, { keep: { deviceId: "keep", publicKey: "k" } });
    await pairOnce(s.dir); // relay credentials exist, so the next atomic write is paired.json's
    const before = readJson(pairedFile(s.dir));
    await killAt("atomic-rename", s.dir);
    expect(readJson(pairedFile(s.dir))).toEqual(before);
    expect(readdirSync(join(s.dir, "devices")).some((name) => name.endsWith(".tmp"))).toBe(true);
    expect((await run(["pair", "--no-connector", "--state-dir", s.dir, requestCode(newIdentity())])).exitCode).toBe(0);
    expect(readdirSync(join(s.dir, "devices")).sort()).toEqual(["paired.json"]); // the crashed run's copy of every token is gone
  });

  it("a pair killed inside its SQLite transaction leaves the database readable and unchanged", async () => {
    using s = tempStateDir();
    makeSqliteStore(s.dir);
    await killAt("sqlite-in-transaction", s.dir);
    expect(readPairedRows(s.dir)).toHaveLength(0);
    expect((await run(["pair", "--no-connector", "--state-dir", s.dir, requestCode(newIdentity())])).exitCode).toBe(0);
    expect(readPairedRows(s.dir)).toHaveLength(1);
  });

  for (const step of ["atomic-open", "atomic-write", "atomic-rename"]) {
    it(`an I/O failure at ${step} exits 74, leaves every file byte-identical and no temp file`, async () => {
      using s = tempStateDir();
      makeJsonStore(s.dir, { keep: { deviceId: "keep", publicKey: "k" } });
      await pairOnce(s.dir); // relay credentials exist, so the next atomic write is paired.json's
      const before = snapshot(s.dir);
      const r = await run(["pair", "--no-connector", "--state-dir", s.dir, requestCode(newIdentity())], { env: { KOKOCHAT_TEST_FAIL_AT: step } });
      expect(r.exitCode).toBe(74);
      expect(snapshot(s.dir)).toEqual(before);
      expect(readdirSync(join(s.dir, "devices")).sort()).toEqual(["paired.json"]);
    });
  }
});
