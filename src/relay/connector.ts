/**
 * The relay connector (SPEC §4): one WebSocket to the relay carries many
 * phone streams; for each `open` frame we dial the local gateway and pipe text
 * frames both ways, carrying `close` with its code and reason.
 *
 * Memory stays bounded: frames are size-checked, frames that arrive while a
 * stream's gateway socket is still opening are counted and capped, and when a
 * socket we write to buffers more than `highWaterBytes` we stop reading from
 * the side that feeds it (pause/resume) until it drains.
 *
 * Logging: one line per event, never a secret (the relay secret, the
 * `?secret=` query) and never frame contents.
 */
import { errno } from "../errors.ts";
import { Backoff, type BackoffOptions } from "./backoff.ts";

export type ConnectorConfig = {
  relayUrl: string;
  relayId: string;
  relaySecret: string;
  gatewayUrl: string;
};

export type ConnectorLimits = {
  /** Largest text frame piped either way (UTF-8 bytes); larger closes the stream with 1009. */
  maxFrameBytes: number;
  /** Frames held per stream while its gateway socket opens; more closes the stream with 1013. */
  maxQueuedFrames: number;
  /** Bytes held per stream while its gateway socket opens; more closes the stream with 1013. */
  maxQueuedBytes: number;
  /** Bytes held across all streams while their gateway sockets open; more closes the stream that would pass it with 1013. */
  maxQueuedBytesTotal: number;
  /** Streams open at once; one more is refused with 1013. */
  maxStreams: number;
  /** When a socket we write to buffers more than this, stop reading from the side feeding it. */
  highWaterBytes: number;
  /** Resume reading once the buffer is back under this. */
  lowWaterBytes: number;
  /** A gateway socket that stays above the high-water mark this long is closed with 1013. */
  maxStallMs: number;
  /** A gateway that has not accepted a stream's socket by then closes the stream with 1014. */
  gatewayOpenTimeoutMs: number;
  /** Ping the relay this often… */
  keepaliveIntervalMs: number;
  /** …and drop the link when nothing came back for this long. */
  keepaliveTimeoutMs: number;
  /** How often buffers are checked while something is paused. */
  drainPollMs: number;
};

const MiB = 1024 * 1024;

const DEFAULT_LIMITS: ConnectorLimits = {
  maxFrameBytes: 8 * MiB,
  maxQueuedFrames: 64,
  maxQueuedBytes: 256 * 1024,
  maxQueuedBytesTotal: 4 * MiB,
  maxStreams: 256,
  highWaterBytes: 1 * MiB,
  lowWaterBytes: 256 * 1024,
  maxStallMs: 30_000,
  gatewayOpenTimeoutMs: 10_000,
  keepaliveIntervalMs: 20_000,
  keepaliveTimeoutMs: 50_000,
  drainPollMs: 5,
};

/** WebSocket close codes the connector sends (RFC 6455 §7.4.1). */
const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  unsupportedData: 1003,
  tooBig: 1009,
  internal: 1011,
  tryAgainLater: 1013,
  badGateway: 1014,
} as const;

export type StreamId = string | number;

type Stream = {
  id: StreamId;
  key: string;
  /** `{"type":"data","streamId":<id>,"data":` — the data frame up to its text, built once. */
  dataHead: string;
  gw: WebSocket;
  open: boolean;
  done: boolean;
  queue: string[];
  queuedBytes: number;
  openTimer: ReturnType<typeof setTimeout> | undefined;
  congestedSince: number | undefined;
  lastError: string | undefined;
};

export type ConnectorOptions = {
  limits?: Partial<ConnectorLimits>;
  backoff?: Partial<BackoffOptions>;
  /** Receives each log line (already redacted); default: stderr with a timestamp. */
  log?: (line: string) => void;
};

/** The URL the connector dials. Contains the secret: never log it. */
export function connectorUrl(c: Pick<ConnectorConfig, "relayUrl" | "relayId" | "relaySecret">): string {
  return `${c.relayUrl.replace(/\/+$/, "")}/v1/connector/${encodeURIComponent(c.relayId)}?secret=${encodeURIComponent(c.relaySecret)}`;
}

