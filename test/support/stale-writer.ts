/**
 * A stand-in for OpenClaw 2026.5.22's connect path (a fake: the real gateway is
 * in test/e2e): read paired.json, wait until someone else replaces it, then a
 * little later write the old snapshot back over it, as a gateway that read
 * before our write and persists after it does.
 */
import { readFileSync, renameSync, statSync, writeFileSync } from "node:fs";

const [path, delayMs] = [process.argv[2]!, Number(process.argv[3] ?? 150)];
const stampOf = () => {
  const s = statSync(path);
  return `${s.ino}:${s.size}:${s.mtimeMs}`;
};
const snapshot = readFileSync(path);
const first = stampOf();
process.stdout.write("ready\n");
while (stampOf() === first) await Bun.sleep(2);
await Bun.sleep(delayMs);
writeFileSync(`${path}.gateway-tmp`, snapshot);
renameSync(`${path}.gateway-tmp`, path);
process.stdout.write("clobbered\n");
