/**
 * What an executable is, read from its header: enough to check that a
 * cross-compiled output is the right format for the right CPU without the
 * `file` tool. ELF (e_machine), Mach-O 64 (cputype), PE (COFF Machine, and
 * that the optional header is PE32+ for a console program).
 */
export type ExecutableKind = {
  format: "elf" | "macho" | "pe" | "unknown";
  arch: "x64" | "arm64" | "other";
  /** Fixed facts worth asserting too: ELF class/endianness, PE32+ console subsystem. */
  detail: string;
};

const ELF_MACHINE: Record<number, "x64" | "arm64"> = { 0x3e: "x64", 0xb7: "arm64" };
const MACHO_CPU: Record<number, "x64" | "arm64"> = { 0x01000007: "x64", 0x0100000c: "arm64" };
const PE_MACHINE: Record<number, "x64" | "arm64"> = { 0x8664: "x64", 0xaa64: "arm64" };

export function executableKind(bytes: Uint8Array): ExecutableKind {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u32 = (o: number) => (o + 4 <= v.byteLength ? v.getUint32(o, true) : -1);
  const u16 = (o: number) => (o + 2 <= v.byteLength ? v.getUint16(o, true) : -1);
  if (bytes.length >= 20 && u32(0) === 0x464c457f) {
    const klass = bytes[4] === 2 ? "64-bit" : "32-bit";
    const endian = bytes[5] === 1 ? "LSB" : "MSB";
    return { format: "elf", arch: ELF_MACHINE[u16(0x12)] ?? "other", detail: `${klass} ${endian}` };
  }
  if (u32(0) === 0xfeedfacf) {
    return { format: "macho", arch: MACHO_CPU[u32(4)] ?? "other", detail: `filetype ${u32(12)}` };
  }
  if (u16(0) === 0x5a4d) {
    const pe = u32(0x3c);
    if (pe > 0 && u32(pe) === 0x00004550) {
      const optional = pe + 24;
      const magic = u16(optional) === 0x20b ? "PE32+" : "PE32";
      const subsystem = u16(optional + 68) === 3 ? "console" : `subsystem ${u16(optional + 68)}`;
      return { format: "pe", arch: PE_MACHINE[u16(pe + 4)] ?? "other", detail: `${magic} ${subsystem}` };
    }
  }
  return { format: "unknown", arch: "other", detail: "" };
}

export type CodeSignature = { signed: boolean; adhoc: boolean; pages: number; badPages: number; hashType: number };

/**
 * Check a Mach-O's embedded code signature the way the macOS kernel checks
 * pages on load: find LC_CODE_SIGNATURE, its CodeDirectory, and compare every
 * page's SHA-256 (or SHA-1) with the recorded one. An arm64 Mac refuses to
 * run a binary whose signature is missing or whose pages do not match.
 */
export function machoCodeSignature(bytes: Uint8Array): CodeSignature {
  const none = { signed: false, adhoc: false, pages: 0, badPages: 0, hashType: 0 };
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 32 || v.getUint32(0, true) !== 0xfeedfacf) return none;
  const ncmds = v.getUint32(16, true);
  let at = 32;
  let blob = -1;
  for (let i = 0; i < ncmds && at + 8 <= bytes.length; i++) {
    if (v.getUint32(at, true) === 0x1d) blob = v.getUint32(at + 8, true);
    at += v.getUint32(at + 4, true);
  }
  if (blob < 0 || blob + 12 > bytes.length || v.getUint32(blob) !== 0xfade0cc0) return none;
  const count = v.getUint32(blob + 8);
  for (let i = 0; i < count; i++) {
    const type = v.getUint32(blob + 12 + i * 8);
    const cd = blob + v.getUint32(blob + 16 + i * 8);
    if (type !== 0 || v.getUint32(cd) !== 0xfade0c02) continue;
    const flags = v.getUint32(cd + 12);
    const hashOffset = v.getUint32(cd + 16);
    const codeSlots = v.getUint32(cd + 28);
    const codeLimit = v.getUint32(cd + 32);
    const hashSize = v.getUint8(cd + 36);
    const hashType = v.getUint8(cd + 37);
    const pageSize = 2 ** v.getUint8(cd + 39);
    const algorithm = hashType === 2 ? "sha256" : hashType === 1 ? "sha1" : undefined;
    if (!algorithm) return { signed: true, adhoc: (flags & 2) !== 0, pages: codeSlots, badPages: codeSlots, hashType };
    let badPages = 0;
    for (let page = 0; page < codeSlots; page++) {
      const start = page * pageSize;
      const digest = new Bun.CryptoHasher(algorithm).update(bytes.subarray(start, Math.min(start + pageSize, codeLimit))).digest();
      const recorded = bytes.subarray(cd + hashOffset + page * hashSize, cd + hashOffset + (page + 1) * hashSize);
      if (Buffer.compare(digest.subarray(0, hashSize), recorded) !== 0) badPages++;
    }
    return { signed: true, adhoc: (flags & 2) !== 0, pages: codeSlots, badPages, hashType };
  }
  return none;
}
