/**
 * The Bun runtimes that cross-compiled executables are made from, pinned.
 *
 * Bun.build normally downloads a foreign target's runtime itself. We instead
 * take the exact-version `@oven/bun-<target>` npm package of the pinned bun,
 * fetched with `npm pack` (the package's os/cpu fields make `npm install`
 * skip it on any other platform), check its sha512 against the integrity
 * recorded below, unpack bin/bun[.exe] into .cache/, and hand that file to
 * Bun.build as `compile.executablePath`. With the runtime given, the build
 * makes no network request at all, so a warm cache builds offline, and every
 * byte of the runtime is the one we pinned.
 */
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** Must equal the exact `bun` devDependency; build.ts checks both. */
export const BUN_VERSION = "1.4.5";

type Runtime = { pkg: string; integrity: string; exe: "bin/bun" | "bin/bun.exe" };

/** Target id (build.ts `targetId`) → the npm package holding that runtime. Integrity as in the registry's packument. */
export const RUNTIMES: Record<string, Runtime> = {
  "linux-x64": {
    pkg: "@oven/bun-linux-x64",
    integrity: "sha512-IWX9BELoGHAUtMonkeSaNaZwXzRk+oDw6Mk+HBFXd3KHYIBNBsIGRupMZPcgNoDbJpLu6gAJjIoIVPZtt1aJ1g==",
    exe: "bin/bun",
  },
  "linux-x64-baseline": {
    pkg: "@oven/bun-linux-x64-baseline",
    integrity: "sha512-s8yMwYcFnnrA178gji0gZbkE2WVDej/Ti1x770oPfihxyRxSMNhGhiAQNXV53aDeraZxksdvKV/RAdQBCd0qPA==",
    exe: "bin/bun",
  },
  "linux-arm64": {
    pkg: "@oven/bun-linux-aarch64",
    integrity: "sha512-4BXmsSKnjOrlGWqZV4x/oWa7AVoR+B6lCXddMzOAXBIm3t50eslg9wb66gmtW1AamEQ1l1CDvmmruysEhqOWMg==",
    exe: "bin/bun",
  },
  "darwin-x64": {
    pkg: "@oven/bun-darwin-x64",
    integrity: "sha512-qkLPMGHZM9NI6CeHTWwVezzmlo6cC4Ta7yUAjYIWXS366qQcOlcp75t2uZyiuVRBMPS0h9qE0tCcvCHGaFqjJg==",
    exe: "bin/bun",
  },
  "darwin-arm64": {
    pkg: "@oven/bun-darwin-aarch64",
    integrity: "sha512-4MIFXHmctH2EhAxLXm2/qxNtv17dFtLJylvaOCsrgq6KSqHTs6eW5YSrJjRbJxYUJaR901fsN8JfZOa+CsWpWQ==",
    exe: "bin/bun",
  },
  "windows-x64": {
    pkg: "@oven/bun-windows-x64",
    integrity: "sha512-FNvply651vcE/GHgNWz6mZvhmkwBuu8Hw54oNzA+CQog+HW+542rXQmZqNHRkFxazD9L3xi+iTtvO3engAgJfw==",
    exe: "bin/bun.exe",
  },
};

/** Where runtimes are kept: <repo>/.cache/bun-runtime/<version>/ (gitignored). */
export const RUNTIME_CACHE = join(import.meta.dir, "..", ".cache", "bun-runtime", BUN_VERSION);

const tarballName = (r: Runtime) => `${r.pkg.slice(1).replace("/", "-")}-${BUN_VERSION}.tgz`;
const runtimePath = (id: string, r: Runtime) => join(RUNTIME_CACHE, id, r.exe.slice("bin/".length));

export const sriSha512 = (bytes: Uint8Array) => `sha512-${createHash("sha512").update(bytes).digest("base64")}`;

function runtimeOf(id: string): Runtime {
  const r = RUNTIMES[id];
  if (!r) throw new Error(`no pinned Bun runtime for target ${id}`);
  return r;
}

/** Download the missing tarballs with one `npm pack` run (npm uses its own registry setting and cache). */
async function npmPack(runtimes: Runtime[]): Promise<void> {
  if (runtimes.length === 0) return;
  mkdirSync(RUNTIME_CACHE, { recursive: true });
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const specs = runtimes.map((r) => `${r.pkg}@${BUN_VERSION}`);
  const proc = Bun.spawn([npm, "pack", ...specs, "--pack-destination", RUNTIME_CACHE, "--prefer-offline", "--silent"], {
    stdout: "ignore",
    stderr: "pipe",
  });
  const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`npm pack ${specs.join(" ")} failed (exit ${code}):\n${stderr.trim()}`);
}

/**
 * The path of the pinned runtime for each target id, fetching and unpacking
 * what is not cached yet. A tarball whose sha512 differs from the pin is
 * deleted and the build fails.
 */
export async function bunRuntimes(ids: string[]): Promise<Map<string, string>> {
  const wanted = ids.map((id) => [id, runtimeOf(id)] as const);
  const missing = wanted.filter(([id, r]) => !existsSync(runtimePath(id, r)));
  await npmPack(missing.filter(([, r]) => !existsSync(join(RUNTIME_CACHE, tarballName(r)))).map(([, r]) => r));
  for (const [id, r] of missing) {
    const tgz = join(RUNTIME_CACHE, tarballName(r));
    const bytes = readFileSync(tgz);
    const actual = sriSha512(bytes);
    if (actual !== r.integrity) {
      rmSync(tgz, { force: true });
      throw new Error(`${r.pkg}@${BUN_VERSION}: tarball sha512 does not match the pin in build/runtimes.ts (deleted it)`);
    }
    const entry = (await new Bun.Archive(bytes).files()).get(`package/${r.exe}`);
    if (!entry) throw new Error(`${r.pkg}@${BUN_VERSION}: no package/${r.exe} in the tarball`);
    const out = runtimePath(id, r);
    mkdirSync(dirname(out), { recursive: true });
    const partial = `${out}.partial-${process.pid}`;
    writeFileSync(partial, await entry.bytes());
    chmodSync(partial, 0o755);
    renameSync(partial, out);
    rmSync(tgz); // npm keeps its own copy in its cache
  }
  return new Map(wanted.map(([id, r]) => [id, runtimePath(id, r)]));
}
