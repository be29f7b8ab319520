/**
 * The control socket: HTTP over a Unix socket, never TCP, so access is the socket file's
 * permissions. `pfsteer status | drain | undrain | reload` are its clients.
 *
 * Nothing a client sends may end the daemon: every request is answered inside one catch, the
 * server's own errors are logged, connections are capped and idle ones closed, so a flood of
 * clients costs a bounded number of file descriptors.
 */
import { chmod, chown, lstat, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import type { Logger } from 'pino';
import { PfsteerError } from '../errors.ts';

export interface ControlHandlers {
  status(): unknown;
  drain(host: string): Promise<unknown>;
  undrain(host: string): Promise<unknown>;
  states(host: string): Promise<unknown>;
  reload(): Promise<unknown>;
  metrics(): Promise<string>;
}

/** A request the daemon cannot act on as asked (unknown host, bad path): answered 400. */
export class RequestError extends PfsteerError {}

export interface ControlLimits {
  /** Connections open at once; more are closed as they arrive. */
  maxConnections: number;
  /** A client must send its whole request head within this. */
  headersTimeoutMs: number;
  /** ... and its whole request within this. */
  requestTimeoutMs: number;
  /** A kept-alive connection with no request in flight is closed after this. */
  keepAliveTimeoutMs: number;
}

export const CONTROL_LIMITS: ControlLimits = { maxConnections: 64, headersTimeoutMs: 5_000, requestTimeoutMs: 10_000, keepAliveTimeoutMs: 5_000 };

export class ControlServer {
  readonly #server: Server;
  readonly #path: string;
  readonly #inode: number;
  readonly closed: Promise<void>;
  #resolveClosed!: () => void;

  private constructor(server: Server, path: string, inode: number) {
    this.#server = server;
    this.#path = path;
    this.#inode = inode;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  static async listen(path: string, mode: number, group: string | undefined, handlers: ControlHandlers, logger: Logger, limits: ControlLimits = CONTROL_LIMITS): Promise<ControlServer> {
    const gid = group === undefined ? undefined : await groupId(group);
    await clearStaleSocket(path);
    const server = createServer(
      { headersTimeout: limits.headersTimeoutMs, requestTimeout: limits.requestTimeoutMs, keepAliveTimeout: limits.keepAliveTimeoutMs, connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs) },
      (request, response) => void route(handlers, request, response, logger),
    );
    server.maxConnections = limits.maxConnections;
    let dropped = 0;
    server.on('drop', () => {
      // One line per burst, not one per connection of a flood.
      if (dropped++ === 0) setTimeout(() => {
        logger.warn({ max: limits.maxConnections, dropped }, 'control socket: too many connections; new ones closed');
        dropped = 0;
      }, 1_000).unref();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // After listening, an error (accept failing with EMFILE) is the server's, not a client's.
    // Malformed requests need no listener: Node answers them 400 (431, 408) and closes.
    server.on('error', (error) => logger.error({ err: error }, 'control socket error'));
    await chmod(path, mode);
    if (gid !== undefined) await chown(path, -1, gid);
    return new ControlServer(server, path, (await lstat(path)).ino);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
    // Only our own socket: never a file someone put there since.
    const now = await lstat(this.#path).catch(() => undefined);
    if (now?.isSocket() && now.ino === this.#inode) await rm(this.#path, { force: true });
    this.#resolveClosed();
  }
}

/**
 * Makes way for the socket: nothing there is fine, a socket nobody answers on was left by a
 * daemon that died and goes; a live daemon's socket, or anything that is not a socket, stops
 * the start.
 */
async function clearStaleSocket(path: string): Promise<void> {
  const found = await lstat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw new PfsteerError('control-socket', `cannot look at control.socket ${path}: ${error.message}`, { cause: error });
  });
  if (!found) return;
  if (!found.isSocket()) throw new PfsteerError('control-not-socket', `control.socket ${path} exists and is not a socket; refusing to replace it`);
  const answer = await new Promise<'live' | 'stale'>((resolve, reject) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve('live');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED' || error.code === 'ENOENT') resolve('stale');
      else reject(new PfsteerError('control-socket', `cannot probe control.socket ${path}: ${error.message}`, { cause: error }));
    });
  });
  if (answer === 'live') throw new PfsteerError('control-in-use', `another daemon answers on ${path}; refusing to start a second one on the same socket`);
  await rm(path, { force: true });
}

async function groupId(group: string): Promise<number> {
  const lines = (await readFile('/etc/group', 'utf8')).split('\n');
  const entry = lines.map((line) => line.split(':')).find((fields) => fields[0] === group);
  if (!entry || entry[2] === undefined) throw new PfsteerError('control-group', `control.group names "${group}", which /etc/group does not have`);
  return Number(entry[2]);
}

function send(response: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = type === 'application/json' ? `${JSON.stringify(body)}\n` : String(body);
  response.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

/** The request's verb and host, or a RequestError for a target no URL parser accepts. */
function target(request: IncomingMessage): { verb: string | undefined; host: string | undefined; path: string } {
  let url: URL;
  try {
    url = new URL(request.url ?? '/', 'http://pfsteer');
  } catch {
    throw new RequestError('bad-request', 'the request target is not a valid path');
  }
  const [, verb, encoded] = url.pathname.split('/');
  try {
    return { verb, host: encoded === undefined || encoded === '' ? undefined : decodeURIComponent(encoded), path: url.pathname };
  } catch {
    throw new RequestError('bad-request', 'the host name in the path is not valid percent-encoding');
  }
}

async function answer(handlers: ControlHandlers, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const { verb, host, path } = target(request);
  if (request.method === 'GET' && verb === 'status') return send(response, 200, handlers.status());
  if (request.method === 'GET' && verb === 'metrics') return send(response, 200, await handlers.metrics(), 'text/plain; version=0.0.4');
  if (request.method === 'GET' && verb === 'states' && host) return send(response, 200, await handlers.states(host));
  if (request.method === 'POST' && verb === 'drain' && host) return send(response, 200, await handlers.drain(host));
  if (request.method === 'POST' && verb === 'undrain' && host) return send(response, 200, await handlers.undrain(host));
  if (request.method === 'POST' && verb === 'reload') return send(response, 200, await handlers.reload());
  send(response, 404, { error: { code: 'not-found', message: `no ${request.method} ${path}` } });
}

async function route(handlers: ControlHandlers, request: IncomingMessage, response: ServerResponse, logger: Logger): Promise<void> {
  try {
    await answer(handlers, request, response);
  } catch (error) {
    const code = error instanceof PfsteerError ? error.code : 'internal';
    if (!(error instanceof RequestError)) logger.error({ err: error, method: request.method, url: request.url }, 'control request failed');
    // The client may have gone, or the answer begun: then there is nobody left to tell.
    if (response.headersSent || response.destroyed) return;
    try {
      send(response, error instanceof RequestError ? 400 : 500, { error: { code, message: (error as Error).message } });
    } catch (sendError) {
      logger.warn({ err: sendError }, 'control socket: cannot answer a failed request');
    }
  }
}
