import { describe, expect, it } from "bun:test";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CliError } from "../src/errors.ts";
import { RENAME_RETRY_MS, renameWithRetry, type RenameDeps } from "../src/store/atomic.ts";
import { withLock } from "../src/store/lock.ts";
import { tempStateDir } from "./support/stores.ts";

/** A fake clock and a rename that fails with `code` for the first `failures` calls. */
function fakeRename(windows: boolean, code: string, failures: number) {
  let now = 0;
  const calls: string[] = [];
  const sleeps: number[] = [];
  const deps: RenameDeps = {
    windows,
    now: () => now,
    sleep: (ms) => {
      sleeps.push(ms);
      now += ms;
    },
    rename: (from, to) => {
      calls.push(`${from}->${to}`);
      if (calls.length <= failures) throw Object.assign(new Error(`${code}: held`), { code });
    },
  };
  return { deps, calls, sleeps, elapsed: () => now };
}

describe("rename over the target on Windows", () => {
  for (const code of ["EPERM", "EBUSY", "EACCES"]) {
    it(`retries ${code} (the target held open for a moment) and then succeeds`, () => {
      const f = fakeRename(true, code, 3);
      renameWithRetry("t.tmp", "paired.json", f.deps);
      expect(f.calls).toHaveLength(4);
      expect(f.sleeps).toEqual([10, 20, 40]);
    });
  }

  it(`gives up as busy (75) after ${RENAME_RETRY_MS} ms, delays doubling and capped, never copying`, () => {
    const f = fakeRename(true, "EPERM", Infinity);
    let error: unknown;
    try {
      renameWithRetry("t.tmp", "paired.json", f.deps);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(75);
    expect((error as CliError).message).toContain("paired.json is held open by another program");
    expect(f.elapsed()).toBe(RENAME_RETRY_MS);
    expect(Math.max(...f.sleeps)).toBeLessThanOrEqual(250);
    expect(f.calls.every((c) => c === "t.tmp->paired.json")).toBe(true); // only renames were tried
    expect(f.calls.length).toBeLessThan(20);
  });

  it("does not retry other errors (ENOENT, ENOSPC)", () => {
    for (const code of ["ENOENT", "ENOSPC"]) {
      const f = fakeRename(true, code, 1);
      expect(() => renameWithRetry("a", "b", f.deps)).toThrow(`${code}: held`);
      expect(f.calls).toHaveLength(1);
    }
  });

  it("does not retry anywhere but Windows: there an EPERM is final", () => {
    const f = fakeRename(false, "EPERM", 1);
    expect(() => renameWithRetry("a", "b", f.deps)).toThrow("EPERM: held");
    expect(f.calls).toHaveLength(1);
    expect(f.sleeps).toEqual([]);
  });
});

describe("the lock folder", () => {
  it("is removed file by file when released (no recursive delete), leaving the folder as it was", async () => {
    using s = tempStateDir();
    const lock = join(s.dir, "x.lock");
    const held = await withLock(lock, "x", () => {
      expect(readdirSync(lock)).toEqual(["owner.json"]);
      writeFileSync(join(lock, "extra"), "left by an older version");
      return "ran";
    });
    expect(held).toBe("ran"); // the checks inside did run
    expect(readdirSync(s.dir)).toEqual([]);
  });

  it("breaks a lock whose holder is dead, quickly", async () => {
    using s = tempStateDir();
    const lock = join(s.dir, "x.lock");
    mkdirSync(lock);
    writeFileSync(join(lock, "owner.json"), JSON.stringify({ pid: 2 ** 22 + 7, nonce: "dead" }));
    const t0 = Date.now();
    expect(await withLock(lock, "x", () => "ran", { timeoutMs: 5000 })).toBe("ran");
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(readdirSync(s.dir)).toEqual([]);
  });

  it("waits for a live holder and then says busy (75)", async () => {
    using s = tempStateDir();
    const lock = join(s.dir, "x.lock");
    mkdirSync(lock);
    writeFileSync(join(lock, "owner.json"), JSON.stringify({ pid: process.pid, nonce: "alive" }));
    await expect(withLock(lock, "x", () => "ran", { timeoutMs: 300 })).rejects.toMatchObject({ code: "busy" });
    expect(existsSync(join(lock, "owner.json"))).toBe(true);
  });

  it("a dead holder's lock that another run is breaking is waited on, not spun on, then busy (75) at the deadline", async () => {
    using s = tempStateDir();
    const lock = join(s.dir, "x.lock");
    mkdirSync(lock);
    writeFileSync(join(lock, "owner.json"), JSON.stringify({ pid: 2 ** 22 + 7, nonce: "dead" }));
    mkdirSync(`${lock}.break`); // a breaker at work (fresh guard)
    const cpu = process.cpuUsage();
    const t0 = Date.now();
    await expect(withLock(lock, "x", () => "ran", { timeoutMs: 500 })).rejects.toMatchObject({ code: "busy" });
    const wall = Date.now() - t0;
    const used = process.cpuUsage(cpu);
    expect(wall).toBeLessThan(3000);
    expect((used.user + used.system) / 1000).toBeLessThan(wall / 2); // sleeping between looks, not spinning
  });
});
