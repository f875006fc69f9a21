import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** demo/ in a checkout, dist/demo/ in the package: the package.json is one or two folders up. */
const MAX_LEVELS_UP = 3;

/** The version in meshlink's own package.json, found upward from this file. */
export function packageVersion(): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  for (let level = 0; level <= MAX_LEVELS_UP; level++) {
    try {
      const manifest = JSON.parse(readFileSync(join(directory, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (manifest.name === 'meshlink' && typeof manifest.version === 'string') return manifest.version;
    } catch {
      // No package.json here (or not ours): look one folder up.
    }
    directory = dirname(directory);
  }
  throw new Error('cannot find meshlink\'s package.json');
}