/** Remove every form of the secret from a line (errors from the WebSocket client quote the URL). */
export function redactor(secret: string): (line: string) => string {
  const forms = [...new Set([secret, encodeURIComponent(secret)])].filter((s) => s.length >= 8);
  return (line) => {
    // One line per event: control characters a peer put in a close reason become "?".
    let out = line.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, "?").replace(/([?&]secret=)[^&\s'"]*/gi, "$1<redacted>");
    for (const form of forms) out = out.split(form).join("<redacted>");
    return out;
  };
}

/** A close code we may put on the wire: real ones pass, 1005/1006/1015 and junk become `fallback`. */
export function sendableCode(code: unknown, fallback: number = CLOSE.normal): number {
  if (typeof code !== "number" || !Number.isInteger(code)) return fallback;
  if (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) return code;
  if (code >= 3000 && code <= 4999) return code;
  return fallback;
}

/** A close reason we may put on the wire: a string of at most 123 UTF-8 bytes. */
export function sendableReason(reason: unknown): string {
  if (typeof reason !== "string") return "";
  // At most 123 bytes; cut characters first so a huge reason costs one slice, not a loop per character.
  let out = reason.slice(0, 123);
  while (Buffer.byteLength(out) > 123) out = out.slice(0, -1);
  return out;
}

/** Whether `text` is longer than `max` UTF-8 bytes, without measuring short strings (UTF-8 is at most 3 bytes per UTF-16 unit). */
const exceeds = (text: string, max: number) => text.length > max || (text.length * 3 > max && Buffer.byteLength(text) > max);

/** The start of a data frame as our relay writes it: `{"type":"data","streamId":<id>,`. */
const DATA_HEAD = /^\{"type":"data","streamId":(\d{1,15}|"[A-Za-z0-9_.:-]{1,128}"),/;

/** A stream id as printed: short and harmless, whatever the relay sent. */
const label = (id: StreamId) => String(id).replace(/[^\w.:-]/g, "?").slice(0, 40);

const validId = (id: unknown): id is StreamId =>
  (typeof id === "string" && id.length > 0 && id.length <= 128) || (typeof id === "number" && Number.isSafeInteger(id));

const describeRelay = (relayUrl: string): string => {
  try {
    const u = new URL(relayUrl);
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, "")}`;
  } catch {
    return "the relay";
  }
};

const defaultLog = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);

export class Connector {
  readonly limits: ConnectorLimits;
  readonly #config: ConnectorConfig;
  readonly #backoff: Backoff;
  readonly #log: (line: string) => void;
  readonly #streams = new Map<string, Stream>();
  readonly #congested = new Set<Stream>();
  #relay: WebSocket | undefined;
  #relayError: string | undefined;
  #relayCongestedSince: number | undefined;
  #gatewaysPaused = false;
  #queuedBytesTotal = 0;
  #relayPaused = false;
  #lastHeard = 0;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #keepaliveTimer: ReturnType<typeof setInterval> | undefined;
  #drainTimer: ReturnType<typeof setInterval> | undefined;
  #stopping = false;
  #resolveStopped!: () => void;
  /** Settles once `stop()` finished closing everything. */
  readonly stopped: Promise<void> = new Promise((resolve) => (this.#resolveStopped = resolve));

  constructor(config: ConnectorConfig, options: ConnectorOptions = {}) {
    this.#config = { ...config, relayUrl: config.relayUrl.replace(/\/+$/, "") };
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.#backoff = new Backoff(options.backoff);
    const redact = redactor(config.relaySecret);
    const sink = options.log ?? defaultLog;
    this.#log = (line) => sink(redact(line));
  }

  /** Streams currently piped. */
  get streamCount(): number {
    return this.#streams.size;
  }

  start(): void {
    this.#dial();
  }

  /** Close every stream and the relay link; settles when done (at most ~2 s). */
  async stop(reason = "connector shutting down"): Promise<void> {
    if (this.#stopping) return this.stopped;
    this.#stopping = true;
    clearTimeout(this.#reconnectTimer);
    this.#stopKeepalive();
    const count = this.#streams.size;
    for (const s of [...this.#streams.values()]) this.#closeStream(s, CLOSE.goingAway, reason, { relay: true, gateway: true, quiet: true });
    this.#log(`connector: stopping (${count} stream${count === 1 ? "" : "s"} closed)`);
    const relay = this.#relay;
    if (relay && relay.readyState !== WebSocket.CLOSED) {
      const closed = new Promise<void>((resolve) => relay.addEventListener("close", () => resolve(), { once: true }));
      try {
        relay.close(CLOSE.goingAway, "connector shutting down");
      } catch {
        relay.terminate();
      }
      const timer = setTimeout(() => relay.terminate(), 2_000);
      await closed;
      clearTimeout(timer);
    }
    clearInterval(this.#drainTimer);
    this.#log("connector: stopped");
    this.#resolveStopped();
    return this.stopped;
  }

  // ── relay link ────────────────────────────────────────────────────────────

  #dial(): void {
    if (this.#stopping) return;
    this.#relayError = undefined;
    this.#log(`relay: connecting to ${describeRelay(this.#config.relayUrl)} (relay id ${this.#config.relayId.slice(0, 6)}…)`);
    let ws: WebSocket;
    try {
      ws = new WebSocket(connectorUrl(this.#config));
    } catch (error) {
      this.#relayError = error instanceof Error ? error.message : String(error);
      this.#scheduleReconnect(undefined);
      return;
    }
    this.#relay = ws;
    ws.addEventListener("open", () => {
      if (this.#relay !== ws) return;
      this.#backoff.connected();
      this.#lastHeard = performance.now();
      this.#startKeepalive(ws);
      this.#log("relay: connected");
      if (this.#stopping) ws.close(CLOSE.goingAway, "connector shutting down");
    });
    ws.addEventListener("message", (event) => {
      if (this.#relay !== ws) return;
      this.#lastHeard = performance.now();
      this.#onRelayFrame(event.data);
    });
    ws.addEventListener("pong", () => {
      this.#lastHeard = performance.now();
    });
    ws.addEventListener("error", (event) => {
      const e = event as ErrorEvent;
      this.#relayError = errno(e.error) ?? (e.message || "connection error");
    });
    ws.addEventListener("close", (event) => {
      if (this.#relay !== ws) return;
      this.#relay = undefined;
      this.#stopKeepalive();
      this.#relayCongestedSince = undefined;
      this.#gatewaysPaused = false;
      this.#relayPaused = false;
      const lost = this.#streams.size;
      for (const s of [...this.#streams.values()]) this.#closeStream(s, CLOSE.goingAway, "relay link lost", { relay: false, gateway: true, quiet: true });
      if (this.#stopping) return;
      this.#scheduleReconnect(event, lost);
    });
  }

  #scheduleReconnect(event: CloseEvent | undefined, lost = 0): void {
    const delay = this.#backoff.next();
    const why = [
      event ? `code ${event.code}` : undefined,
      event?.reason ? sendableReason(event.reason) : undefined,
      this.#relayError,
      lost ? `${lost} stream${lost === 1 ? "" : "s"} closed` : undefined,
    ].filter(Boolean);
    this.#log(`relay: disconnected (${why.join("; ")}); reconnecting in ${(delay / 1000).toFixed(1)} s`);
    this.#reconnectTimer = setTimeout(() => this.#dial(), delay);
  }

  #startKeepalive(ws: WebSocket): void {
    this.#stopKeepalive();
    const { keepaliveIntervalMs, keepaliveTimeoutMs } = this.limits;
    this.#keepaliveTimer = setInterval(() => {
      if (performance.now() - this.#lastHeard > keepaliveTimeoutMs) {
        this.#relayError = `no answer for ${Math.round(keepaliveTimeoutMs / 1000)} s`;
        ws.terminate();
        return;
      }
      try {
        ws.ping();
      } catch {
        /* closing; the close event reconnects */
      }
    }, keepaliveIntervalMs);
  }

  #stopKeepalive(): void {
    clearInterval(this.#keepaliveTimer);
    this.#keepaliveTimer = undefined;
  }

  #sendRelay(frame: object | string): void {
    const relay = this.#relay;
    if (!relay || relay.readyState !== WebSocket.OPEN) return;
    relay.send(typeof frame === "string" ? frame : JSON.stringify(frame));
    if (relay.bufferedAmount > this.limits.highWaterBytes && this.#relayCongestedSince === undefined) {
      this.#relayCongestedSince = performance.now();
      this.#setGatewaysPaused(true);
      this.#ensureDrainPoll();
    }
  }

  #sendClose(id: StreamId, code: number, reason: string): void {
    this.#sendRelay({ type: "close", streamId: id, code, reason });
  }

  #onRelayFrame(raw: unknown): void {
    if (typeof raw !== "string") {
      this.#log("relay: ignored a binary frame");
      return;
    }
    // Fast path: a data frame for a stream we already closed is dropped without parsing it.
    const head = DATA_HEAD.exec(raw.slice(0, 160));
    if (head) {
      const key = head[1]!.startsWith('"') ? head[1]!.slice(1, -1) : head[1]!;
      if (!this.#streams.has(key)) return;
    }
    let frame: { type?: unknown; streamId?: unknown; data?: unknown; code?: unknown; reason?: unknown };
    try {
      frame = JSON.parse(raw);
    } catch {
      this.#log("relay: ignored a frame that is not JSON");
      return;
    }
    if (frame === null || typeof frame !== "object" || !validId(frame.streamId)) {
      this.#log("relay: ignored a frame without a valid streamId");
      return;
    }
    const id = frame.streamId;
    switch (frame.type) {
      case "open":
        return this.#openStream(id);
      case "data": {
        const s = this.#streams.get(String(id));
        if (!s) return; // closed a moment ago; the relay has our close
        if (typeof frame.data !== "string") {
          this.#closeStream(s, CLOSE.unsupportedData, "data must be a text frame", { relay: true, gateway: true });
          return;
        }
        return this.#toGateway(s, frame.data);
      }
      case "close": {
        const s = this.#streams.get(String(id));
        if (!s) return;
        const code = sendableCode(frame.code);
        const reason = sendableReason(frame.reason);
        s.done = true;
        this.#forget(s);
        this.#closeSocket(s.gw, code, reason);
        this.#log(`stream ${label(id)}: closed by phone (${code}${reason ? ` ${reason}` : ""})`);
        return;
      }
      default:
        this.#log("relay: ignored a frame of unknown type");
    }
  }

  // ── streams ───────────────────────────────────────────────────────────────

  #openStream(id: StreamId): void {
    const key = String(id);
    if (this.#streams.has(key)) {
      this.#log(`stream ${label(id)}: ignored a second open`);
      return;
    }
    if (this.#streams.size >= this.limits.maxStreams) {
      this.#sendClose(id, CLOSE.tryAgainLater, "too many streams");
      this.#log(`stream ${label(id)}: refused (1013 too many streams: ${this.limits.maxStreams} open)`);
      return;
    }
    let gw: WebSocket;
    try {
      gw = new WebSocket(this.#config.gatewayUrl, { perMessageDeflate: false } as Bun.WebSocketOptions);
    } catch {
      this.#sendClose(id, CLOSE.badGateway, "gateway unreachable");
      this.#log(`stream ${label(id)}: closed by connector (1014 gateway unreachable: bad gateway URL)`);
      return;
    }
    const s: Stream = {
      id,
      key,
      dataHead: `{"type":"data","streamId":${JSON.stringify(id)},"data":`,
      gw,
      open: false,
      done: false,
      queue: [],
      queuedBytes: 0,
      openTimer: undefined,
      congestedSince: undefined,
      lastError: undefined,
    };
    this.#streams.set(key, s);
    this.#log(`stream ${label(id)}: opened`);
    s.openTimer = setTimeout(() => {
      if (!s.done && !s.open) this.#closeStream(s, CLOSE.badGateway, "gateway did not answer", { relay: true, gateway: true });
    }, this.limits.gatewayOpenTimeoutMs);

    gw.addEventListener("open", () => {
      if (s.done) return;
      clearTimeout(s.openTimer);
      s.open = true;
      for (const data of s.queue) gw.send(data);
      this.#queuedBytesTotal -= s.queuedBytes;
      s.queue = [];
      s.queuedBytes = 0;
      this.#checkGateway(s);
      if (this.#gatewaysPaused) gw.pause();
    });
    gw.addEventListener("message", (event) => {
      if (s.done) return;
      const data = event.data;
      if (typeof data !== "string") {
        this.#closeStream(s, CLOSE.unsupportedData, "binary frames are not supported", { relay: true, gateway: true });
        return;
      }
      if (exceeds(data, this.limits.maxFrameBytes)) {
        this.#closeStream(s, CLOSE.tooBig, "message too big", { relay: true, gateway: true });
        return;
      }
      this.#sendRelay(`${s.dataHead}${JSON.stringify(data)}}`);
    });
    gw.addEventListener("error", (event) => {
      const e = event as ErrorEvent;
      s.lastError = errno(e.error) ?? "connection error";
    });
    gw.addEventListener("close", (event) => {
      if (s.done) return;
      s.done = true;
      this.#forget(s);
      let code: number;
      let reason: string;
      if (!s.open) {
        code = CLOSE.badGateway;
        reason = "gateway unreachable";
      } else if (event.code === 1006 || event.code === 1015) {
        code = CLOSE.internal;
        reason = "gateway connection lost";
      } else {
        code = sendableCode(event.code);
        reason = sendableReason(event.reason);
      }
      this.#sendClose(s.id, code, reason);
      const detail = s.lastError && !s.open ? `: ${s.lastError}` : "";
      this.#log(`stream ${label(s.id)}: closed by gateway (${code}${reason ? ` ${reason}` : ""}${detail})`);
    });
  }

  #toGateway(s: Stream, data: string): void {
    if (exceeds(data, this.limits.maxFrameBytes)) {
      this.#closeStream(s, CLOSE.tooBig, "message too big", { relay: true, gateway: true });
      return;
    }
    if (!s.open) {
      const size = Buffer.byteLength(data);
      if (
        s.queue.length >= this.limits.maxQueuedFrames ||
        s.queuedBytes + size > this.limits.maxQueuedBytes ||
        this.#queuedBytesTotal + size > this.limits.maxQueuedBytesTotal
      ) {
        this.#closeStream(s, CLOSE.tryAgainLater, "gateway not ready: too many frames queued", { relay: true, gateway: true });
        return;
      }
      s.queue.push(data);
      s.queuedBytes += size;
      this.#queuedBytesTotal += size;
      return;
    }
    s.gw.send(data);
    this.#checkGateway(s);
  }

  /** A gateway socket buffering past the high-water mark pauses the relay link until it drains. */
  #checkGateway(s: Stream): void {
    if (s.congestedSince !== undefined || s.gw.bufferedAmount <= this.limits.highWaterBytes) return;
    s.congestedSince = performance.now();
    this.#congested.add(s);
    if (!this.#relayPaused) {
      this.#relayPaused = true;
      this.#relay?.pause();
    }
    this.#ensureDrainPoll();
  }

  #setGatewaysPaused(paused: boolean): void {
    this.#gatewaysPaused = paused;
    for (const s of this.#streams.values()) {
      if (!s.open) continue;
      if (paused) s.gw.pause();
      else s.gw.resume();
    }
  }

  #ensureDrainPoll(): void {
    if (this.#drainTimer !== undefined) return;
    this.#drainTimer = setInterval(() => this.#drainPoll(), this.limits.drainPollMs);
  }

  #drainPoll(): void {
    const now = performance.now();
    const { lowWaterBytes, maxStallMs } = this.limits;
    for (const s of [...this.#congested]) {
      if (s.done || s.gw.bufferedAmount <= lowWaterBytes) {
        s.congestedSince = undefined;
        this.#congested.delete(s);
      } else if (now - (s.congestedSince ?? now) > maxStallMs) {
        this.#closeStream(s, CLOSE.tryAgainLater, "gateway too slow", { relay: true, gateway: true });
      }
    }
    if (this.#congested.size === 0 && this.#relayPaused) {
      this.#relayPaused = false;
      this.#relay?.resume();
    }
    if (this.#relayCongestedSince !== undefined) {
      const relay = this.#relay;
      if (!relay || relay.bufferedAmount <= lowWaterBytes) {
        this.#relayCongestedSince = undefined;
        this.#setGatewaysPaused(false);
      }
    }
    if (this.#congested.size === 0 && this.#relayCongestedSince === undefined) {
      clearInterval(this.#drainTimer);
      this.#drainTimer = undefined;
    }
  }

  #forget(s: Stream): void {
    clearTimeout(s.openTimer);
    this.#streams.delete(s.key);
    this.#congested.delete(s);
    this.#queuedBytesTotal -= s.queuedBytes;
    s.queue = [];
    s.queuedBytes = 0;
  }

  #closeSocket(ws: WebSocket, code: number, reason: string): void {
    try {
      ws.close(code, reason);
    } catch {
      ws.terminate();
    }
  }

  #closeStream(s: Stream, code: number, reason: string, to: { relay: boolean; gateway: boolean; quiet?: boolean }): void {
    if (s.done) return;
    s.done = true;
    this.#forget(s);
    if (to.gateway) this.#closeSocket(s.gw, code, reason);
    if (to.relay) this.#sendClose(s.id, code, reason);
    if (!to.quiet) this.#log(`stream ${label(s.id)}: closed by connector (${code} ${reason})`);
  }
}
