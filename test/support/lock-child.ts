/** A process that takes the lock, proves it is alone inside (exclusive marker file), and leaves. */
import { openSync, closeSync, unlinkSync } from "node:fs";
import { withLock } from "../../src/store/lock.ts";

const [lockPath, marker] = process.argv.slice(2) as [string, string];
await withLock(lockPath, "test", async () => {
  closeSync(openSync(marker, "wx")); // throws EEXIST if another holder is inside
  await Bun.sleep(5);
  unlinkSync(marker);
}, { timeoutMs: 30_000 });
