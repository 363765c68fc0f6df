import { describe, expect, it } from "bun:test";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempStateDir } from "./support/stores.ts";

const CHILD = join(import.meta.dir, "support", "lock-child.ts");

/** A pid that is certainly dead: a process that already exited. */
async function deadPid(): Promise<number> {
  const p = Bun.spawn(["true"]);
  await p.exited;
  return p.pid;
}

async function race(dir: string, n: number) {
  const lock = join(dir, "paired.json.kokochat-lock");
  const marker = join(dir, "inside");
  const procs = Array.from({ length: n }, () => Bun.spawn([process.execPath, CHILD, lock, marker], { stderr: "pipe", stdout: "ignore" }));
  const codes = await Promise.all(procs.map((p) => p.exited));
  const errors = await Promise.all(procs.map((p) => new Response(p.stderr).text()));
  if (codes.some((c) => c !== 0)) console.error(errors.filter(Boolean).slice(0, 2).join("\n---\n"));
  return { codes, errors: errors.filter((e) => e.includes("EEXIST")), lock };
}

describe("the JSON store's lock", () => {
  it("lets exactly one of 20 processes in at a time", async () => {
    using s = tempStateDir();
    const { codes, errors } = await race(s.dir, 20);
    expect(errors).toEqual([]);
    expect(codes.every((c) => c === 0)).toBe(true);
    expect(readdirSync(s.dir)).toEqual([]);
  });

  it("breaks a lock whose holder died, and 20 racing breakers still let one in at a time", async () => {
    for (let trial = 0; trial < 3; trial++) {
      using s = tempStateDir();
      const lock = join(s.dir, "paired.json.kokochat-lock");
      mkdirSync(lock);
      writeFileSync(join(lock, "owner.json"), JSON.stringify({ pid: await deadPid(), nonce: "dead" }));
      const { codes, errors } = await race(s.dir, 20);
      expect(errors).toEqual([]);
      expect(codes.every((c) => c === 0)).toBe(true);
      expect(existsSync(lock)).toBe(false);
    }
  }, 120_000);
});
