/**
 * Option resolution shared by the layers (MConnection, NatManager, the platforms' PortMappers): merge
 * over a frozen defaults object, then validate in one place, as STYLE.md's `resolveXConfig` asks.
 */
import { ConfigError } from '../errors.js';

const MAX_PORT = 0xffff;

/**
 * Merges `options` over `defaults`, skipping undefined values (so `{ key: undefined }` means "the
 * default"), then runs `check`. `reject(why)` throws ConfigError('ERR_INVALID_CONFIG') saying whose
 * config (`owner`) is wrong and carrying the merged config as detail.
 */
export function resolveConfig<Config extends object>(
  owner: string,
  defaults: Readonly<Config>,
  options: object,
  check: (config: Config, reject: (why: string) => never) => void,
): Config {
  const config = { ...defaults } as Config;
  const fields = config as Record<string, unknown>;
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined) fields[key] = value;
  }
  const reject = (why: string): never => {
    throw new ConfigError('ERR_INVALID_CONFIG', `Invalid ${owner} config: ${why}`, { detail: { ...fields } });
  };
  check(config, reject);
  return config;
}

/** An integer in min..max (inclusive); false for anything that is not a number. */
export function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return Number.isInteger(value) && (value as number) >= min && (value as number) <= max;
}

/** A TCP/UDP port a gateway can map: 1..65535 (0 means "any" to a socket, nothing to a gateway). */
export function isPortNumber(value: unknown): value is number {
  return isIntegerIn(value, 1, MAX_PORT);
}

/** A usable duration or timeout: NaN, Infinity and non-positive values are not. */
export function isPositiveFinite(value: number): boolean {
  return value > 0 && Number.isFinite(value);
}
