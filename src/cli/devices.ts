/**
 * `kokochat-pairing devices [--json] [--all]`: the paired devices of the store
 * the gateway reads — KokoChat's by default — and never a token.
 */
import { locateStore, readDevices, summarise } from "../devices.ts";
import { parse, STORE_OPTIONS, storeOptions } from "./args.ts";
import { storeJson } from "../store/select.ts";
import { deviceBlock, storeName } from "./format.ts";
import { info, result, resultJson } from "./output.ts";

const OPTIONS = {
  ...STORE_OPTIONS,
  all: { type: "boolean", default: false },
  json: { type: "boolean", default: false },
} as const;

export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, OPTIONS, false);
  const at = locateStore(storeOptions(values), process.env);
  const all = readDevices(at).map(summarise);
  const shown = values.all ? all : all.filter((d) => d.kokochat);
  const hidden = all.length - shown.length;

  if (values.json) {
    resultJson({
      ok: true,
      stateDir: at.state.dir,
      stateDirSource: at.state.source,
      store: storeJson(at.store),
      filter: values.all ? "all" : "kokochat",
      hidden,
      devices: shown,
    });
    return 0;
  }
  const what = values.all ? "device" : "KokoChat device";
  info(`${shown.length} ${what}${shown.length === 1 ? "" : "s"} in the ${storeName(at.store)}${hidden > 0 ? `; ${hidden} other device${hidden === 1 ? "" : "s"} (--all shows them)` : ""}`);
  if (shown.length > 0) result(shown.map(deviceBlock).join("\n\n"));
  return 0;
}
