/**
 * Stand-ins for haproxy: one HTTP server per host on 127.0.0.1 answering `/haproxy_check` with
 * 200. Stopping one closes its listener (checks get `connection refused`); starting it again
 * listens on the same port.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export class Backend {
  readonly name: string;
  port = 0;
  #server: Server | undefined;

  constructor(name: string) {
    this.name = name;
  }

  get running(): boolean {
    return this.#server !== undefined;
  }

  /** Listens on a free port the first time, on the same port afterwards. */
  async start(): Promise<void> {
    if (this.#server) return;
    const server = createServer((request, response) => {
      response.writeHead(request.url === '/haproxy_check' ? 200 : 404, { connection: 'close' }).end(`${this.name}\n`);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export async function startBackends(names: readonly string[]): Promise<Backend[]> {
  const backends = names.map((name) => new Backend(name));
  for (const backend of backends) await backend.start();
  return backends;
}
