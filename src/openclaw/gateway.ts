/**
 * Is the local OpenClaw gateway there? A TCP connect to its port, nothing more.
 * Bun.connect, not node:net, which would cost every run ~8 MiB to load.
 */
import { errno } from "../errors.ts";

/** true when a TCP connection opens within `timeoutMs`, else why not. */
export function tcpAnswers(host: string, port: number, timeoutMs: number): Promise<true | string> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (outcome: true | string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const timer = setTimeout(() => done(`no answer within ${timeoutMs} ms`), timeoutMs);
    Bun.connect({ hostname: host, port, socket: { data() {} } }).then(
      (socket) => {
        socket.end(); // a late answer after the timeout is closed the same way
        done(true);
      },
      (error) => done(errno(error) === "ECONNREFUSED" ? "connection refused" : (errno(error) ?? "error")),
    );
  });
}

/** Host and port of a gateway WebSocket URL, or undefined when it is not a URL. */
export function gatewayAddress(gatewayUrl: string): { host: string; port: number } | undefined {
  let url: URL;
  try {
    url = new URL(gatewayUrl);
  } catch {
    return undefined;
  }
  const port = Number(url.port || (url.protocol === "wss:" || url.protocol === "https:" ? 443 : 80));
  return { host: url.hostname.replace(/^\[|\]$/g, ""), port };
}

/** Whether the gateway at `gatewayUrl` accepts a TCP connection (a short wait: it is local). */
export async function gatewayListening(gatewayUrl: string, timeoutMs = 500): Promise<boolean> {
  const address = gatewayAddress(gatewayUrl);
  return address !== undefined && (await tcpAnswers(address.host, address.port, timeoutMs)) === true;
}
