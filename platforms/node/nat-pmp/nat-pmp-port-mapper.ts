/**
 * PortMapper over NAT-PMP (RFC 6886) for Node: UDP datagrams to the gateway's port 5351.
 *
 * Behaviour worth knowing:
 *  - The gateway is the `gateway` option, else the IPv4 default route's gateway read from
 *    /proc/net/route (Linux) on every call, so a changed route is followed. No other discovery.
 *  - Each request is retransmitted after 250 ms, then at doubling intervals (RFC 6886 section 3.1),
 *    and the whole exchange is bounded by `timeoutMs` (default 2 s): no answer means no NAT-PMP
 *    gateway (NatPmpError, reason 'no-gateway'). A non-zero result code rejects with NatPmpError
 *    (reason 'refused', `resultCode` 1..5), except result 3 "network failure" to an external
 *    address request, which resolves '' (the gateway has no external address: PortMapper's contract).
 *  - Each datagram, retransmissions included, spends one request of the caller's `budget`
 *    (NatCallOptions): none left for the first, the call rejects with GatewayBudgetError; for a
 *    retransmission, it is not sent and the answer to the datagrams sent is awaited until the deadline.
 *  - NAT-PMP maps to the address the request comes from: `internalHost` can only be that address.
 *    It has no descriptions and no way to list or look up the table (no list()); a deletion names the
 *    internal port, and the gateway only ever deletes the requesting host's own mapping of it.
 *  - A permanent mapping (ttlSeconds 0) can't be asked for (lifetime 0 deletes): it asks for a week.
 *  - With exactExternalPort the gateway may still grant another port (NAT-PMP has no "this port or
 *    nothing"); map() resolves with what was granted, as the gateway already holds it.
 */
import dgram from 'node:dgram';
import { abortReason, sharedAbortController, throwIfAborted, withAnySignal } from '../../../src/util/abort.js';
import { readFile } from 'node:fs/promises';
import { ClosedError, ConfigError } from '../../../src/errors.js';
import { MAX_LEASE_SECONDS } from '../../../src/nat/constants.js';
import {
  NAT_PMP_RESULT,
  NatPmpError,
  natPmpResultName,
  spendGatewayRequest,
  validateMapRequest,
  validatePort,
  type MapRequest,
  type Mapping,
  type MappingProtocol,
  type NatCallOptions,
  type PortMapper,
  type UnmapRequest,
} from '../../../src/nat/port-mapper.js';
import {
  NAT_PMP_PORT,
  NatPmpDecodeError,
  OPCODE_EXTERNAL_ADDRESS,
  decodeResponse,
  encodeExternalAddressRequest,
  encodeMappingRequest,
  opcodeFor,
  parseDefaultGateway,
  type ExternalAddressResponse,
  type MappingResponse,
  type Response,
} from './codec.js';
import {
  NAT_PMP_INITIAL_RETRANSMIT_MS,
  resolveNatPmpPortMapperConfig,
  type NatPmpPortMapperConfig,
  type NatPmpPortMapperOptions,
} from './nat-pmp-port-mapper-config.js';

export function createNatPmpPortMapper(options?: NatPmpPortMapperOptions): NatPmpPortMapper {
  return new NatPmpPortMapper(options);
}

interface OpenSocket {
  socket: dgram.Socket;
  gateway: string;
  localAddress: string;
  /** The last error the socket reported (ICMP port unreachable arrives as ECONNREFUSED). */
  lastError: Error | undefined;
}

export class NatPmpPortMapper implements PortMapper {
  readonly kind = 'nat-pmp';
  readonly config: Readonly<NatPmpPortMapperConfig>;
  private open: Promise<OpenSocket> | undefined;
  private closed = false;
  private readonly closeController = sharedAbortController();
  /** Mappings this mapper obtained, by `${protocol}:${internalPort}` (NAT-PMP deletes by internal port). */
  private readonly ours = new Map<string, Mapping>();

  constructor(options?: NatPmpPortMapperOptions) {
    this.config = Object.freeze(resolveNatPmpPortMapperConfig(options));
  }

  /** The gateway's LAN address: the `gateway` option or the default route's. Rejects with NatPmpError('no-gateway'). */
  async gateway(): Promise<string> {
    if (this.config.gateway !== undefined) return this.config.gateway;
    let table: string;
    try {
      table = await readFile(this.config.routeFile, 'utf8');
    } catch (error) {
      throw new NatPmpError(`Cannot read the routing table (${this.config.routeFile}) to find the gateway; pass the gateway option`, {
        opcode: OPCODE_EXTERNAL_ADDRESS,
        reason: 'no-gateway',
      }, { cause: error });
    }
    const gateway = parseDefaultGateway(table);
    if (gateway === undefined) {
      throw new NatPmpError('No IPv4 default route: no gateway to ask', { opcode: OPCODE_EXTERNAL_ADDRESS, reason: 'no-gateway' });
    }
    return gateway;
  }

