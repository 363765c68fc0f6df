/** Read back what build/archive.ts writes, independently of it: tar.gz via Bun.Archive, zip by hand. */
import { inflateRawSync } from "node:zlib";

export type ReadEntry = { name: string; data: Uint8Array; mode: number };

export async function readTarGz(bytes: Uint8Array): Promise<ReadEntry[]> {
  const files = await new Bun.Archive(bytes).files();
  const modes = tarModes(Bun.gunzipSync(new Uint8Array(bytes)));
  return Promise.all([...files].map(async ([name, file]) => ({ name, data: await file.bytes(), mode: modes.get(name) ?? -1 })));
}

/** Name → mode from raw ustar headers (Bun.Archive does not expose the mode). */
function tarModes(tar: Uint8Array): Map<string, number> {
  const modes = new Map<string, number>();
  const text = new TextDecoder();
  for (let offset = 0; offset + 512 <= tar.length; ) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    const field = (start: number, length: number) => text.decode(header.subarray(start, start + length)).replace(/\0.*$/s, "");
    const size = parseInt(field(124, 12), 8);
    modes.set(field(0, 100), parseInt(field(100, 8), 8));
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return modes;
}

export function readZip(bytes: Uint8Array): ReadEntry[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (end < 0) throw new Error("no end of central directory");
  const count = buf.readUInt16LE(end + 10);
  let at = buf.readUInt32LE(end + 16);
  const entries: ReadEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(at) !== 0x02014b50) throw new Error("bad central directory entry");
    const method = buf.readUInt16LE(at + 10);
    const crc = buf.readUInt32LE(at + 16);
    const compressedSize = buf.readUInt32LE(at + 20);
    const size = buf.readUInt32LE(at + 24);
    const nameLength = buf.readUInt16LE(at + 28);
    const extraLength = buf.readUInt16LE(at + 30);
    const commentLength = buf.readUInt16LE(at + 32);
    const mode = buf.readUInt32LE(at + 38) >>> 16;
    const local = buf.readUInt32LE(at + 42);
    const name = buf.toString("utf8", at + 46, at + 46 + nameLength);
    const dataAt = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const raw = buf.subarray(dataAt, dataAt + compressedSize);
    const data = method === 8 ? inflateRawSync(raw) : raw;
    if (data.length !== size) throw new Error(`${name}: size ${data.length}, header says ${size}`);
    if ((Bun.hash.crc32(data) >>> 0) !== crc) throw new Error(`${name}: CRC mismatch`);
    entries.push({ name, data: new Uint8Array(data), mode: mode & 0o7777 });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** The command's path when it is installed, else undefined. */
export const which = (command: string) => Bun.which(command) ?? undefined;
