// A small TCP proxy between the role processes and Redis or Postgres, to give a test a slow, lossy
// or partitioned network: the roles are pointed at the proxy's port (proxy.rewrite(url)), the
// proxy forwards every connection to the real server, and the test turns faults on and off.
//
//   delay(direction, { latencyMs, jitterMs })  each chunk waits latencyMs + up to jitterMs, in
//                                              order per connection and direction ('up' is
//                                              client → server, 'down' server → client)
//   loss({ stallProbability, stallMs, resetProbability })
//                                              per chunk: held stallMs longer, or the connection reset
//   partition('blackhole')                     nothing is forwarded, sockets stay open, new
//                                              connections are accepted but not connected through
//   partition('reset')                         every connection reset (RST), new ones reset on arrival
//   heal()                                     ends the partition: what a blackhole held is
//                                              delivered, held connections are connected through
//   calm()                                     no delay, no loss, no partition
//
// Real packet loss cannot be made in user space: the proxy sees a TCP byte stream that the kernels
// on both sides have already made reliable. What loss does to a TCP connection is what is modelled:
// a lost segment is retransmitted after a few hundred ms, and everything behind it on that
// connection waits (head-of-line blocking) — a stall of the chunk and of the chunks after it; and a
// connection that loses too much, or a middlebox that loses its state, ends in a reset.
// Likewise a blackhole holds bytes in the proxy (and, past its high-water mark, in the kernels'
// buffers) and delivers them at heal(), as TCP's retransmissions would after a partition shorter
// than its retransmission timeout: nothing is dropped from a stream that stays open.
//
// The proxy runs in the test's own process, on an ephemeral port it keeps for its life: on a loaded
// machine that process's event-loop lag adds to every chunk's delay (tens of ms), even with no
// fault set; tests bound latencies from below (a delay that was applied), never from above.
//
// stats() counts what happened (bytes forwarded each way, connections accepted and reset, chunks
// delayed, stalled and held), so a test can show that its fault happened and that the roles' traffic
// really went through the proxy, before the fault and after heal().
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export type Direction = 'up' | 'down';
export type PartitionMode = 'blackhole' | 'reset';

export interface Delay {
  latencyMs: number;
  jitterMs: number;
}

export interface Loss {
  // Per chunk: the chance it (and what follows it on its connection) is held stallMs longer.
  stallProbability: number;
  stallMs: number;
  // Per chunk: the chance the connection is reset (both sides) instead of the chunk forwarded.
  resetProbability: number;
}

export interface ProxyStats {
  // Client connections accepted and connected (or, in a blackhole, held) to the server.
  accepted: number;
  // Connections reset on arrival during a reset partition.
  refused: number;
  // Connections the proxy reset: loss, a reset partition, resetAll().
  reset: number;
  // Connections open now.
  open: number;
  // Bytes written to the server (up) and to the clients (down).
  bytesUp: number;
  bytesDown: number;
  // Chunks that waited for delay (latency or jitter), chunks stalled by loss, chunks read during a
  // blackhole (delivered at heal, or dropped with their connection).
  chunksDelayed: number;
  chunksStalled: number;
  chunksHeld: number;
  bytesHeld: number;
}

const ZERO_STATS: ProxyStats = {
  accepted: 0,
  refused: 0,
  reset: 0,
  open: 0,
  bytesUp: 0,
  bytesDown: 0,
  chunksDelayed: 0,
  chunksStalled: 0,
  chunksHeld: 0,
  bytesHeld: 0,
};

// What changed between two stats() snapshots (open: the later value).
export function statsSince(before: ProxyStats, after: ProxyStats): ProxyStats {
  const out = { ...ZERO_STATS };
  for (const k of Object.keys(out) as (keyof ProxyStats)[]) out[k] = k === 'open' ? after.open : after[k] - before[k];
  return out;
}

// A connection's data waiting in the proxy beyond this is left in the kernel (the source is paused).
const HIGH_WATER = 4 * 1024 * 1024;
const NO_DELAY: Delay = { latencyMs: 0, jitterMs: 0 };
const NO_LOSS: Loss = { stallProbability: 0, stallMs: 0, resetProbability: 0 };

