/**
 * Runs before any test file: no test may see the developer's OpenClaw, relay
 * or KokoChat settings, or write into their home.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

for (const key of Object.keys(process.env)) {
  if (/^(OPENCLAW_|CLAWDBOT_|KOKOCHAT_)/.test(key)) delete process.env[key];
}
const home = mkdtempSync(join(tmpdir(), "kokochat-test-home-"));
process.env.HOME = home;
process.env.USERPROFILE = home;
process.env.NO_COLOR = "1";
