/**
 * The control socket: HTTP over a Unix socket, never TCP, so access is the socket file's
 * permissions. `pfsteer status | drain | undrain | reload` are its clients.
 */
import { chmod, chown, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { PfsteerError } from '../errors.ts';

export interface ControlHandlers {
  status(): unknown;
  drain(host: string): Promise<unknown>;
  undrain(host: string): Promise<unknown>;
  states(host: string): Promise<unknown>;
  reload(): Promise<unknown>;
  metrics(): Promise<string>;
}

export class ControlServer {
  readonly #server: Server;
  readonly #path: string;
  readonly closed: Promise<void>;
  #resolveClosed!: () => void;

  private constructor(server: Server, path: string) {
    this.#server = server;
    this.#path = path;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  static async listen(path: string, mode: number, group: string | undefined, handlers: ControlHandlers): Promise<ControlServer> {
    const server = createServer((request, response) => void route(handlers, request, response));
    // A socket file left by a crashed daemon would make listen fail with EADDRINUSE.
    await rm(path, { force: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
    await chmod(path, mode);
    if (group !== undefined) await chown(path, -1, await groupId(group));
    return new ControlServer(server, path);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await rm(this.#path, { force: true });
    this.#resolveClosed();
  }
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

async function route(handlers: ControlHandlers, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://pfsteer');
  const [, verb, host] = url.pathname.split('/');
  try {
    if (request.method === 'GET' && verb === 'status') return send(response, 200, handlers.status());
    if (request.method === 'GET' && verb === 'metrics') return send(response, 200, await handlers.metrics(), 'text/plain; version=0.0.4');
    if (request.method === 'GET' && verb === 'states' && host) return send(response, 200, await handlers.states(decodeURIComponent(host)));
    if (request.method === 'POST' && verb === 'drain' && host) return send(response, 200, await handlers.drain(decodeURIComponent(host)));
    if (request.method === 'POST' && verb === 'undrain' && host) return send(response, 200, await handlers.undrain(decodeURIComponent(host)));
    if (request.method === 'POST' && verb === 'reload') return send(response, 200, await handlers.reload());
    send(response, 404, { error: { code: 'not-found', message: `no ${request.method} ${url.pathname}` } });
  } catch (error) {
    const code = error instanceof PfsteerError ? error.code : 'internal';
    send(response, error instanceof PfsteerError ? 400 : 500, { error: { code, message: (error as Error).message } });
  }
}
