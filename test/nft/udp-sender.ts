/**
 * Sends one UDP datagram from each source address read on stdin (one per line) to the given
 * IPv4 or IPv6 destination. Runs inside a test namespace where those sources are local.
 */
import dgram from 'node:dgram';
import { text } from 'node:stream/consumers';

const [port, dst4, dst6] = process.argv.slice(2);
const list = (await text(process.stdin)).split('\n').filter((l) => l !== '');
for (const src of list) {
  const v6 = src.includes(':');
  const socket = dgram.createSocket(v6 ? 'udp6' : 'udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address: src, port: 0 }, () => resolve());
  });
  await new Promise<void>((resolve, reject) => socket.send('x', Number(port), v6 ? dst6 : dst4, (e) => (e ? reject(e) : resolve())));
  socket.close();
}
