/**
 * The backend application behind each test haproxy: answers every request with its host's name;
 * `/slow?ms=N` answers after N ms (at most 20 s) so a test can hold a connection open.
 */
import http from 'node:http';

const [name, host, port] = process.argv.slice(2);
const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const ms = Math.min(Number(url.searchParams.get('ms') ?? 0) || 0, 20_000);
  const answer = () => res.end(`${name}\n`);
  if (url.pathname === '/slow') setTimeout(answer, ms);
  else answer();
});
server.listen(Number(port), host, () => process.stdout.write('ready\n'));