export interface TcpProxy {
  readonly port: number;
  // `url` (redis://…, postgres://…) with its host and port replaced by the proxy's.
  rewrite(url: string): string;
  delay(direction: Direction | 'both', delay: Delay): void;
  loss(loss: Loss): void;
  partition(mode: PartitionMode): void;
  heal(): void;
  calm(): void;
  // Resets every open connection now (a one-off, e.g. a NAT table flushed).
  resetAll(): void;
  partitioned(): PartitionMode | undefined;
  stats(): ProxyStats;
  close(): Promise<void>;
}

interface Settings {
  delay: Record<Direction, Delay>;
  loss: Loss;
  partition: PartitionMode | undefined;
}

// One direction of one connection: chunks in order, each with the time it may go.
class Pipe {
  private readonly queue: Array<{ chunk: Buffer; due: number }> = [];
  private queuedBytes = 0;
  private lastDue = 0;
  private timer: NodeJS.Timeout | undefined;
  private dst: Socket | undefined;
  private waitingDrain = false;
  private srcEnded = false;

  constructor(
    private readonly link: Link,
    readonly direction: Direction,
    private readonly src: Socket,
  ) {}

  attach(dst: Socket): void {
    this.dst = dst;
    dst.on('drain', () => {
      this.waitingDrain = false;
      this.pump();
    });
  }

  push(chunk: Buffer): void {
    const { settings, stats } = this.link;
    const { stallProbability, stallMs, resetProbability } = settings.loss;
    if (resetProbability > 0 && Math.random() < resetProbability) {
      this.link.reset();
      return;
    }
    const { latencyMs, jitterMs } = settings.delay[this.direction];
    let wait = latencyMs + Math.random() * jitterMs;
    if (stallProbability > 0 && Math.random() < stallProbability) {
      wait += stallMs;
      stats.chunksStalled++;
    }
    if (wait > 0) stats.chunksDelayed++;
    if (settings.partition === 'blackhole') {
      stats.chunksHeld++;
      stats.bytesHeld += chunk.length;
    }
    // Never before the chunk ahead of it: a TCP stream keeps its order whatever the jitter.
    const due = Math.max(Date.now() + wait, this.lastDue);
    this.lastDue = due;
    this.queue.push({ chunk, due });
    this.queuedBytes += chunk.length;
    if (this.queuedBytes > HIGH_WATER) this.src.pause();
    this.pump();
  }

  // The source ended (FIN): the destination is ended after the last chunk queued for it.
  end(): void {
    this.srcEnded = true;
    this.pump();
  }

  // Writes every chunk that is due, unless partitioned, not yet connected or the destination is full.
  pump(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const dst = this.dst;
    if (!dst || this.link.connecting || this.waitingDrain || this.link.settings.partition || dst.destroyed || dst.writableEnded) return;
    const now = Date.now();
    while (this.queue.length > 0 && this.queue[0]!.due <= now) {
      const { chunk } = this.queue.shift()!;
      this.queuedBytes -= chunk.length;
      if (this.direction === 'up') this.link.stats.bytesUp += chunk.length;
      else this.link.stats.bytesDown += chunk.length;
      if (!dst.write(chunk)) {
        this.waitingDrain = true;
        break;
      }
    }
    if (this.queuedBytes <= HIGH_WATER / 2 && this.src.isPaused() && !this.src.destroyed) this.src.resume();
    if (this.queue.length === 0) {
      if (this.srcEnded) dst.end();
    } else if (!this.waitingDrain) {
      this.timer = setTimeout(() => this.pump(), Math.max(0, this.queue[0]!.due - now));
    }
  }

  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
    this.queuedBytes = 0;
  }
}

// One client connection and its connection to the server.
class Link {
  private upstream: Socket | undefined;
  private readonly up: Pipe;
  private down: Pipe | undefined;
  // Until the server accepted the connection through (nothing is written to either side before).
  connecting = true;
  private closed = false;

