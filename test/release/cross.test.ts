/**
 * One cross target, built the way the release builds it (the pinned
 * @oven/bun runtime via executablePath), checked by its header, run under
 * qemu-user when that is installed, and built again with no network at all.
 */
import { beforeAll, describe, expect, it } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Target, buildTarget, hostTarget, targetId } from "../../build.ts";
import { executableKind } from "../../build/headers.ts";
import pkg from "../../package.json" with { type: "json" };
import { which } from "../support/archives.ts";
import { itWhen } from "../support/skip.ts";
import { decodeSetupCode, newIdentity, requestCode } from "../support/requests.ts";
import { tempStateDir } from "../support/stores.ts";

const host = hostTarget();
/** The other Linux CPU: arm64 from an x64 machine, x64 from an arm64 one. */
const cross: Target = { os: "linux", arch: host.os === "linux" && host.arch === "arm64" ? "x64" : "arm64" };
const qemuArch = cross.arch === "arm64" ? "aarch64" : "x86_64";
const sysroot = `/usr/${qemuArch}-linux-gnu`;
const qemu = which(`qemu-${qemuArch}`) ?? which(`qemu-${qemuArch}-static`);
const canEmulate = host.os === "linux" && !!qemu && existsSync(join(sysroot, "lib"));
const whyNoEmulation = !qemu
  ? `no qemu-${qemuArch} on PATH (Debian: apt-get install qemu-user libc6-${cross.arch}-cross)`
  : `no ${cross.arch} C library at ${sysroot} (Debian: apt-get install libc6-${cross.arch}-cross)`;
const canIsolateNetwork =
  host.os === "linux" && !!which("unshare") && Bun.spawnSync(["unshare", "-n", "true"], { stderr: "ignore" }).exitCode === 0;

let dir: string;
let built: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kokochat-cross-"));
  built = await buildTarget(cross, dir);
}, 180_000);

/** Emulation is slow: a first pair takes about 15 s under qemu-user on a 2-core machine. */
const EMULATED_MS = 90_000;

async function emulate(args: string[]) {
  const p = Bun.spawn([qemu!, "-L", sysroot, built, ...args], { env: {}, cwd: dir, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { exitCode, stdout, stderr };
}

describe(`the ${targetId(cross)} executable`, () => {
  it("is a 64-bit little-endian ELF for that CPU", async () => {
    const kind = executableKind(await Bun.file(built).bytes());
    expect(kind).toEqual({ format: "elf", arch: cross.arch, detail: "64-bit LSB" });
  });

  it("carries our program, not a bare runtime", () => {
    const bytes = readFileSync(built);
    expect(bytes.indexOf("---- Bun! ----")).toBeGreaterThan(0);
    expect(bytes.indexOf("approve a KokoChat phone on this OpenClaw gateway")).toBeGreaterThan(0);
  });

  itWhen(canEmulate, whyNoEmulation)("answers --version under qemu-user with an empty environment", async () => {
    expect(await emulate(["--version"])).toEqual({ exitCode: 0, stdout: `${pkg.version}\n`, stderr: "" });
  }, EMULATED_MS);

  itWhen(canEmulate, whyNoEmulation)("pairs a device into a temp JSON store under qemu-user", async () => {
    using state = tempStateDir();
    const id = newIdentity();
    const r = await emulate(["pair", "--no-connector", "--state-dir", state.dir, "--store", "json", requestCode(id)]);
    expect(r.exitCode).toBe(0);
    expect(decodeSetupCode(r.stdout).deviceId).toBe(id.deviceId);
    expect(JSON.parse(readFileSync(join(state.dir, "devices", "paired.json"), "utf8"))[id.deviceId].publicKey).toBe(id.publicKeyB64);
  }, EMULATED_MS);

  itWhen(canIsolateNetwork, "cannot make a network namespace here (unshare -n)")(
    "builds again, byte-identical, with no network and an empty HOME: Bun fetches nothing",
    () => {
      const home = mkdtempSync(join(tmpdir(), "kokochat-empty-home-"));
      const out = join(dir, "offline");
      try {
        const script = `import { buildTarget } from ${JSON.stringify(join(import.meta.dir, "../../build.ts"))};
await buildTarget(${JSON.stringify(cross)}, ${JSON.stringify(out)});`;
        const p = Bun.spawnSync(["unshare", "-n", process.execPath, "-e", script], {
          env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, npm_config_offline: "true" },
          stderr: "pipe",
        });
        expect(p.stderr.toString()).toBe("");
        expect(p.exitCode).toBe(0);
        const again = readFileSync(join(out, `kokochat-pairing-${targetId(cross)}`));
        expect(Bun.hash(again)).toBe(Bun.hash(readFileSync(built)));
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
    },
    120_000,
  );
});
