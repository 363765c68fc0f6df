/**
 * Build the kokochat-pairing release: one executable per platform, an archive
 * of each, dist/SHA256SUMS, and the OpenClaw skill bundle.
 *
 *   bun build.ts                 every target in TARGETS (npm run build)
 *   bun build.ts --host          only this machine's target
 *   bun build.ts --target ID …   only these targets (ids as in targetId: linux-arm64, …)
 *   options: --out DIR (default dist), --release-base-url URL (or
 *   KOKOCHAT_RELEASE_BASE_URL): where the archives will be published; when
 *   given, the bundled SKILL.md gets one `download` installer per archive.
 *
 * Outputs, for each target t:
 *   dist/kokochat-pairing-<os>-<arch>[-baseline][.exe]      the executable
 *   dist/kokochat-pairing-<os>-<arch>[-baseline].tar.gz|zip  it, named kokochat-pairing[.exe]
 *   dist/SHA256SUMS                                          sha256sum format, executables and archives
 *   dist/skill/kokochat-pairing/                             SKILL.md, launchers, executables, SHA256SUMS
 *
 * macOS executables are signed ad hoc (build/macho-sign.ts).
 * Every executable is minified, has the version defined in at build time, and
 * never autoloads .env, bunfig.toml, tsconfig.json or package.json from the
 * directory it runs in. Cross targets are made from the pinned
 * @oven/bun-<target> runtime (build/runtimes.ts), so nothing is downloaded by
 * Bun itself and a warm cache builds offline.
 */
import pkg from "./package.json" with { type: "json" };
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { tarGz, zip } from "./build/archive.ts";
import { adhocSign } from "./build/macho-sign.ts";
import { BUN_VERSION, bunRuntimes } from "./build/runtimes.ts";
import { assembleSkill } from "./build/skill.ts";

export type Target = { os: "linux" | "darwin" | "windows"; arch: "x64" | "arm64"; baseline?: boolean };

/** The one table of release targets. */
export const TARGETS: readonly Target[] = [
  { os: "linux", arch: "x64" },
  { os: "linux", arch: "x64", baseline: true },
  { os: "linux", arch: "arm64" },
  { os: "darwin", arch: "x64" },
  { os: "darwin", arch: "arm64" },
  { os: "windows", arch: "x64" },
];

export const NAME = "kokochat-pairing";

/** `<os>-<arch>[-baseline]`: the one naming rule every file name derives from. */
export const targetId = (t: Target) => `${t.os}-${t.arch}${t.baseline ? "-baseline" : ""}`;
export const binaryName = (t: Target) => `${NAME}-${targetId(t)}${t.os === "windows" ? ".exe" : ""}`;
export const archiveName = (t: Target) => `${NAME}-${targetId(t)}.${t.os === "windows" ? "zip" : "tar.gz"}`;
/** The executable's name inside the archive. */
export const archivedBinaryName = (t: Target) => `${NAME}${t.os === "windows" ? ".exe" : ""}`;

export const hostTarget = (): Target => ({
  os: process.platform === "win32" ? "windows" : (process.platform as "linux" | "darwin"),
  arch: process.arch === "arm64" ? "arm64" : "x64",
});

const isHost = (t: Target) => targetId(t) === targetId(hostTarget());

/** The version string compiled into the executables. */
export const VERSION = pkg.version;

export function assertPinnedBun(): void {
  const pinned = pkg.devDependencies.bun;
  if (Bun.version !== pinned || BUN_VERSION !== pinned)
    throw new Error(
      `build needs bun ${pinned} (package.json) with runtimes pinned for it (build/runtimes.ts ${BUN_VERSION}); ` +
        `this is bun ${Bun.version}: run npm ci and use node_modules/.bin/bun`,
    );
}

/**
 * How every release executable is bundled (bench/startup.ts builds its probe
 * the same way). Startup is most of a run: ship JSC bytecode (no parse at
 * launch) and split lazily imported commands into their own chunks, so
 * `--version` and `--help` never load the validator or the stores (README,
 * "Performance").
 */
export const BUNDLE_OPTIONS = { minify: true, bytecode: true, format: "esm", splitting: true } as const;

/** The executable never autoloads .env, bunfig.toml, tsconfig.json or package.json from where it runs. */
export const COMPILE_OPTIONS = { autoloadDotenv: false, autoloadBunfig: false, autoloadTsconfig: false, autoloadPackageJson: false } as const;

export type BuildOptions = { executablePath?: string };

/**
 * Compile src/main.ts for one target into outDir; returns the file's path.
 * A cross target's runtime comes from the pinned npm package unless
 * options.executablePath names one.
 */
