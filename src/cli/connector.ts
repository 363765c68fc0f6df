/**
 * `kokochat-pairing connector [--config FILE] [--state-dir DIR]`: run the
 * relay connector in the foreground until SIGTERM or SIGINT (then exit 0).
 * One stderr line per event; stdout stays empty.
 */
import { parse } from "./args.ts";
import { info } from "./output.ts";
import { Connector } from "../relay/connector.ts";
import { bootstrapConnectorConfig, readConnectorConfig, relayDir, stateDirFrom } from "../relay/connector-config.ts";

export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, { config: { type: "string" }, "state-dir": { type: "string" } }, false);
  let config;
  if (values.config !== undefined) {
    config = readConnectorConfig(values.config);
  } else {
    const stateDir = stateDirFrom(process.env, values["state-dir"]);
    config = bootstrapConnectorConfig(stateDir, process.env);
    if (!config) {
      info(`connector: nothing paired yet (no relay credentials in ${relayDir(stateDir)}): run 'kokochat-pairing pair' first`);
      return 0;
    }
  }
  // Synchronous stderr writes (output.ts): no stream machinery in a long-lived daemon, and no line lost at exit.
  const connector = new Connector(config, { log: (line) => info(`${new Date().toISOString()} ${line}`) });
  const stop = (signal: string) => {
    info(`${new Date().toISOString()} connector: ${signal} received`);
    void connector.stop();
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  connector.start();
  await connector.stopped;
  return 0;
}
