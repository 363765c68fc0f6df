/**
 * Build the kokochat-pairing executables.
 *   bun build.ts --host     only this machine's target (used by the tests)
 * Each binary is dist/kokochat-pairing-<os>-<arch>[.exe].
 */
import pkg from "./package.json" with { type: "json" };

export type Target = { os: "linux" | "darwin" | "windows"; arch: "x64" | "arm64"; baseline?: boolean };

export const binaryName = (t: Target) =>
  `kokochat-pairing-${t.os}-${t.arch}${t.baseline ? "-baseline" : ""}${t.os === "windows" ? ".exe" : ""}`;

export const hostTarget = (): Target => ({
  os: process.platform === "win32" ? "windows" : (process.platform as "linux" | "darwin"),
  arch: process.arch === "arm64" ? "arm64" : "x64",
});

export async function buildTarget(t: Target, outDir = "dist"): Promise<string> {
  const outfile = `${outDir}/${binaryName(t)}`;
  const bunTarget = `bun-${t.os}-${t.arch}${t.baseline ? "-baseline" : ""}` as Bun.Build.CompileTarget;
  const out = await Bun.build({
    entrypoints: ["./src/main.ts"],
    minify: true,
    // Startup is most of a run: ship JSC bytecode (no parse at launch) and split
    // lazily imported commands into their own chunks, so `--version` and
    // `--help` never load the validator or the stores (see docs/PERFORMANCE.md).
    bytecode: true,
    format: "esm",
    splitting: true,
    define: { KOKOCHAT_VERSION: JSON.stringify(pkg.version) },
    compile: {
      target: bunTarget,
      outfile,
      autoloadDotenv: false,
      autoloadBunfig: false,
      autoloadTsconfig: false,
      autoloadPackageJson: false,
    },
  });
  if (!out.success) throw new AggregateError(out.logs, `build of ${binaryName(t)} failed`);
  return outfile;
}

if (import.meta.main) {
  const path = await buildTarget(hostTarget());
  console.log(path);
}