  constructor(
    private readonly client: Socket,
    private readonly target: { host: string; port: number },
    readonly settings: Settings,
    readonly stats: ProxyStats,
    private readonly onClose: (link: Link) => void,
  ) {
    client.setNoDelay(true);
    this.up = new Pipe(this, 'up', client);
    client.on('data', (chunk: Buffer) => this.up.push(chunk));
    client.on('end', () => this.up.end());
    client.on('error', () => this.gone(true));
    client.on('close', (hadError) => this.gone(hadError));
  }

  // Connects through to the server (at once, or at heal() for a connection held by a blackhole).
  connect(): void {
    if (this.upstream || this.closed) return;
    const upstream = createConnection({ host: this.target.host, port: this.target.port, allowHalfOpen: true });
    this.upstream = upstream;
    upstream.setNoDelay(true);
    const down = new Pipe(this, 'down', upstream);
    this.down = down;
    this.up.attach(upstream);
    down.attach(this.client);
    upstream.on('connect', () => {
      this.connecting = false;
      this.pump();
    });
    upstream.on('data', (chunk: Buffer) => down.push(chunk));
    upstream.on('end', () => down.end());
    upstream.on('error', () => this.gone(true));
    upstream.on('close', (hadError) => this.gone(hadError));
  }

  pump(): void {
    this.up.pump();
    this.down?.pump();
  }

  // Both sides get an RST, as from a middlebox that lost the connection's state.
  reset(): void {
    if (this.closed) return;
    this.stats.reset++;
    this.close(resetSocket);
  }

  // A side went away. An error or an abrupt close resets the other side; a clean close (FIN) was
  // passed on by the pipes, and the link is done once both sockets are.
  private gone(hadError: boolean): void {
    if (this.closed) return;
    if (hadError) this.close(resetSocket);
    else if (this.client.destroyed && (this.upstream?.destroyed ?? true)) this.close((s) => s.destroy());
  }

  private close(how: (s: Socket) => void): void {
    this.closed = true;
    this.up.clear();
    this.down?.clear();
    how(this.client);
    if (this.upstream) how(this.upstream);
    this.onClose(this);
  }
}

function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

export async function startTcpProxy(target: { host?: string; port: number }): Promise<TcpProxy> {
  const to = { host: target.host ?? '127.0.0.1', port: target.port };
  const settings: Settings = { delay: { up: { ...NO_DELAY }, down: { ...NO_DELAY } }, loss: { ...NO_LOSS }, partition: undefined };
  const stats: ProxyStats = { ...ZERO_STATS };
  const links = new Set<Link>();
  const forget = (link: Link) => {
    if (links.delete(link)) stats.open = links.size;
  };

  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    if (settings.partition === 'reset') {
      stats.refused++;
      client.on('error', () => {});
      resetSocket(client);
      return;
    }
    stats.accepted++;
    const link = new Link(client, to, settings, stats, forget);
    links.add(link);
    stats.open = links.size;
    if (settings.partition !== 'blackhole') link.connect();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('tcp proxy: no port');
  const port = address.port;
  const heal = () => {
    settings.partition = undefined;
    for (const link of [...links]) {
      link.connect();
      link.pump();
    }
  };

  return {
    port,
    rewrite(url) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    delay(direction, delay) {
      for (const d of direction === 'both' ? (['up', 'down'] as const) : [direction]) settings.delay[d] = { ...delay };
    },
    loss(loss) {
      settings.loss = { ...loss };
    },
    partition(mode) {
      settings.partition = mode;
      if (mode === 'reset') for (const link of [...links]) link.reset();
    },
    heal,
    calm() {
      settings.delay = { up: { ...NO_DELAY }, down: { ...NO_DELAY } };
      settings.loss = { ...NO_LOSS };
      heal();
    },
    resetAll() {
      for (const link of [...links]) link.reset();
    },
    partitioned: () => settings.partition,
    stats: () => ({ ...stats }),
    async close() {
      settings.partition = 'reset'; // refuse whatever still arrives
      for (const link of [...links]) link.reset();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
