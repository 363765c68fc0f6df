/**
 * Assemble dist/skill/kokochat-pairing/: the folder a user copies into an
 * OpenClaw workspace's skills/ (or publishes to ClawHub). It holds SKILL.md,
 * the two launchers, the executables side by side, and their SHA256SUMS.
 *
 * With a release base URL (where the archives will be published) the bundled
 * SKILL.md also gets one `download` installer per archive, with the archive's
 * real sha256; without one it gets none, because no URL is known.
 */
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { Built, Target } from "../build.ts";
import { archiveName, archivedBinaryName, sha256, sha256sums, targetId } from "../build.ts";

const ROOT = join(import.meta.dir, "..");
export const SKILL_NAME = "kokochat-pairing";
const INSTALL_MARKER = /^ {4}# install: .*\n/m;

const OS_FIELD = { linux: "linux", darwin: "darwin", windows: "win32" } as const;
const OS_LABEL = { linux: "Linux", darwin: "macOS", windows: "Windows" } as const;

export function installLabel(t: Target, version: string) {
  const cpu = t.arch === "arm64" ? "arm64" : t.baseline ? "x64, CPUs without AVX2" : "x64";
  return `Download kokochat-pairing ${version} for ${OS_LABEL[t.os]} (${cpu})`;
}

/** The YAML of the `install:` list, indented to sit under `metadata.openclaw`. */
export function installBlock(entries: { target: Target; sha256: string }[], baseUrl: string, version: string): string {
  const lines = ["    install:"];
  for (const { target: t, sha256: hash } of entries) {
    lines.push(
      `      - id: download-${targetId(t)}`,
      `        kind: download`,
      `        label: "${installLabel(t, version)}"`,
      `        os: [${OS_FIELD[t.os]}]`,
      `        url: "${baseUrl}/${archiveName(t)}"`,
      `        sha256: "${hash}"`,
      `        archive: ${t.os === "windows" ? "zip" : "tar.gz"}`,
      `        extract: true`,
      `        bins: [${archivedBinaryName(t).replace(/\.exe$/, "")}]`,
    );
  }
  return lines.join("\n") + "\n";
}

export function skillMarkdown(source: string, install?: string): string {
  if (!INSTALL_MARKER.test(source)) throw new Error("SKILL.md lost its '# install:' marker line in metadata.openclaw");
  return source.replace(INSTALL_MARKER, install ?? "");
}

export function assembleSkill(opts: { outDir: string; built: Built[]; version: string; releaseBaseUrl?: string }) {
  const dir = join(opts.outDir, "skill", SKILL_NAME);
  mkdirSync(dir, { recursive: true });
  const source = readFileSync(join(ROOT, "SKILL.md"), "utf8");
  const install = opts.releaseBaseUrl
    ? installBlock(
        opts.built.map((b) => ({ target: b.target, sha256: sha256(readFileSync(b.archive)) })),
        opts.releaseBaseUrl,
        opts.version,
      )
    : undefined;
  writeFileSync(join(dir, "SKILL.md"), skillMarkdown(source, install));
  for (const launcher of [SKILL_NAME, `${SKILL_NAME}.cmd`]) {
    copyFileSync(join(ROOT, "skill", launcher), join(dir, launcher));
  }
  chmodSync(join(dir, SKILL_NAME), 0o755);
  const binaries = opts.built.map((b) => {
    const target = join(dir, basename(b.binary));
    copyFileSync(b.binary, target);
    chmodSync(target, 0o755);
    return { name: basename(b.binary), bytes: readFileSync(target) };
  });
  writeFileSync(join(dir, "SHA256SUMS"), sha256sums(binaries));
  return dir;
}
