/**
 * What `npm run build` left in dist/: every executable of the right format
 * and CPU, archives holding exactly it, checksums that verify, and a skill
 * bundle that runs. Skipped, saying so, when dist/ has not been built.
 */
import { describe, expect } from "bun:test";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { TARGETS, archiveName, archivedBinaryName, binaryName, hostTarget, sha256, targetId } from "../../build.ts";
import { executableKind, machoCodeSignature } from "../../build/headers.ts";
import { adhocSign } from "../../build/macho-sign.ts";
import { RUNTIME_CACHE } from "../../build/runtimes.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import pkg from "../../package.json" with { type: "json" };
import { readTarGz, readZip } from "../support/archives.ts";
import { itWhen } from "../support/skip.ts";

const DIST = join(import.meta.dir, "../../dist");
const SKILL = join(DIST, "skill", "kokochat-pairing");
const built = existsSync(join(DIST, "SHA256SUMS"));
const present = TARGETS.filter((t) => existsSync(join(DIST, binaryName(t))));
const notBuilt = "dist/ not built: run `npm run build` (all targets) before `bun test`";
const FORMAT = { linux: "elf", darwin: "macho", windows: "pe" } as const;
/** OpenClaw refuses a download over 256 MiB (SPEC §8). */
const DOWNLOAD_LIMIT = 256 * 2 ** 20;

function parseSums(text: string) {
  return text
    .trimEnd()
    .split("\n")
    .map((line) => {
      const m = /^([0-9a-f]{64}) {2}([^/\\]+)$/.exec(line);
      if (!m) throw new Error(`not a sha256sum line: ${line}`);
      return { hash: m[1]!, name: m[2]! };
    });
}

describe("dist/ after npm run build", () => {
  itWhen(built, notBuilt)("SHA256SUMS lists every executable and archive there, and each verifies", () => {
    const sums = parseSums(readFileSync(join(DIST, "SHA256SUMS"), "utf8"));
    const expected = present.flatMap((t) => [binaryName(t), archiveName(t)]).sort();
    expect(sums.map((s) => s.name)).toEqual(expected);
    for (const s of sums) expect({ name: s.name, hash: sha256(readFileSync(join(DIST, s.name))) }).toEqual(s);
  });

  for (const t of TARGETS) {
    const label = `${targetId(t)} is ${FORMAT[t.os]} for ${t.arch}, carries our program, and its archive holds exactly it`;
    itWhen(built && present.includes(t), `${notBuilt} (${binaryName(t)} missing)`)(label, async () => {
      const bytes = readFileSync(join(DIST, binaryName(t)));
      const kind = executableKind(bytes);
      expect({ format: kind.format, arch: kind.arch }).toEqual({ format: FORMAT[t.os], arch: t.arch });
      if (t.os === "windows") expect(kind.detail).toBe("PE32+ console");
      if (t.os === "darwin") {
        expect(kind.detail).toBe("filetype 2"); // MH_EXECUTE
        // What macOS checks on launch: an ad-hoc signature whose page hashes match the bytes.
        expect(machoCodeSignature(bytes)).toMatchObject({ signed: true, adhoc: true, badPages: 0, hashType: 2 });
      }
      expect(bytes.indexOf("approve a KokoChat phone on this OpenClaw gateway")).toBeGreaterThan(0);
      const archive = readFileSync(join(DIST, archiveName(t)));
      expect(archive.length).toBeLessThan(DOWNLOAD_LIMIT);
      const entries = t.os === "windows" ? readZip(archive) : await readTarGz(archive);
      expect(entries.map((e) => [e.name, e.mode])).toEqual([[archivedBinaryName(t), 0o755]]);
      expect(sha256(entries[0]!.data)).toBe(sha256(bytes));
    }, 60_000);
  }

  const armRuntime = join(RUNTIME_CACHE, "darwin-arm64", "bun");
  itWhen(existsSync(armRuntime), `no cached darwin-arm64 runtime at ${armRuntime} (${notBuilt})`)(
    "our ad-hoc signer rewrites Bun's own darwin-arm64 signature byte for byte",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "kokochat-sign-"));
      try {
        const outfile = join(dir, "raw");
        const out = await Bun.build({
          entrypoints: [join(import.meta.dir, "../../src/main.ts")],
          minify: true,
          compile: { target: "bun-darwin-arm64", outfile, executablePath: armRuntime },
        });
        expect(out.success).toBe(true);
        const raw = readFileSync(outfile);
        expect(machoCodeSignature(raw)).toMatchObject({ signed: true, adhoc: true, badPages: 0 });
        expect(Buffer.compare(Buffer.from(adhocSign(raw)), raw)).toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    60_000,
  );

  itWhen(built, notBuilt)("the skill bundle holds SKILL.md, both launchers, the executables and their checksums", () => {
    const names = readdirSync(SKILL).sort();
    expect(names).toEqual(["SHA256SUMS", "SKILL.md", "kokochat-pairing", "kokochat-pairing.cmd", ...present.map(binaryName)].sort());
    expect(statSync(join(SKILL, "kokochat-pairing")).mode & 0o111).toBe(0o111);
    const sums = parseSums(readFileSync(join(SKILL, "SHA256SUMS"), "utf8"));
    expect(sums.map((s) => s.name)).toEqual(present.map(binaryName).sort());
    for (const s of sums) expect(sha256(readFileSync(join(SKILL, s.name)))).toBe(s.hash);
    expect(readFileSync(join(SKILL, "SKILL.md"), "utf8")).toStartWith(`---\nname: kokochat-pairing\nversion: ${pkg.version}\n`);
  });

  const host = hostTarget();
  itWhen(built && present.some((t) => targetId(t) === targetId(host)) && host.os !== "windows", `${notBuilt} (no host executable)`)(
    "the bundle's launcher runs the real host executable",
    () => {
      const p = Bun.spawnSync([join(SKILL, "kokochat-pairing"), "--version"], { env: { PATH: "/usr/bin:/bin" }, cwd: "/" });
      expect({ code: p.exitCode, out: p.stdout.toString() }).toEqual({ code: 0, out: `${pkg.version}\n` });
    },
    30_000,
  );
});
