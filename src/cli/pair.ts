/** `kokochat-pairing [pair] [REQUEST…]`: approve a request, print the setup code. */
import { pair, type PairResult } from "../pair.ts";
import { readInput } from "../request/input.ts";
import { ADMIN_SCOPE } from "../request/scopes.ts";
import { shortId } from "../store/device.ts";
import { storeJson } from "../store/select.ts";
import { parse, STORE_OPTIONS, storeOptions } from "./args.ts";
import { info, result, resultJson, warn } from "./output.ts";

const OPTIONS = {
  ...STORE_OPTIONS,
  "relay-url": { type: "string" },
  "insecure-relay": { type: "boolean", default: false },
  "no-connector": { type: "boolean", default: false },
  limited: { type: "boolean", default: false },
  json: { type: "boolean", default: false },
  "dry-run": { type: "boolean", default: false },
} as const;

/** Scope names come from the phone: show them quoted and bounded, never raw. */
const quote = (scope: string) => JSON.stringify(scope.length > 40 ? `${scope.slice(0, 40)}…` : scope);

function toJson(r: PairResult, dryRun: boolean) {
  return {
    ok: true,
    ...(dryRun ? { dryRun: true } : { setupCode: r.setupCode }),
    deviceId: r.request.deviceId,
    displayName: r.request.client.displayName,
    platform: r.request.client.platform,
    clientId: r.request.client.id,
    role: r.request.role,
    scopes: r.granted,
    refusedScopes: r.refused,
    rotated: r.rotated,
    stateDir: r.state.dir,
    stateDirSource: r.state.source,
    store: storeJson(r.store),
    relay: { url: r.relay.url, ...(r.relay.id && { id: r.relay.id }), minted: r.relay.minted },
    connector: r.connector,
  };
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, OPTIONS);
  const store = storeOptions(values);
  const input = await readInput(positionals, process.env, () => process.stdin.isTTY === true);
  const dryRun = values["dry-run"];
  const r = await pair(
    input,
    {
      ...store,
      ...(values["relay-url"] !== undefined && { relayUrl: values["relay-url"] }),
      insecureRelay: values["insecure-relay"],
      noConnector: values["no-connector"],
      limited: values.limited,
      dryRun,
    },
    process.env,
    warn,
  );

  const outside = r.refused.filter((scope) => scope !== ADMIN_SCOPE);
  if (outside.length > 0) warn(`not granted (outside KokoChat's operator scopes): ${outside.map(quote).join(", ")}`);
  if (r.refused.includes(ADMIN_SCOPE))
    warn("--limited: the phone asked for operator.admin; the gateway refuses its connect unless it asks only for the granted scopes");
  const who = `${r.request.client.displayName} (${r.request.client.platform}, device ${shortId(r.request.deviceId)}…)`;
  const where = `${r.store.kind === "sqlite" ? "SQLite" : "JSON"} store ${r.store.path}`;
  const relayState = r.relay.minted ? "new credentials" : "credentials reused";
  if (dryRun) {
    info(`dry run: would ${r.rotated ? "re-pair (rotate the token of)" : "pair"} ${who} in ${where}`);
    info(`dry run: relay ${r.relay.url}, ${r.relay.minted ? "would mint new credentials" : "credentials would be reused"}; nothing was written`);
  } else {
    info(`${r.rotated ? "Re-paired (token rotated)" : "Paired"} ${who} in ${where}`);
    info(`Scopes: ${r.granted.join(", ")}`);
    info(`Relay: ${r.relay.url} (${relayState}); connector: ${r.connector}`);
  }
  if (values.json) resultJson(toJson(r, dryRun));
  else if (r.setupCode) result(r.setupCode);
  return 0;
}
