/**
 * Release archives, written in TS so they are byte-identical on every build
 * machine (no dependency on the local tar/zip flavour): a ustar .tar.gz for
 * Unix targets and a deflate .zip for Windows. Fixed mtime, owner 0:0, no
 * extra fields. Bun has a tar writer but no way to set an entry's mode, and
 * no zip writer at all.
 */
import { promisify } from "node:util";
import { deflateRaw as deflateRawCb, gzip as gzipCb } from "node:zlib";

// The async zlib calls run on libuv's thread pool, so several archives compress in parallel.
const gzip = promisify(gzipCb);
const deflateRaw = promisify(deflateRawCb);

export type Entry = { name: string; data: Uint8Array; mode: number };

/** Archive timestamps: SOURCE_DATE_EPOCH when set, else 2026-01-01T00:00:00Z. */
export const archiveMtime = (): number => {
  const epoch = Number(process.env.SOURCE_DATE_EPOCH);
  return Number.isInteger(epoch) && epoch >= 315532800 ? epoch : 1767225600;
};

const ascii = new TextEncoder();

function octal(header: Uint8Array, offset: number, width: number, value: number) {
  header.set(ascii.encode(value.toString(8).padStart(width - 1, "0")), offset);
}

function tarHeader(e: Entry, mtime: number): Uint8Array {
  const h = new Uint8Array(512);
  const name = ascii.encode(e.name);
  if (name.length > 100) throw new RangeError(`tar entry name too long: ${e.name}`);
  h.set(name, 0);
  octal(h, 100, 8, e.mode);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, e.data.length);
  octal(h, 136, 12, mtime);
  h.fill(0x20, 148, 156); // checksum field counts as spaces
  h[156] = 0x30; // regular file
  h.set(ascii.encode("ustar\u000000"), 257);
  h.set(ascii.encode("root"), 265);
  h.set(ascii.encode("root"), 297);
  const sum = h.reduce((a, b) => a + b, 0);
  h.set(ascii.encode(`${sum.toString(8).padStart(6, "0")}\u0000 `), 148);
  return h;
}

export function tar(entries: Entry[], mtime = archiveMtime()): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    parts.push(tarHeader(e, mtime), e.data, new Uint8Array((512 - (e.data.length % 512)) % 512));
  }
  parts.push(new Uint8Array(1024));
  return Buffer.concat(parts);
}

export async function tarGz(entries: Entry[], mtime = archiveMtime()): Promise<Uint8Array> {
  const gz = await gzip(tar(entries, mtime), { level: 9 });
  gz[9] = 3; // gzip OS byte: "Unix" whatever zlib was built for
  return gz;
}

/** MS-DOS date/time (local time in the format; we write UTC). */
function dosDateTime(unix: number): [number, number] {
  const d = new Date(unix * 1000);
  const time = (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | (d.getUTCSeconds() >> 1);
  const date = ((d.getUTCFullYear() - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate();
  return [time, date];
}

export async function zip(entries: Entry[], mtime = archiveMtime()): Promise<Uint8Array> {
  const [time, date] = dosDateTime(mtime);
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = ascii.encode(e.name);
    const compressed = await deflateRaw(e.data, { level: 9 });
    const crc = Bun.hash.crc32(e.data) >>> 0;
    if (compressed.length >= 0xffffffff || e.data.length >= 0xffffffff) throw new RangeError("zip64 not supported");
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed: deflate
    local.writeUInt16LE(0x0800, 6); // names are UTF-8
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt16LE(time, 10);
    local.writeUInt16LE(date, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(compressed.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by Unix, so the mode below is honoured
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt16LE(time, 12);
    central.writeUInt16LE(date, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(compressed.length, 20);
    central.writeUInt32LE(e.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(((0o100000 | e.mode) << 16) >>> 0, 38); // external attrs: Unix mode
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, compressed);
    centrals.push(central, name);
    offset += local.length + name.length + compressed.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}