  async externalIp(options: NatCallOptions = {}): Promise<string> {
    const response = (await this.exchange(encodeExternalAddressRequest(), OPCODE_EXTERNAL_ADDRESS, undefined, options)) as ExternalAddressResponse;
    if (response.resultCode === NAT_PMP_RESULT.NetworkFailure) return '';
    if (response.resultCode !== NAT_PMP_RESULT.Success) throw refusal(response, 'external address request');
    return response.externalIp === '0.0.0.0' ? '' : response.externalIp;
  }

  async map(request: MapRequest, options: NatCallOptions = {}): Promise<Mapping> {
    validateMapRequest(request);
    const opcode = opcodeFor(request.protocol);
    const { localAddress } = await this.socketFor(options);
    if (request.internalHost !== undefined && request.internalHost !== localAddress) {
      throw new ConfigError(
        'ERR_INVALID_ARGUMENT',
        `NAT-PMP maps to the requesting host only (${localAddress}), not to ${request.internalHost}`,
      );
    }
    const payload = encodeMappingRequest({
      protocol: request.protocol,
      internalPort: request.internalPort,
      suggestedExternalPort: request.externalPort ?? request.internalPort,
      lifetimeSeconds: request.ttlSeconds === 0 ? MAX_LEASE_SECONDS : request.ttlSeconds,
    });
    const response = (await this.exchange(payload, opcode, request.internalPort, options)) as MappingResponse;
    if (response.resultCode !== NAT_PMP_RESULT.Success) throw refusal(response, `mapping of ${request.protocol} port ${request.internalPort}`);
    if (response.externalPort === 0) {
      // "Success" with no port: advertised, it would send peers to port 0 (and unmapping it is refused).
      throw new NatPmpError(`The gateway mapped ${request.protocol} port ${request.internalPort} to external port 0`, { opcode });
    }
    const mapping: Mapping = {
      protocol: request.protocol,
      externalPort: response.externalPort,
      internalHost: localAddress,
      internalPort: response.internalPort,
      description: request.description,
      ttlSeconds: response.lifetimeSeconds,
    };
    if (!this.closed) this.ours.set(keyOf(request.protocol, request.internalPort), mapping);
    return { ...mapping };
  }

  /**
   * Deletes the mapping of `internalPort` (from the request, else from the mappings this mapper
   * made). Resolves false, asking nothing, when the entry is not ours: another host, or our record
   * says that internal port is mapped on another external port.
   */
  async unmap(request: UnmapRequest, options: NatCallOptions = {}): Promise<boolean> {
    validatePort(request.externalPort, 'externalPort');
    let internalPort = request.internalPort;
    if (internalPort === undefined) {
      for (const mapping of this.ours.values()) {
        if (mapping.protocol === request.protocol && mapping.externalPort === request.externalPort) internalPort = mapping.internalPort;
      }
    }
    if (internalPort === undefined) {
      throw new ConfigError('ERR_INVALID_ARGUMENT', 'NAT-PMP removes a mapping by its internal port: give internalPort');
    }
    validatePort(internalPort, 'internalPort');
    const { localAddress } = await this.socketFor(options);
    if (request.internalHost !== undefined && request.internalHost !== localAddress) return false;
    const key = keyOf(request.protocol, internalPort);
    const known = this.ours.get(key);
    if (known !== undefined && known.externalPort !== request.externalPort) return false;
    const payload = encodeMappingRequest({ protocol: request.protocol, internalPort, suggestedExternalPort: 0, lifetimeSeconds: 0 });
    const response = await this.exchange(payload, opcodeFor(request.protocol), internalPort, options);
    if (response.resultCode !== NAT_PMP_RESULT.Success) throw refusal(response, `removal of ${request.protocol} port ${internalPort}`);
    this.ours.delete(key);
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.ours.clear();
    this.closeController.abort(new ClosedError('NAT-PMP port mapper closed'));
    const open = this.open;
    this.open = undefined;
    const socket = await open?.then((s) => s.socket).catch(() => undefined);
    socket?.close();
  }

  // ------------------------------------------------------------------------------------ internals

  /** A UDP socket connected to the gateway's port 5351 (so the kernel drops datagrams from anyone else). */
  private async socketFor(options: NatCallOptions): Promise<OpenSocket> {
    if (this.closed) throw new ClosedError('NAT-PMP port mapper closed');
    throwIfAborted(options.signal);
    const gateway = await this.gateway();
    const current = this.open;
    if (current !== undefined) {
      const open = await current.catch(() => undefined);
      if (open !== undefined && open.gateway === gateway) return open;
      // the route moved, or the last open failed: start over
      if (this.open === current) this.open = undefined;
      open?.socket.close();
    }
    if (this.closed) throw new ClosedError('NAT-PMP port mapper closed');
    this.open ??= connectSocket(gateway);
    const open = await this.open;
    if (this.closed) {
      open.socket.close();
      throw new ClosedError('NAT-PMP port mapper closed');
    }
    return open;
  }

