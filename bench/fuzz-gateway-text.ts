/** Fuzz inputs for the UPnP gateway's text (SSDP answers, device descriptions, SOAP answers). */
import fc from 'fast-check';

/**
 * What a LAN host answering our SSDP search controls: the answer's headers, the device description
 * and SOAP answers. Pieces that steer a backtracking parser (tags that never close, attributes that
 * never end, unterminated CDATA) are repeated into bombs up to 64 KiB, where a quadratic parse costs
 * far over the runner's time budget.
 */
const GATEWAY_PIECES = [
  '<service>', '</service>', '<service ', '<serviceType>', 'urn:schemas-upnp-org:service:WANIPConnection:1', '</serviceType>',
  '<controlURL>', '/ctl', 'http://127.0.0.2/x', '</controlURL>', '<URLBase>', '</URLBase>', '<a ', '<a>', '</a>', '<u:AResponse>',
  '</u:AResponse>', '<UPnPError>', '<errorCode>', '718', '</errorCode>', '<![CDATA[', ']]>', '>', '/>', '&amp;', '&#x41;', '&#99999999;',
  ' ', '\r\n', 'ST: urn:x', 'LOCATION: http://10.0.0.1:5000/d.xml', 'HTTP/1.1 200 OK', ':',
];
export const gatewayText = fc.oneof(
  { weight: 3, arbitrary: fc.array(fc.constantFrom(...GATEWAY_PIECES), { maxLength: 200 }).map((pieces) => pieces.join('')) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom(...GATEWAY_PIECES), fc.constantFrom(...GATEWAY_PIECES), fc.integer({ min: 1, max: 64 * 1024 }))
      .map(([head, piece, bytes]) => head + piece.repeat(Math.ceil(bytes / piece.length))),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 2000 }) },
);
