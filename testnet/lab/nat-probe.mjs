// The NAT probe: tells what mapping a router makes, with two UDP reflectors on a public host.
//   node nat-probe.mjs reflect <ip> <port> <port>   answers each datagram with "<ip>:<port>" of its sender
//   node nat-probe.mjs probe <ip> <port> <port>     one socket sends to both ports; prints {"mapped":[…]}
// Endpoint-independent mapping shows one external port for both destinations; symmetric shows two.
import dgram from 'node:dgram';

const [mode, ip, ...ports] = process.argv.slice(2);
const TIMEOUT_MS = 5000;

if (mode === 'reflect') {
  for (const port of ports) {
    const socket = dgram.createSocket('udp4');
    socket.on('message', (_, from) => socket.send(`${from.address}:${from.port}`, from.port, from.address));
    socket.bind(Number(port), ip);
  }
  setTimeout(() => process.exit(0), 60_000).unref();
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
  console.log(JSON.stringify({ ready: true }));
} else if (mode === 'probe') {
  const socket = dgram.createSocket('udp4');
  const mapped = new Map();
  const timer = setTimeout(() => {
    console.log(JSON.stringify({ error: `no answer within ${TIMEOUT_MS} ms`, mapped: [...mapped.values()] }));
    process.exit(1);
  }, TIMEOUT_MS);
  socket.on('message', (text, from) => {
    mapped.set(from.port, String(text));
    if (mapped.size === ports.length) {
      clearTimeout(timer);
      console.log(JSON.stringify({ mapped: ports.map((port) => mapped.get(Number(port))) }));
      process.exit(0);
    }
  });
  socket.bind(0, () => {
    // Each destination gets a few tries: the first packet may race the reflector's ARP.
    const send = () => { for (const port of ports) if (!mapped.has(Number(port))) socket.send('probe', Number(port), ip); };
    send();
    setInterval(send, 300).unref();
  });
} else {
  console.error('usage: nat-probe.mjs reflect|probe <ip> <port> <port>');
  process.exit(2);
}
