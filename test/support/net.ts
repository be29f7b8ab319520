import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A loopback port nothing listens on (it was free a moment ago). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface Backend {
  server: Server;
  port: number;
  /** Answers 200 while true, 503 otherwise. */
  healthy: boolean;
}

/** `count` loopback HTTP backends answering health checks as their `healthy` flag says. */
export async function startBackends(count: number): Promise<Backend[]> {
  const backends: Backend[] = [];
  for (let i = 0; i < count; i++) {
    const backend: Backend = { server: createServer(), port: 0, healthy: true };
    backend.server.on('request', (_req, res) => res.writeHead(backend.healthy ? 200 : 503).end());
    await new Promise<void>((resolve) => backend.server.listen(0, '127.0.0.1', resolve));
    backend.port = (backend.server.address() as AddressInfo).port;
    backends.push(backend);
  }
  return backends;
}