  /**
   * Sends `payload` at 0, 250, 750, 1750 ms... until a response to `opcode` (for `internalPort`)
   * arrives, `timeoutMs` runs out, or the signal (or close()) fires.
   */
  private async exchange(payload: Uint8Array, opcode: number, internalPort: number | undefined, options: NatCallOptions): Promise<Response> {
    const open = await this.socketFor(options);
    const budget = options.budget;
    // The first datagram needs the caller's allowance; a retransmission without it is skipped, and the
    // answer to what was sent is still awaited until the deadline.
    spendGatewayRequest(options, `NAT-PMP request (opcode ${opcode})`);
    const mayResend = budget === undefined ? () => true : () => budget.take();
    return withAnySignal([options.signal, this.closeController.signal], (signal) =>
      this.exchangeOn(open, signal, payload, opcode, internalPort, mayResend),
    );
  }

  private exchangeOn(
    open: OpenSocket,
    signal: AbortSignal,
    payload: Uint8Array,
    opcode: number,
    internalPort: number | undefined,
    mayResend: () => boolean,
  ): Promise<Response> {
    throwIfAborted(signal);
    const { socket, gateway } = open;
    const timeoutMs = this.config.timeoutMs;
    return new Promise<Response>((resolve, reject) => {
      let sent = 0;
      let garbage: Error | undefined;
      let retransmit: ReturnType<typeof setTimeout> | undefined;
      const send = (): void => {
        sent += 1;
        socket.send(payload, (error) => {
          if (error) open.lastError = error;
        });
        retransmit = setTimeout(() => {
          if (mayResend()) send();
        }, NAT_PMP_INITIAL_RETRANSMIT_MS * 2 ** (sent - 1));
      };
      const deadline = setTimeout(() => {
        const detail = { gateway, requests: sent, timeoutMs };
        if (garbage !== undefined) {
          finish(() => reject(new NatPmpError(`The gateway ${gateway} answered NAT-PMP with garbage: ${garbage!.message}`, { opcode }, { cause: garbage, detail })));
          return;
        }
        const socketError = open.lastError === undefined ? '' : ` (${open.lastError.message})`;
        finish(() =>
          reject(
            new NatPmpError(
              `No NAT-PMP answer from ${gateway}:${NAT_PMP_PORT} within ${timeoutMs} ms (${sent} requests)${socketError}`,
              { opcode, reason: 'no-gateway' },
              { cause: open.lastError, detail },
            ),
          ),
        );
      }, timeoutMs);
      const onMessage = (datagram: Buffer): void => {
        let response: Response;
        try {
          response = decodeResponse(datagram);
        } catch (error) {
          if (error instanceof NatPmpDecodeError) garbage = error;
          return;
        }
        // An answer to another request of ours (or a late duplicate): keep waiting.
        if (response.opcode !== opcode && response.resultCode !== NAT_PMP_RESULT.UnsupportedOpcode) return;
        if (internalPort !== undefined && response.resultCode === NAT_PMP_RESULT.Success && (response as MappingResponse).internalPort !== internalPort) return;
        finish(() => resolve(response));
      };
      const onAbort = (): void => finish(() => reject(abortReason(signal)));
      const finish = (settle: () => void): void => {
        clearTimeout(deadline);
        clearTimeout(retransmit);
        socket.off('message', onMessage);
        signal.removeEventListener('abort', onAbort);
        settle();
      };
      socket.on('message', onMessage);
      signal.addEventListener('abort', onAbort, { once: true });
      send();
    });
  }
}

function connectSocket(gateway: string): Promise<OpenSocket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    const open: OpenSocket = { socket, gateway, localAddress: '', lastError: undefined };
    const onConnectError = (error: Error): void => {
      socket.close();
      reject(new NatPmpError(`Cannot open a UDP socket to ${gateway}:${NAT_PMP_PORT}: ${error.message}`, { opcode: OPCODE_EXTERNAL_ADDRESS, reason: 'no-gateway' }, { cause: error }));
    };
    socket.once('error', onConnectError);
    socket.connect(NAT_PMP_PORT, gateway, () => {
      socket.off('error', onConnectError);
      // Later errors (ICMP port unreachable: ECONNREFUSED) are noted; the request's deadline decides.
      socket.on('error', (error) => {
        open.lastError = error;
      });
      open.localAddress = socket.address().address;
      // An idle mapper never keeps the process alive; a request in flight does, through its timers.
      socket.unref();
      resolve(open);
    });
  });
}

function refusal(response: Response, what: string): NatPmpError {
  const name = natPmpResultName(response.resultCode) ?? 'unknown result code';
  return new NatPmpError(`The gateway refused the ${what}: NAT-PMP result ${response.resultCode} (${name})`, {
    opcode: response.opcode,
    resultCode: response.resultCode,
  });
}

function keyOf(protocol: MappingProtocol, internalPort: number): string {
  return `${protocol}:${internalPort}`;
}