export async function buildTarget(t: Target, outDir = "dist", options: BuildOptions = {}): Promise<string> {
  const outfile = join(outDir, binaryName(t));
  const executablePath =
    options.executablePath ?? (isHost(t) ? undefined : (await bunRuntimes([targetId(t)])).get(targetId(t)));
  const bunTarget = `bun-${targetId(t)}` as Bun.Build.CompileTarget;
  const out = await Bun.build({
    entrypoints: [join(import.meta.dir, "src/main.ts")],
    ...BUNDLE_OPTIONS,
    define: { KOKOCHAT_VERSION: JSON.stringify(VERSION) },
    compile: { target: bunTarget, outfile, ...(executablePath ? { executablePath } : {}), ...COMPILE_OPTIONS },
  });
  if (!out.success) throw new AggregateError(out.logs, `build of ${binaryName(t)} failed`);
  // Bun re-signs darwin-arm64 itself but leaves darwin-x64 with the runtime's
  // now-invalid signature, which macOS kills on launch: sign both ad hoc
  // (for arm64 this rewrites the very bytes Bun wrote).
  if (t.os === "darwin") writeFileSync(outfile, adhocSign(readFileSync(outfile)));
  return outfile;
}

export const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** `sha256sum` text-mode lines, sorted by name. */
export const sha256sums = (files: { name: string; bytes: Uint8Array }[]) =>
  files
    .map((f) => `${sha256(f.bytes)}  ${f.name}\n`)
    .sort((a, b) => (a.slice(66) < b.slice(66) ? -1 : 1))
    .join("");

export function archive(t: Target, binary: Uint8Array): Promise<Uint8Array> {
  const entries = [{ name: archivedBinaryName(t), data: binary, mode: 0o755 }];
  return t.os === "windows" ? zip(entries) : tarGz(entries);
}

export type Built = { target: Target; binary: string; archive: string; buildMs: number };

export async function buildRelease(targets: readonly Target[], outDir = "dist", releaseBaseUrl?: string) {
  assertPinnedBun();
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  await bunRuntimes(targets.filter((t) => !isHost(t)).map(targetId));
  const built: Built[] = [];
  const archiving: Promise<void>[] = [];
  for (const t of targets) {
    const started = performance.now();
    const binary = await buildTarget(t, outDir);
    chmodSync(binary, 0o755);
    const buildMs = performance.now() - started;
    const archivePath = join(outDir, archiveName(t));
    archiving.push(archive(t, readFileSync(binary)).then((bytes) => writeFileSync(archivePath, bytes)));
    built.push({ target: t, binary, archive: archivePath, buildMs });
  }
  await Promise.all(archiving);
  const host = built.find((b) => isHost(b.target));
  if (host) await smokeTest(host.binary);
  const files = built.flatMap((b) => [b.binary, b.archive]);
  const sums = sha256sums(files.map((f) => ({ name: basename(f), bytes: readFileSync(f) })));
  writeFileSync(join(outDir, "SHA256SUMS"), sums);
  const skillDir = assembleSkill({ outDir, built, version: VERSION, releaseBaseUrl });
  return { built, skillDir };
}

/** The host executable must start and report the version we compiled in. */
async function smokeTest(binary: string) {
  const proc = Bun.spawn([binary, "--version"], { env: {}, stdout: "pipe", stderr: "inherit" });
  const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  if (code !== 0 || out.trim() !== VERSION)
    throw new Error(`smoke test: ${binary} --version gave exit ${code} and ${JSON.stringify(out.trim())}, wanted ${VERSION}`);
}

function parseArgs(argv: string[]) {
  let targets: Target[] = [...TARGETS];
  const picked: Target[] = [];
  let outDir = "dist";
  let releaseBaseUrl = process.env.KOKOCHAT_RELEASE_BASE_URL || undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === "--host") picked.push(hostTarget());
    else if (arg === "--target") {
      const id = value();
      const t = TARGETS.find((x) => targetId(x) === id);
      if (!t) throw new Error(`unknown target ${id}; known: ${TARGETS.map(targetId).join(", ")}`);
      picked.push(t);
    } else if (arg === "--out") outDir = value();
    else if (arg === "--release-base-url") releaseBaseUrl = value();
    else throw new Error(`unknown option ${arg}`);
  }
  if (picked.length) targets = TARGETS.filter((t) => picked.some((p) => targetId(p) === targetId(t)));
  if (releaseBaseUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(releaseBaseUrl))
    throw new Error("--release-base-url must be an http(s) URL");
  return { targets, outDir, releaseBaseUrl: releaseBaseUrl?.replace(/\/+$/, "") };
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

if (import.meta.main) {
  const started = performance.now();
  const { targets, outDir, releaseBaseUrl } = parseArgs(process.argv.slice(2));
  const { built, skillDir } = await buildRelease(targets, outDir, releaseBaseUrl);
  for (const b of built) {
    console.log(
      `${targetId(b.target).padEnd(20)} ${mib(statSync(b.binary).size).padStart(10)}  archive ${mib(statSync(b.archive).size).padStart(10)}  ${(b.buildMs / 1000).toFixed(1)} s`,
    );
  }
  console.log(`${join(outDir, "SHA256SUMS")}\n${skillDir}`);
  console.log(`built ${built.length} target(s) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
