import { describe, expect, it } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TARGETS, binaryName } from "../../build.ts";
import { installBlock, skillMarkdown } from "../../build/skill.ts";
import pkg from "../../package.json" with { type: "json" };
import { which } from "../support/archives.ts";
import { itWhen } from "../support/skip.ts";

const ROOT = join(import.meta.dir, "../..");
const source = readFileSync(join(ROOT, "SKILL.md"), "utf8");

type Install = { id: string; kind: string; label: string; os: string[]; url: string; sha256: string; archive: string; extract: boolean; bins: string[] };
type Front = {
  name: string;
  version: string;
  description: string;
  metadata: { openclaw: { emoji: string; os: string[]; requires: { bins: string[] }; install?: Install[] } };
};

function frontmatter(markdown: string): Front {
  const match = /^---\n([\s\S]*?)\n---\n/.exec(markdown);
  if (!match) throw new Error("no frontmatter");
  return Bun.YAML.parse(match[1]!) as Front;
}

describe("SKILL.md", () => {
  it("keeps the seed's fields, at this package's version, and needs only the launcher", () => {
    const f = frontmatter(source);
    expect(f.name).toBe("kokochat-pairing");
    expect(f.version).toBe(pkg.version);
    expect(f.metadata.openclaw.emoji).toBe("📱");
    expect(f.metadata.openclaw.requires.bins).toEqual(["kokochat-pairing"]);
    expect(f.metadata.openclaw.os).toEqual(["darwin", "linux", "win32"]);
    expect(f.metadata.openclaw.install).toBeUndefined();
    expect(source).not.toContain("node ./generate-kokochat-code.mjs");
  });

  it("keeps the seed's output format and Do-Nots", () => {
    expect(source).toContain("这是新的 KokoChat 连接码:");
    for (const line of [
      "Do not run `openclaw qr` for KokoChat",
      "Do not print the raw gateway auth token.",
      "Do not generate a token-only setup code.",
      "Do not approve arbitrary scopes outside the request",
    ])
      expect(source).toContain(line);
  });

  it("with a release base URL gets one download installer per archive, shaped as SPEC §8 asks", () => {
    const hashes = TARGETS.map((t, i) => ({ target: t, sha256: String(i).repeat(64) }));
    const f = frontmatter(skillMarkdown(source, installBlock(hashes, "https://releases.test/v1", "1.2.3")));
    const install = f.metadata.openclaw.install!;
    expect(install).toHaveLength(TARGETS.length);
    expect(f.metadata.openclaw.requires.bins).toEqual(["kokochat-pairing"]);
    for (const [i, entry] of install.entries()) {
      const t = TARGETS[i]!;
      expect(entry.kind).toBe("download");
      expect(entry.url).toMatch(/^https:\/\/releases\.test\/v1\/kokochat-pairing-[a-z0-9-]+\.(tar\.gz|zip)$/);
      expect(entry.url.endsWith(t.os === "windows" ? ".zip" : ".tar.gz")).toBe(true);
      expect(entry.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(entry.archive).toBe(t.os === "windows" ? "zip" : "tar.gz");
      expect(entry.os).toEqual([{ linux: "linux", darwin: "darwin", windows: "win32" }[t.os]]);
      expect(entry.label).toContain(t.arch);
      expect(entry.bins).toEqual(["kokochat-pairing"]);
    }
    expect(new Set(install.map((e) => e.id)).size).toBe(install.length);
  });
});

/** A skill folder with fake executables that report their own name, and a fake uname/sysctl. */
function launcherFixture(binaries: string[]) {
  const dir = mkdtempSync(join(tmpdir(), "kokochat-launcher-"));
  const skill = join(dir, "skill dir");
  const bin = join(dir, "fakebin");
  mkdirSync(skill);
  mkdirSync(bin);
  writeFileSync(join(skill, "kokochat-pairing"), readFileSync(join(ROOT, "skill/kokochat-pairing")));
  chmodSync(join(skill, "kokochat-pairing"), 0o755);
  for (const name of binaries) {
    writeFileSync(
      join(skill, name),
      `#!/bin/sh\necho "${name}"\nfor a in "$@"; do printf '[%s]\\n' "$a"; done\n[ -t 0 ] || cat\nexit \${FAKE_EXIT:-0}\n`,
    );
    chmodSync(join(skill, name), 0o755);
  }
  writeFileSync(join(bin, "uname"), `#!/bin/sh\ncase "$1" in -s) echo "$FAKE_S" ;; -m) echo "$FAKE_M" ;; *) echo "$FAKE_S" ;; esac\n`);
  writeFileSync(join(bin, "sysctl"), `#!/bin/sh\n[ -n "\${FAKE_TRANSLATED:-}" ] && echo "$FAKE_TRANSLATED"\n`);
  chmodSync(join(bin, "uname"), 0o755);
  chmodSync(join(bin, "sysctl"), 0o755);
  const run = (s: string, m: string, args: string[] = [], extra: Record<string, string> = {}, stdin?: string) => {
    const p = Bun.spawnSync([join(skill, "kokochat-pairing"), ...args], {
      env: { PATH: `${bin}:/usr/bin:/bin`, FAKE_S: s, FAKE_M: m, ...extra },
      stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin),
    });
    return { exitCode: p.exitCode, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
  };
  return { dir, skill, run, [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) };
}

const hasAvx2 = (() => {
  try {
    return /\bavx2\b/.test(readFileSync("/proc/cpuinfo", "utf8"));
  } catch {
    return true;
  }
})();

describe("the POSIX launcher", () => {
  const all = TARGETS.map(binaryName);

  itWhen(!!which("sh"), "no sh")("runs the executable for each platform uname reports", () => {
    using f = launcherFixture(all);
    const cases: [string, string, string][] = [
      ["Linux", "x86_64", hasAvx2 ? "kokochat-pairing-linux-x64" : "kokochat-pairing-linux-x64-baseline"],
      ["Linux", "aarch64", "kokochat-pairing-linux-arm64"],
      ["Linux", "arm64", "kokochat-pairing-linux-arm64"],
      ["Darwin", "arm64", "kokochat-pairing-darwin-arm64"],
      ["Darwin", "x86_64", "kokochat-pairing-darwin-x64"],
      ["MINGW64_NT-10.0-19045", "x86_64", "kokochat-pairing-windows-x64.exe"],
      ["MSYS_NT-10.0", "x86_64", "kokochat-pairing-windows-x64.exe"],
    ];
    for (const [s, m, expected] of cases) {
      const r = f.run(s, m);
      expect({ s, m, out: r.stdout.split("\n")[0], code: r.exitCode }).toEqual({ s, m, out: expected, code: 0 });
    }
  });

  it("prefers the native arm64 build in an x86_64 shell under Rosetta", () => {
    using f = launcherFixture(all);
    expect(f.run("Darwin", "x86_64", [], { FAKE_TRANSLATED: "1" }).stdout).toStartWith("kokochat-pairing-darwin-arm64\n");
    expect(f.run("Darwin", "x86_64", [], { FAKE_TRANSLATED: "0" }).stdout).toStartWith("kokochat-pairing-darwin-x64\n");
  });

  it("falls back to the baseline build when the linux-x64 one is absent", () => {
    using f = launcherFixture(all.filter((n) => n !== "kokochat-pairing-linux-x64"));
    expect(f.run("Linux", "x86_64").stdout).toStartWith("kokochat-pairing-linux-x64-baseline\n");
  });

  it("passes arguments verbatim, stdin through, and the exit code back", () => {
    using f = launcherFixture(all);
    const r = f.run("Linux", "aarch64", ["pair", "a b", "it's", "$HOME", ""], { FAKE_EXIT: "65" }, "the message\n");
    expect(r.stdout).toBe("kokochat-pairing-linux-arm64\n[pair]\n[a b]\n[it's]\n[$HOME]\n[]\nthe message\n");
    expect(r.exitCode).toBe(65);
  });

  it("exits 71 with a message naming the platform when there is no build for it", () => {
    using f = launcherFixture(all);
    for (const [s, m] of [["FreeBSD", "amd64"], ["Linux", "armv7l"], ["SunOS", "i86pc"], ["Linux", "riscv64"]] as const) {
      const r = f.run(s, m);
      expect(r.exitCode).toBe(71);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain(`no build for this platform (${s} ${m})`);
    }
  });

  it("exits 71 saying which file is missing when the bundle lacks this platform's executable", () => {
    using f = launcherFixture(["kokochat-pairing-linux-x64"]);
    const r = f.run("Darwin", "arm64");
    expect(r.exitCode).toBe(71);
    expect(r.stderr).toContain("kokochat-pairing-darwin-arm64 is missing");
  });

  it("works when run by a relative path from its own directory", () => {
    using f = launcherFixture(all);
    const p = Bun.spawnSync(["./kokochat-pairing", "--version"], {
      cwd: f.skill,
      env: { PATH: `${join(f.dir, "fakebin")}:/usr/bin:/bin`, FAKE_S: "Linux", FAKE_M: "aarch64" },
    });
    expect(p.stdout.toString()).toBe("kokochat-pairing-linux-arm64\n[--version]\n");
  });
});

describe("the Windows launcher", () => {
  const cmd = readFileSync(join(ROOT, "skill/kokochat-pairing.cmd"), "utf8");
  it("uses CRLF line endings, runs the x64 exe beside it with all arguments, and documents exit 71", () => {
    expect(cmd.split("\r\n").length).toBeGreaterThan(5);
    expect(cmd.replace(/\r\n/g, "")).not.toContain("\n");
    expect(cmd).toContain('set "KOKOCHAT_EXE=%~dp0kokochat-pairing-windows-x64.exe"');
    expect(cmd).toContain('"%KOKOCHAT_EXE%" %*');
    expect(cmd).toContain("exit /b %ERRORLEVEL%");
    expect(cmd).toContain("exit /b 71");
  });
});
