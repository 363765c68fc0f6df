import { describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { archive, archiveName, archivedBinaryName, binaryName, hostTarget, sha256, sha256sums, TARGETS, targetId } from "../../build.ts";
import { tar, tarGz, zip } from "../../build/archive.ts";
import { executableKind } from "../../build/headers.ts";
import { BUN_VERSION, RUNTIMES } from "../../build/runtimes.ts";
import pkg from "../../package.json" with { type: "json" };
import { readTarGz, readZip, which } from "../support/archives.ts";
import { itWhen } from "../support/skip.ts";

describe("target table and names", () => {
  it("has the six release targets, each named kokochat-pairing-<os>-<arch>[-baseline][.exe]", () => {
    expect(TARGETS.map(binaryName)).toEqual([
      "kokochat-pairing-linux-x64",
      "kokochat-pairing-linux-x64-baseline",
      "kokochat-pairing-linux-arm64",
      "kokochat-pairing-darwin-x64",
      "kokochat-pairing-darwin-arm64",
      "kokochat-pairing-windows-x64.exe",
    ]);
  });

  it("archives Windows as .zip and the rest as .tar.gz, holding kokochat-pairing[.exe]", () => {
    expect(TARGETS.map(archiveName)).toEqual(TARGETS.map((t) => `kokochat-pairing-${targetId(t)}.${t.os === "windows" ? "zip" : "tar.gz"}`));
    expect(TARGETS.map(archivedBinaryName)).toEqual([...Array(5).fill("kokochat-pairing"), "kokochat-pairing.exe"]);
  });

  it("the host is one of the targets", () => {
    expect(TARGETS.map(targetId)).toContain(targetId(hostTarget()));
  });

  it("pins one runtime package per target, for the pinned bun, with an npm sha512 integrity", () => {
    expect(BUN_VERSION).toBe(pkg.devDependencies.bun);
    expect(Bun.version).toBe(pkg.devDependencies.bun);
    for (const t of TARGETS) {
      const r = RUNTIMES[targetId(t)];
      expect(r?.pkg).toMatch(/^@oven\/bun-(linux|darwin|windows)-(x64|aarch64)(-baseline)?$/);
      expect(r?.integrity).toMatch(/^sha512-[A-Za-z0-9+/]{86}==$/);
    }
    expect(new Set(Object.values(RUNTIMES).map((r) => r.pkg)).size).toBe(TARGETS.length);
  });
});

describe("archives", () => {
  const payload = new Uint8Array(300_000).map((_, i) => (i * 7919) % 251);

  it("tar.gz reads back with Bun.Archive: one entry, same bytes, mode 0755", async () => {
    const entries = await readTarGz(await tarGz([{ name: "kokochat-pairing", data: payload, mode: 0o755 }]));
    expect(entries.map((e) => [e.name, e.mode])).toEqual([["kokochat-pairing", 0o755]]);
    expect(sha256(entries[0]!.data)).toBe(sha256(payload));
  });

  itWhen(!!which("tar"), "no tar on PATH")("tar.gz lists and extracts with the system tar, when there is one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kokochat-tar-"));
    try {
      writeFileSync(join(dir, "a.tar.gz"), await tarGz([{ name: "kokochat-pairing", data: payload, mode: 0o755 }]));
      const list = Bun.spawnSync(["tar", "-tvzf", "a.tar.gz"], { cwd: dir });
      expect(list.exitCode).toBe(0);
      expect(list.stdout.toString()).toMatch(/^-rwxr-xr-x .*kokochat-pairing\n$/);
      expect(Bun.spawnSync(["tar", "-xzf", "a.tar.gz"], { cwd: dir }).exitCode).toBe(0);
      expect(sha256(await Bun.file(join(dir, "kokochat-pairing")).bytes())).toBe(sha256(payload));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("zip reads back (CRC and sizes checked) with the Unix mode in its external attributes", async () => {
    const entries = readZip(await zip([{ name: "kokochat-pairing.exe", data: payload, mode: 0o755 }]));
    expect(entries.map((e) => [e.name, e.mode])).toEqual([["kokochat-pairing.exe", 0o755]]);
    expect(sha256(entries[0]!.data)).toBe(sha256(payload));
  });

  itWhen(!!which("unzip"), "no unzip on PATH")("zip passes unzip -t, when unzip is installed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kokochat-zip-"));
    try {
      writeFileSync(join(dir, "a.zip"), await zip([{ name: "kokochat-pairing.exe", data: payload, mode: 0o755 }]));
      const test = Bun.spawnSync(["unzip", "-t", "a.zip"], { cwd: dir });
      expect(test.stdout.toString()).toContain("No errors detected");
      expect(test.exitCode).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("is byte-identical when made twice, and honours SOURCE_DATE_EPOCH", async () => {
    const entries = [{ name: "kokochat-pairing", data: payload, mode: 0o755 }];
    expect(sha256(await tarGz(entries))).toBe(sha256(await tarGz(entries)));
    expect(sha256(await zip(entries))).toBe(sha256(await zip(entries)));
    expect(sha256(tar(entries, 1_800_000_000))).not.toBe(sha256(tar(entries)));
  });

  it("archive() picks the format by target", async () => {
    const windows = TARGETS.find((t) => t.os === "windows")!;
    const linux = TARGETS[0]!;
    expect(readZip(await archive(windows, payload))[0]!.name).toBe("kokochat-pairing.exe");
    expect((await readTarGz(await archive(linux, payload)))[0]!.name).toBe("kokochat-pairing");
  });
});

describe("SHA256SUMS", () => {
  it("is sha256sum text format, sorted by name", () => {
    const sums = sha256sums([
      { name: "b.tar.gz", bytes: new Uint8Array([2]) },
      { name: "a", bytes: new Uint8Array([1]) },
    ]);
    expect(sums).toBe(`${sha256(new Uint8Array([1]))}  a\n${sha256(new Uint8Array([2]))}  b.tar.gz\n`);
  });

  itWhen(!!which("sha256sum"), "no sha256sum on PATH")("verifies with sha256sum -c, when it is installed", () => {
    const dir = mkdtempSync(join(tmpdir(), "kokochat-sums-"));
    try {
      const files = [{ name: "x-linux-x64", bytes: new TextEncoder().encode("one") }, { name: "x.zip", bytes: new Uint8Array([0, 1]) }];
      for (const f of files) writeFileSync(join(dir, f.name), f.bytes);
      writeFileSync(join(dir, "SHA256SUMS"), sha256sums(files));
      const check = Bun.spawnSync(["sha256sum", "-c", "SHA256SUMS"], { cwd: dir });
      expect(check.stdout.toString()).toBe("x-linux-x64: OK\nx.zip: OK\n");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("executable headers", () => {
  const bytes = (size: number, write: (v: DataView) => void) => {
    const b = new Uint8Array(size);
    write(new DataView(b.buffer));
    return b;
  };

  it("reads ELF e_machine", () => {
    const elf = (machine: number) =>
      bytes(64, (v) => {
        v.setUint32(0, 0x464c457f, true);
        v.setUint8(4, 2);
        v.setUint8(5, 1);
        v.setUint16(0x12, machine, true);
      });
    expect(executableKind(elf(0x3e))).toEqual({ format: "elf", arch: "x64", detail: "64-bit LSB" });
    expect(executableKind(elf(0xb7))).toEqual({ format: "elf", arch: "arm64", detail: "64-bit LSB" });
    expect(executableKind(elf(0x28)).arch).toBe("other");
  });

  it("reads Mach-O 64 cputype", () => {
    const macho = (cpu: number) =>
      bytes(32, (v) => {
        v.setUint32(0, 0xfeedfacf, true);
        v.setUint32(4, cpu, true);
        v.setUint32(12, 2, true);
      });
    expect(executableKind(macho(0x01000007))).toEqual({ format: "macho", arch: "x64", detail: "filetype 2" });
    expect(executableKind(macho(0x0100000c))).toEqual({ format: "macho", arch: "arm64", detail: "filetype 2" });
  });

  it("reads the PE COFF machine, PE32+ and the console subsystem", () => {
    const pe = (machine: number) =>
      bytes(512, (v) => {
        v.setUint16(0, 0x5a4d, true);
        v.setUint32(0x3c, 0x80, true);
        v.setUint32(0x80, 0x00004550, true);
        v.setUint16(0x84, machine, true);
        v.setUint16(0x98, 0x20b, true);
        v.setUint16(0x98 + 68, 3, true);
      });
    expect(executableKind(pe(0x8664))).toEqual({ format: "pe", arch: "x64", detail: "PE32+ console" });
    expect(executableKind(pe(0xaa64)).arch).toBe("arm64");
  });

  it("calls anything else unknown, including truncated input", () => {
    expect(executableKind(new Uint8Array(0)).format).toBe("unknown");
    expect(executableKind(new TextEncoder().encode("#!/bin/sh\n")).format).toBe("unknown");
    expect(executableKind(new Uint8Array([0x4d, 0x5a])).format).toBe("unknown");
  });
});
