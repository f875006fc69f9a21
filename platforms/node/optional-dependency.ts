/**
 * Loading the optional packages (peerDependencies marked optional in package.json): `@roamhq/wrtc`
 * for WebRTC in Node, `nat-upnp` for UPnP discovery, `sodium-native` for faster small frames. They are
 * heavy (native binaries, or a dependency tree with published advisories), so a plain install leaves
 * them out and they are loaded only when the feature that needs them is used.
 */
import { createRequire } from 'node:module';
import { MeshlinkError, type ErrorOptions } from '../../src/errors.js';

/** A feature was asked for whose optional package is not installed (or does not load). */
export class MissingDependencyError extends MeshlinkError {
  /** The npm package to install, e.g. '@roamhq/wrtc'. */
  readonly packageName: string;

  constructor(packageName: string, feature: string, options: ErrorOptions & { installed?: boolean } = {}) {
    const { installed = false, ...rest } = options;
    const problem = installed ? `is installed but failed to load (${causeMessage(rest.cause)})` : 'is not installed';
    super('ERR_MISSING_DEPENDENCY', `${feature} needs the optional package ${packageName}, which ${problem}: run \`npm install ${packageName}\``, {
      ...rest,
      detail: { packageName, feature, installed, ...rest.detail },
    });
    this.name = 'MissingDependencyError';
    this.packageName = packageName;
  }
}

const requireFromHere = createRequire(import.meta.url);

/**
 * `require(specifier)` for a CommonJS module of the optional package `packageName`; throws
 * MissingDependencyError naming the package (and `feature`, what needed it) when it can't be loaded.
 */
export function requireOptional<T>(packageName: string, feature: string, specifier: string = packageName): T {
  try {
    return requireFromHere(specifier) as T;
  } catch (error) {
    throw new MissingDependencyError(packageName, feature, { cause: error, installed: !isNotFound(error, packageName) });
  }
}

/** Like requireOptional, but undefined instead of an error: for packages that only make things faster. */
export function requireOptionalIfPresent<T>(packageName: string): T | undefined {
  try {
    return requireFromHere(packageName) as T;
  } catch {
    return undefined;
  }
}

function isNotFound(error: unknown, packageName: string): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') && typeof message === 'string' && message.includes(packageName);
}

function causeMessage(cause: unknown): string {
  return cause instanceof Error ? cause.message.split('\n')[0]! : String(cause);
}
