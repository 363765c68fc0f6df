/**
 * Ad-hoc code signing of a thin 64-bit Mach-O, in the "linker-signed" form
 * that ld and Bun's own arm64 compile step write: a SuperBlob holding one
 * CodeDirectory (version 0x20400, flags adhoc|linker-signed, SHA-256 of
 * every 4 KiB page up to the signature, no special slots, __TEXT as the
 * executable segment).
 *
 * Why: Bun 1.4.5 re-signs darwin-arm64 outputs itself but leaves a
 * darwin-x64 output with the runtime's original (hardened-runtime) signature,
 * whose page hashes no longer match after the program is inserted; macOS
 * kills such a process on launch. Re-signing ad hoc makes the signature match
 * the bytes. Applied to Bun's own arm64 output it reproduces it byte for byte
 * (a test checks that), so it writes what Bun writes.
 */
const LC_SEGMENT_64 = 0x19;
const LC_CODE_SIGNATURE = 0x1d;
const PAGE = 4096;
const CD_HEADER = 88; // CodeDirectory up to execSegFlags (version 0x20400)

type Segment = { at: number; fileoff: number; filesize: number; vmsize: number };

function segments(v: DataView) {
  const found = new Map<string, Segment>();
  let signature = -1;
  let at = 32;
  for (let i = 0, n = v.getUint32(16, true); i < n; i++) {
    const cmd = v.getUint32(at, true);
    if (cmd === LC_CODE_SIGNATURE) signature = at;
    if (cmd === LC_SEGMENT_64) {
      const name = new TextDecoder().decode(new Uint8Array(v.buffer, v.byteOffset + at + 8, 16)).replace(/\0.*$/s, "");
      found.set(name, {
        at,
        vmsize: Number(v.getBigUint64(at + 32, true)),
        fileoff: Number(v.getBigUint64(at + 40, true)),
        filesize: Number(v.getBigUint64(at + 48, true)),
      });
    }
    at += v.getUint32(at + 4, true);
  }
  return { found, signature };
}

/** A copy of `input` with a fresh ad-hoc signature in place of the one it has. */
export function adhocSign(input: Uint8Array, identifier = "a.out"): Uint8Array {
  const iv = new DataView(input.buffer, input.byteOffset, input.byteLength);
  if (input.length < 32 || iv.getUint32(0, true) !== 0xfeedfacf) throw new Error("not a 64-bit little-endian Mach-O");
  const { found, signature } = segments(iv);
  const text = found.get("__TEXT");
  const linkedit = found.get("__LINKEDIT");
  if (signature < 0 || !text || !linkedit) throw new Error("Mach-O without LC_CODE_SIGNATURE, __TEXT or __LINKEDIT");
  const codeLimit = iv.getUint32(signature + 8, true); // the signature starts where the signed code ends
  const ident = new TextEncoder().encode(`${identifier}\0`);
  const slots = Math.ceil(codeLimit / PAGE);
  const cdLength = CD_HEADER + ident.length + slots * 32;
  const blobLength = 20 + cdLength;

  const out = new Uint8Array(codeLimit + blobLength);
  out.set(input.subarray(0, codeLimit));
  const v = new DataView(out.buffer);
  v.setUint32(signature + 12, blobLength, true); // LC_CODE_SIGNATURE datasize
  v.setBigUint64(linkedit.at + 48, BigInt(codeLimit + blobLength - linkedit.fileoff), true); // __LINKEDIT filesize
  if (codeLimit + blobLength - linkedit.fileoff > linkedit.vmsize) throw new Error("signature would not fit __LINKEDIT's vmsize");

  let at = codeLimit;
  v.setUint32(at, 0xfade0cc0); // SuperBlob, big-endian like every blob field
  v.setUint32(at + 4, blobLength);
  v.setUint32(at + 8, 1);
  v.setUint32(at + 12, 0); // slot 0: CodeDirectory
  v.setUint32(at + 16, 20);
  at += 20;
  v.setUint32(at, 0xfade0c02);
  v.setUint32(at + 4, cdLength);
  v.setUint32(at + 8, 0x20400);
  v.setUint32(at + 12, 0x20002); // adhoc | linker-signed
  v.setUint32(at + 16, CD_HEADER + ident.length); // hashOffset
  v.setUint32(at + 20, CD_HEADER); // identOffset
  v.setUint32(at + 24, 0); // special slots
  v.setUint32(at + 28, slots);
  v.setUint32(at + 32, codeLimit);
  out[at + 36] = 32; // hash size
  out[at + 37] = 2; // SHA-256
  out[at + 38] = 0; // platform
  out[at + 39] = 12; // log2 page size
  v.setBigUint64(at + 64, BigInt(text.fileoff)); // execSegBase
  v.setBigUint64(at + 72, BigInt(text.filesize)); // execSegLimit
  v.setBigUint64(at + 80, 1n); // CS_EXECSEG_MAIN_BINARY
  out.set(ident, at + CD_HEADER);
  const hashes = at + CD_HEADER + ident.length;
  for (let page = 0; page < slots; page++) {
    const digest = new Bun.CryptoHasher("sha256").update(out.subarray(page * PAGE, Math.min((page + 1) * PAGE, codeLimit))).digest();
    out.set(digest, hashes + page * 32);
  }
  return out;
}
