import { describe, expect, it } from 'vitest';
import { MeshlinkError } from '../../src/errors.js';
import { MissingDependencyError, requireOptional, requireOptionalIfPresent } from '../../platforms/node/optional-dependency.js';

describe('optional packages', () => {
  it('a missing package is a MissingDependencyError naming it, the feature, and the command that installs it', () => {
    let caught: unknown;
    try {
      requireOptional('meshlink-test-no-such-package', 'The test feature');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(MissingDependencyError);
    expect(caught).toBeInstanceOf(MeshlinkError);
    expect(caught).toMatchObject({
      name: 'MissingDependencyError',
      code: 'ERR_MISSING_DEPENDENCY',
      packageName: 'meshlink-test-no-such-package',
      detail: { packageName: 'meshlink-test-no-such-package', feature: 'The test feature', installed: false },
    });
    expect((caught as Error).message).toBe(
      'The test feature needs the optional package meshlink-test-no-such-package, which is not installed: run `npm install meshlink-test-no-such-package`',
    );
  });

  it('loads an installed one, and tells a missing accelerator by undefined', () => {
    expect(typeof requireOptional<{ create: unknown }>('nat-upnp', 'UPnP', 'nat-upnp/lib/nat-upnp/ssdp.js').create).toBe('function');
    expect(requireOptionalIfPresent('meshlink-test-no-such-package')).toBeUndefined();
    expect(requireOptionalIfPresent('sodium-native')).toBeDefined();
  });
});
