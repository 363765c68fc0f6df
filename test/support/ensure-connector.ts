/**
 * Run ensureConnector in a process of its own (what a `pair` run does):
 *   bun test/support/ensure-connector.ts STATE_DIR RELAY_ID CONFIG_PATH BINARY
 * Prints the result word on stdout.
 */
import { defaultDeps, ensureConnector } from "../../src/relay/supervisor.ts";

const [stateDir, relayId, configPath, bin] = process.argv.slice(2);
const result = await ensureConnector(
  { stateDir: stateDir!, relayId: relayId!, configPath: configPath! },
  { ...defaultDeps(), self: [bin!], service: () => undefined },
);
console.log(result);
