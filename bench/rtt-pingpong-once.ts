/**
 * `npx tsx bench/rtt-pingpong-once.ts <kind> <warm-up rounds> <rounds>` — both ends of one 64 B ping-pong
 * in this process (raw-ws, meshlink-ws, raw-tcp, meshlink-tcp…): connect, warm up, run `rounds`, exit. Made
 * to be run under `valgrind --tool=callgrind` by bench/rtt-instructions.sh, which runs it with two round
 * counts and divides the difference of the instruction totals by the difference of the rounds: setup,
 * warm-up and shutdown cancel out, and what is left is the instructions one round trip costs, a figure
 * that does not move with the machine's load as wall-clock and CPU time do. No timeout (valgrind runs
 * ~70× slower than native, slower still on a busy machine) and no clock reads of its own.
 */
import { payload, type ReceiverKind } from './common.js';
import { connectSender, startReceiver, type SenderPort } from './transports.js';

const [kind = 'meshlink-ws', warmUpText = '3000', roundsText = '2000'] = process.argv.slice(2);
const receiver = await startReceiver(kind as ReceiverKind);
const sender = await connectSender(kind as ReceiverKind, receiver.ready.address);
await receiver.setMode({ kind: 'echo' });

async function pingPong(port: SenderPort, rounds: number): Promise<void> {
  const message = payload(64);
  for (let i = 0; i < rounds; i++) {
    const reply = new Promise<Uint8Array>((resolve) => (port.onReply = resolve));
    const accepted = port.send(message);
    if (accepted !== true && !(await accepted)) throw new Error(`${kind}: send refused`);
    if ((await reply).length !== message.length) throw new Error(`${kind}: wrong echo`);
  }
}

await pingPong(sender, Number(warmUpText));
await pingPong(sender, Number(roundsText));
await sender.close();
await receiver.stop();
console.log(`rtt-pingpong-once: ${kind} done`);
