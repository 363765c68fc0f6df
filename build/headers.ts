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
