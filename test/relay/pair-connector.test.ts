import { afterEach, describe, expect, it } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readPidFile, pidPath } from "../../src/relay/supervisor.ts";
import { run } from "../support/binary.ts";
import { EchoGateway } from "../support/echo-gateway.ts";
import { alive, stopAll, track } from "../support/processes.ts";
import { TestRelay } from "../support/relay.ts";
import { decodeSetupCode, newIdentity, requestCode } from "../support/requests.ts";
import { tempStateDir } from "../support/stores.ts";
import { Phone } from "../support/ws-peer.ts";


afterEach(stopAll);

describe("pair keeps exactly one connector running", () => {
  it("starts one on the first pairing, finds it running on the second, and the phone's setup code reaches the gateway", async () => {
    using s = tempStateDir();
    const gateway = new EchoGateway();
    const relay = new TestRelay();
    try {
      // Credentials for the loopback test relay, as an earlier pairing would have left them.
      mkdirSync(join(s.dir, "kokochat-relay"), { mode: 0o700 });
      writeFileSync(
        join(s.dir, "kokochat-relay", "relay.json"),
        relay.credentialsJson(),
        { mode: 0o600 },
      );
      const env = { KOKOCHAT_SKIP_RELAY_CONNECTOR_START: undefined, KOKOCHAT_LOCAL_GATEWAY_URL: `ws://127.0.0.1:${gateway.port}` };
      const pairOnce = () => run(["pair", "--json", "--state-dir", s.dir, "--relay-url", relay.url, requestCode(newIdentity())], { env });

      const first = await pairOnce();
      expect(first.exitCode).toBe(0);
      expect(JSON.parse(first.stdout).connector).toBe("started");
      const record = readPidFile(pidPath(s.dir, relay.relayId))!;
      track(record.pid);
      await relay.waitForConnector();

      const second = await pairOnce();
      expect(JSON.parse(second.stdout).connector).toBe("running");
      expect(readPidFile(pidPath(s.dir, relay.relayId))!.pid).toBe(record.pid);
      expect(alive(record.pid)).toBe(true);
      expect(relay.connectorConnections).toBe(1);

      // The phone dials exactly the URL in its setup code, and reaches the gateway through the connector.
      const phone = await Phone.connect(decodeSetupCode(JSON.parse(second.stdout).setupCode).url);
      phone.send("hello through the tunnel");
      expect(await phone.next()).toBe("hello through the tunnel");
      phone.close();
    } finally {
      relay.stop();
      gateway.stop();
    }
  }, 60_000);
});
