/** The CLI side of the control socket. */
import { request } from 'node:http';
import { PfsteerError } from '../errors.ts';

export class ControlError extends PfsteerError {}

export async function callControl<T>(socket: string, method: 'GET' | 'POST', path: string, timeoutMs = 30_000): Promise<T> {
  const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request({ socketPath: socket, method, path, timeout: timeoutMs }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      response.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  }).catch((error: NodeJS.ErrnoException) => {
    const hint = error.code === 'ENOENT' || error.code === 'ECONNREFUSED' ? ' (is `pfsteer run` running with this config?)' : error.code === 'EACCES' ? ' (the socket mode or group does not let this user in)' : '';
    throw new ControlError('control-unreachable', `cannot reach the daemon at ${socket}: ${error.message}${hint}`, { cause: error });
  });
  if (path === '/metrics') return body as T;
  const parsed = JSON.parse(body) as T & { error?: { code: string; message: string } };
  if (status !== 200) throw new ControlError(parsed.error?.code ?? 'control', parsed.error?.message ?? `status ${status}`);
  return parsed;
}
