import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LISTEN, parseCommandLine, UsageError } from '../../demo/cli-args.js';

const ID = 'ab'.repeat(20);
const OTHER_ID = 'cd'.repeat(20);

function nodeConfig(...args: string[]) {
  const command = parseCommandLine(['node', ...args]);
  if (command.kind !== 'node') throw new Error('expected a node command');
  return command;
}

function usageError(...args: string[]): string {
  try {
    parseCommandLine(args);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).not.toContain('\n');
    return (error as Error).message;
  }
  throw new Error(`expected a UsageError for ${args.join(' ')}`);
}

describe('meshlink command line', () => {
  it('fills the defaults of a bare "meshlink node"', () => {
    const { config, logLevel } = nodeConfig();
    expect(config).toEqual({
      listen: [DEFAULT_LISTEN],
      ws: undefined,
      persistent: [],
      seeds: [],
      home: join(homedir(), '.meshlink'),
      network: 'meshlink',
      moniker: '',
      status: undefined,
      web: undefined,
      maxInbound: undefined,
      maxOutbound: undefined,
      allowLocal: false,
      nat: undefined,
      seedMode: false,
    });
    expect(logLevel).toBe('info');
  });

  it('parses every flag, repeatable ones and comma-separated seeds included', () => {
    const { config, logLevel } = nodeConfig(
      '--listen', 'tcp://127.0.0.1:0',
      '--listen', 'tcp://[::1]:26656',
      '--persistent', `tcp://${ID}@127.0.0.1:26656`,
      '--persistent', `ws://${OTHER_ID}@example.org:1`,
      '--seeds', `tcp://${ID}@10.0.0.1:26656, tcp://${OTHER_ID}@10.0.0.2:26656`,
      '--seeds', `tcp://${ID}@10.0.0.3:26656`,
      '--home', '~/mesh',
      '--network', 'testnet',
      '--moniker', 'relay-1',
      '--status', '127.0.0.1:0',
      '--log-level', 'debug',
      '--max-inbound', '100',
      '--max-outbound=0',
      '--ws', '[::1]:0',
      '--web', '127.0.0.1:8080',
      '--allow-local',
      '--nat', 'upnp',
      '--seed-mode',
    );
    expect(config.listen).toEqual(['tcp://127.0.0.1:0', 'tcp://[::1]:26656']);
    expect(config.persistent).toEqual([`tcp://${ID}@127.0.0.1:26656`, `ws://${OTHER_ID}@example.org:1/`]);
    expect(config.seeds).toEqual([`tcp://${ID}@10.0.0.1:26656`, `tcp://${OTHER_ID}@10.0.0.2:26656`, `tcp://${ID}@10.0.0.3:26656`]);
    expect(config.home).toBe(join(homedir(), 'mesh'));
    expect(config).toMatchObject({ network: 'testnet', moniker: 'relay-1', status: { host: '127.0.0.1', port: 0 }, maxInbound: 100, maxOutbound: 0 });
    expect(config).toMatchObject({ ws: { host: '::1', port: 0 }, web: { host: '127.0.0.1', port: 8080 }, allowLocal: true, nat: 'upnp', seedMode: true });
    expect(logLevel).toBe('debug');
  });

  it('takes --nat upnp, nat-pmp or none', () => {
    expect(nodeConfig('--nat', 'nat-pmp').config.nat).toBe('nat-pmp');
    expect(nodeConfig('--nat=upnp').config.nat).toBe('upnp');
    expect(nodeConfig('--nat', 'none').config.nat).toBeUndefined();
    expect(usageError('node', '--nat', 'NAT-PMP')).toMatch(/--nat must be upnp, nat-pmp or none, got "NAT-PMP"/);
  });

  it('takes --trusted-proxy, repeatable, as IP addresses for the WebSocket listener', () => {
    expect(nodeConfig('--ws', '127.0.0.1:0', '--trusted-proxy', '127.0.0.1', '--trusted-proxy', '::1').config.trustedProxies).toEqual(['127.0.0.1', '::1']);
    expect(usageError('node', '--ws', '127.0.0.1:0', '--trusted-proxy', 'proxy.example.org')).toMatch(/--trusted-proxy must be an IP address/);
    expect(usageError('node', '--trusted-proxy', '127.0.0.1')).toMatch(/--trusted-proxy.*--ws/);
  });

  it('answers --help and "help"', () => {
    expect(parseCommandLine(['--help'])).toEqual({ kind: 'help' });
    expect(parseCommandLine(['node', '-h'])).toEqual({ kind: 'help' });
    expect(parseCommandLine(['help'])).toEqual({ kind: 'help' });
    expect(parseCommandLine(['--version'])).toEqual({ kind: 'version' });
  });

  it('rejects bad flags and values with a one-line reason naming the flag', () => {
    expect(usageError('node', '--bogus')).toMatch(/unknown flag --bogus/);
    expect(usageError('node', '--nat', 'pmp')).toMatch(/--nat must be upnp, nat-pmp or none/);
    expect(usageError()).toMatch(/missing command/);
    expect(usageError('serve')).toMatch(/unknown command "serve"/);
    expect(usageError('node', 'extra')).toMatch(/unexpected argument "extra"/);
    expect(usageError('node', '--listen')).toMatch(/--listen/);
    expect(usageError('node', '--listen', 'tcp://127.0.0.1:65536')).toMatch(/--listen.*port out of range/);
    expect(usageError('node', '--listen', '127.0.0.1:26656')).toMatch(/--listen.*protocol/);
    expect(usageError('node', '--listen', 'ws://127.0.0.1:1')).toMatch(/only tcp:\/\/.*--ws/);
    expect(usageError('node', '--persistent', `webrtc://${ID}`)).toMatch(/--persistent.*dials tcp:\/\//);
    expect(usageError('node', '--listen', `tcp://${ID}@127.0.0.1:1`)).toMatch(/no node id/);
    expect(usageError('node', '--persistent', 'tcp://127.0.0.1:26656')).toMatch(/--persistent.*node id/);
    expect(usageError('node', '--persistent', `tcp://${ID}@127.0.0.1:0`)).toMatch(/--persistent/);
    expect(usageError('node', '--seeds', `tcp://${ID}@h:1,tcp://nope@h:1`)).toMatch(/--seeds.*node id/);
    expect(usageError('node', '--status', 'localhost')).toMatch(/--status.*host:port/);
    expect(usageError('node', '--status', '127.0.0.1:70000')).toMatch(/--status.*0\.\.65535/);
    expect(usageError('node', '--log-level', 'loud')).toMatch(/--log-level/);
    expect(usageError('node', '--max-inbound', 'ten')).toMatch(/--max-inbound/);
    expect(usageError('node', '--max-outbound=-1')).toMatch(/--max-outbound/);
    expect(usageError('node', '--network', '')).toMatch(/--network/);
    expect(usageError('node', '--moniker', 'x'.repeat(65))).toMatch(/--moniker/);
  });

  it('validates --ws as host:port', () => {
    expect(nodeConfig('--ws', '127.0.0.1:26657').config.ws).toEqual({ host: '127.0.0.1', port: 26657 });
    expect(usageError('node', '--ws', 'nonsense')).toMatch(/--ws.*host:port/);
    expect(usageError('node', '--ws', 'ws://127.0.0.1:1')).toMatch(/--ws.*host:port/);
    expect(usageError('node', '--ws', '127.0.0.1:65536')).toMatch(/--ws.*0\.\.65535/);
  });

  it('validates --web as host:port and requires --ws with it (the page dials the WebSocket listener)', () => {
    expect(nodeConfig('--ws', '127.0.0.1:0', '--web', '[::1]:0').config).toMatchObject({ ws: { host: '127.0.0.1', port: 0 }, web: { host: '::1', port: 0 } });
    expect(usageError('node', '--ws', '127.0.0.1:0', '--web', 'http://127.0.0.1:8080')).toMatch(/--web.*host:port/);
    expect(usageError('node', '--ws', '127.0.0.1:0', '--web', '127.0.0.1:99999')).toMatch(/--web.*0\.\.65535/);
    expect(usageError('node', '--web', '127.0.0.1:8080')).toMatch(/--web .*--ws/);
  });

  it('turns --webrtc and repeatable --ice-server into WebRTC options with STUN and TURN servers', () => {
    expect(nodeConfig().config.webrtc).toBeUndefined();
    expect(nodeConfig('--webrtc').config.webrtc).toEqual({ iceServers: [] });
    const { config } = nodeConfig('--webrtc', '--ice-server', 'stun:11.0.0.2:3478', '--ice-server', 'turn:11.0.0.2:3478?transport=udp,alice,s3,cr,et');
    expect(config.webrtc).toEqual({
      iceServers: [{ urls: 'stun:11.0.0.2:3478' }, { urls: 'turn:11.0.0.2:3478?transport=udp', username: 'alice', credential: 's3,cr,et' }],
    });
  });

  it('refuses ICE servers without --webrtc, TURN without credentials, STUN with them, and other schemes', () => {
    expect(usageError('node', '--ice-server', 'stun:h:3478')).toMatch(/--ice-server.*--webrtc/);
    expect(usageError('node', '--webrtc', '--ice-server', 'turn:h:3478')).toMatch(/TURN.*username,credential/);
    expect(usageError('node', '--webrtc', '--ice-server', 'turns:h:5349,alice')).toMatch(/TURN.*username,credential/);
    expect(usageError('node', '--webrtc', '--ice-server', 'stun:h:3478,alice,secret')).toMatch(/STUN.*no username/);
    expect(usageError('node', '--webrtc', '--ice-server', 'http://h:3478')).toMatch(/stun:, stuns:, turn: or turns:/);
  });

  it('takes --recv-rate in bytes a second, 0 for no limit (unset: the default of the program)', () => {
    expect(nodeConfig('--recv-rate', '1048576').config.recvRateBytesPerSec).toBe(1048576);
    expect(nodeConfig('--recv-rate', '0').config.recvRateBytesPerSec).toBe(0);
    expect(nodeConfig().config.recvRateBytesPerSec).toBeUndefined();
    expect(usageError('node', '--recv-rate', 'fast')).toMatch(/--recv-rate/);
    expect(usageError('node', '--recv-rate', '-1')).toMatch(/--recv-rate/);
    expect(usageError('node', '--recv-rate', '99999999999999')).toMatch(/--recv-rate/);
  });

  it('takes --gossip-interval in ms within bounds', () => {
    expect(nodeConfig('--gossip-interval', '500').config.gossipIntervalMs).toBe(500);
    expect(nodeConfig().config.gossipIntervalMs).toBeUndefined();
    expect(usageError('node', '--gossip-interval', '5')).toMatch(/--gossip-interval.*10\.\./);
    expect(usageError('node', '--gossip-interval', 'often')).toMatch(/--gossip-interval/);
  });
});
