/**
 * A scripted UPnP gateway on loopback HTTP (no root needed): a small in-memory IGD speaking just enough
 * SOAP, whose actions a test can override one by one.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { xmlChildren } from '../../../platforms/node/upnp/soap.js';

export type Args = Record<string, string>;
export type Answer = Args | { fault: number; description?: string } | { status: number; body: string } | 'hang';

interface Entry {
  externalPort: number;
  protocol: string;
  internalClient: string;
  internalPort: number;
  description: string;
  lease: number;
}

/** A small in-memory IGD speaking just enough SOAP; `override` scripts individual actions. */
export class FakeGateway {
  readonly server: http.Server;
  readonly calls: Array<{ action: string; args: Args; body: string }> = [];
  readonly entries = new Map<string, Entry>();
  descriptionFetches = 0;
  override: Record<string, (args: Args) => Answer | undefined> = {};
  private readonly hanging = new Set<http.ServerResponse>();

  constructor(readonly igd: 1 | 2) {
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/rootDesc.xml`;
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      if (req.method === 'GET' && req.url === '/rootDesc.xml') {
        this.descriptionFetches += 1;
        res.writeHead(200, { 'Content-Type': 'text/xml' }).end(description(this.igd));
        return;
      }
      const action = /#(\w+)"?$/.exec(String(req.headers['soapaction']))?.[1] ?? '';
      const inner = new RegExp(`<u:${action}[^>]*>([\\s\\S]*)</u:${action}>`).exec(body)?.[1] ?? '';
      const args = xmlChildren(inner);
      this.calls.push({ action, args, body });
      const answer = this.override[action]?.(args) ?? this.standard(action, args);
      if (answer === 'hang') {
        this.hanging.add(res);
        return;
      }
      if ('status' in answer && 'body' in answer) {
        res.writeHead(answer.status as number).end(answer.body);
        return;
      }
      if ('fault' in answer) {
        res.writeHead(500, { 'Content-Type': 'text/xml' }).end(fault(answer.fault as number, (answer.description as string | undefined) ?? 'Error'));
        return;
      }
      const service = `urn:schemas-upnp-org:service:WANIPConnection:${this.igd}`;
      const out = Object.entries(answer as Args).map(([k, v]) => `<${k}>${v}</${k}>`).join('');
      res.writeHead(200, { 'Content-Type': 'text/xml' }).end(
        `<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><u:${action}Response xmlns:u="${service}">${out}</u:${action}Response></s:Body></s:Envelope>`,
      );
    });
  }

  private standard(action: string, args: Args): Answer {
    const key = `${args['NewExternalPort']}/${args['NewProtocol']}`;
    switch (action) {
      case 'GetExternalIPAddress':
        return { NewExternalIPAddress: '8.8.4.7' };
      case 'AddPortMapping':
      case 'AddAnyPortMapping': {
        let port = Number(args['NewExternalPort']);
        const taken = (p: number): boolean => {
          const e = this.entries.get(`${p}/${args['NewProtocol']}`);
          return e !== undefined && e.internalClient !== args['NewInternalClient'];
        };
        if (taken(port)) {
          if (action === 'AddPortMapping') return { fault: 718, description: 'ConflictInMappingEntry' };
          while (taken(port)) port += 1;
        }
        this.entries.set(`${port}/${args['NewProtocol']}`, {
          externalPort: port,
          protocol: args['NewProtocol']!,
          internalClient: args['NewInternalClient']!,
          internalPort: Number(args['NewInternalPort']),
          description: args['NewPortMappingDescription']!,
          lease: Number(args['NewLeaseDuration']),
        });
        return action === 'AddAnyPortMapping' ? { NewReservedPort: String(port) } : {};
      }
      case 'DeletePortMapping':
        return this.entries.delete(key) ? {} : { fault: 714, description: 'NoSuchEntryInArray' };
      case 'GetSpecificPortMappingEntry': {
        const e = this.entries.get(key);
        if (e === undefined) return { fault: 714, description: 'NoSuchEntryInArray' };
        return {
          NewInternalPort: String(e.internalPort),
          NewInternalClient: e.internalClient,
          NewEnabled: '1',
          NewPortMappingDescription: e.description,
          NewLeaseDuration: String(e.lease),
        };
      }
      case 'GetGenericPortMappingEntry': {
        const e = [...this.entries.values()][Number(args['NewPortMappingIndex'])];
        if (e === undefined) return { fault: 713, description: 'SpecifiedArrayIndexInvalid' };
        return {
          NewRemoteHost: '',
          NewExternalPort: String(e.externalPort),
          NewProtocol: e.protocol,
          NewInternalPort: String(e.internalPort),
          NewInternalClient: e.internalClient,
          NewEnabled: '1',
          NewPortMappingDescription: e.description,
          NewLeaseDuration: String(e.lease),
        };
      }
      default:
        return { fault: 401, description: 'Invalid Action' };
    }
  }
}

function description(igd: 1 | 2): string {
  return `<?xml version="1.0"?><root xmlns="urn:schemas-upnp-org:device-1-0"><device>
    <deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:${igd}</deviceType><friendlyName>fake &amp; gateway</friendlyName>
    <serviceList><service><serviceType>urn:schemas-upnp-org:service:Layer3Forwarding:1</serviceType><controlURL>/ctl/L3F</controlURL></service></serviceList>
    <deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:${igd}</deviceType><deviceList><device>
      <serviceList><service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:${igd}</serviceType>
        <serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId><SCPDURL>/WANIPCn.xml</SCPDURL><controlURL>/ctl/IPConn</controlURL>
      </service></serviceList></device></deviceList></device></deviceList></device></root>`;
}

export function fault(code: number, text: string): string {
  return (
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Client</faultcode>' +
    '<faultstring>UPnPError</faultstring><detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0">' +
    `<errorCode>${code}</errorCode><errorDescription>${text}</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>`
  );
}
