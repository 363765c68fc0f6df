/**
 * The compiled host executable as a user gets it: no bun or node anywhere on
 * PATH, an empty environment, a hostile working directory.
 */
import { describe, expect, it } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildTarget, hostTarget } from "../../build.ts";
import { executableKind } from "../../build/headers.ts";
import pkg from "../../package.json" with { type: "json" };
import { binary } from "../support/binary.ts";
import { decodeSetupCode, newIdentity, requestCode } from "../support/requests.ts";
import { tempStateDir } from "../support/stores.ts";

/** A temp folder holding only a copy of the executable. */
async function isolatedBinary() {
  const dir = mkdtempSync(join(tmpdir(), "kokochat-isolated-"));
  const copy = join(dir, "kokochat-pairing");
  copyFileSync(await binary(), copy);
  return { dir, copy, [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Run with exactly this environment (the equivalent of `env -i`), nothing inherited. */
function runBare(argv: string[], options: { cwd: string; env?: Record<string, string> }) {
  const p = Bun.spawnSync(argv, { cwd: options.cwd, env: options.env ?? {}, stdin: "ignore" });
  return { exitCode: p.exitCode, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

/** Generous: the first test also compiles the executable, and CI machines are small. */
const SLOW_MS = 60_000;

describe("the host executable", () => {
  it("is a native executable for this machine", async () => {
    const kind = executableKind(await Bun.file(await binary()).bytes());
    const host = hostTarget();
    expect(kind.format).toBe(host.os === "darwin" ? "macho" : host.os === "windows" ? "pe" : "elf");
    expect(kind.arch).toBe(host.arch);
  }, SLOW_MS);

  it("answers --version with the package version under an empty environment (no PATH, no HOME)", async () => {
    await using b = await isolatedBinary();
    const r = runBare([b.copy, "--version"], { cwd: b.dir });
    expect(r).toEqual({ exitCode: 0, stdout: `${pkg.version}\n`, stderr: "" });
  }, SLOW_MS);

  it("pairs a device into a temp JSON store under an empty environment, printing one setup code", async () => {
    await using b = await isolatedBinary();
    using state = tempStateDir();
    const id = newIdentity();
    const r = runBare([b.copy, "pair", "--no-connector", "--state-dir", state.dir, "--store", "json", requestCode(id)], { cwd: b.dir });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^[A-Za-z0-9_-]+\n$/);
    const code = decodeSetupCode(r.stdout);
    expect(code.deviceId).toBe(id.deviceId);
    expect(code.relay.mode).toBe("gateway-tunnel");
    const paired = JSON.parse(readFileSync(join(state.dir, "devices", "paired.json"), "utf8"));
    expect(paired[id.deviceId].publicKey).toBe(id.publicKeyB64);
    expect(paired[id.deviceId].tokens.operator.token).toBe(code.deviceToken);
    expect(r.stderr).not.toContain(code.deviceToken);
  }, SLOW_MS);

  it("ignores a hostile .env, bunfig.toml, tsconfig.json and package.json in its working directory", async () => {
    await using b = await isolatedBinary();
    using state = tempStateDir();
    const cwd = mkdtempSync(join(tmpdir(), "kokochat-hostile-cwd-"));
    try {
      writeFileSync(join(cwd, ".env"), "KOKOCHAT_RELAY_URL=wss://evil.invalid/relay\nOPENCLAW_STATE_DIR=/nonexistent-evil\n");
      writeFileSync(join(cwd, "bunfig.toml"), 'preload = ["./evil.js"]\n[define]\nKOKOCHAT_VERSION = "\\"evil\\""\n');
      writeFileSync(join(cwd, "evil.js"), 'require("node:fs").writeFileSync(__dirname + "/PRELOADED", "x");\n');
      writeFileSync(join(cwd, "tsconfig.json"), '{"compilerOptions":{"paths":{"*":["./evil/*"]}}}\n');
      writeFileSync(join(cwd, "package.json"), '{"type":"commonjs","imports":{"#x":"./evil.js"}}\n');
      const version = runBare([b.copy, "--version"], { cwd });
      expect(version.stdout).toBe(`${pkg.version}\n`);
      const r = runBare([b.copy, "pair", "--no-connector", "--state-dir", state.dir, "--store", "json", requestCode(newIdentity())], { cwd });
      expect(r.exitCode).toBe(0);
      expect(decodeSetupCode(r.stdout).url).not.toContain("evil");
      expect(r.stderr).not.toContain("evil");
      expect(existsSync(join(cwd, "PRELOADED"))).toBe(false);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  }, SLOW_MS);

  it("is byte-identical when built again into another folder", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kokochat-rebuild-"));
    try {
      const again = await buildTarget(hostTarget(), dir);
      const [a, b] = await Promise.all([Bun.file(await binary()).bytes(), Bun.file(again).bytes()]);
      expect(b.length).toBe(a.length);
      expect(Bun.hash(b)).toBe(Bun.hash(a));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, SLOW_MS);

  it("embeds no path of the machine that built it", async () => {
    const bytes = Buffer.from(await Bun.file(await binary()).bytes());
    const root = join(import.meta.dir, "../..");
    expect(bytes.indexOf(root)).toBe(-1);
  }, SLOW_MS);
});
