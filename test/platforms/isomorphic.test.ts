import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

const IMPORT = /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
const NODE_ONLY = new Set(['ws', 'nat-upnp', 'net', 'fs', 'os', 'path', 'crypto', 'http', 'dgram', 'child_process', 'stream', 'events', 'buffer', 'util']);
const DOM_GLOBALS = /\b(window|document|localStorage|sessionStorage|navigator|indexedDB)\s*\./;
const NODE_GLOBALS = /\b(process\.|Buffer\.|require\(|__dirname|__filename)/;

describe('src/ is isomorphic', () => {
  const files = sourceFiles(join(ROOT, 'src'));

  it('has source files to check', () => {
    expect(files.length).toBeGreaterThan(20);
  });

  it('imports nothing from node:*, Node-only packages or platforms/', () => {
    const offences: string[] = [];
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(IMPORT)) {
        const spec = match[1] ?? match[2]!;
        if (spec.startsWith('node:') || NODE_ONLY.has(spec) || spec.includes('platforms/')) {
          offences.push(`${relative(ROOT, file)} imports ${spec}`);
        }
      }
    }
    expect(offences).toEqual([]);
  });

  it('touches no DOM or Node globals', () => {
    const offences: string[] = [];
    for (const file of files) {
      const lines = readFileSync(file, 'utf8').split('\n');
      lines.forEach((line, index) => {
        const code = line.replace(/\/\/.*$/, '');
        if (/^\s*\*/.test(code)) return;
        if (DOM_GLOBALS.test(code) || NODE_GLOBALS.test(code)) offences.push(`${relative(ROOT, file)}:${index + 1}: ${line.trim()}`);
      });
    }
    expect(offences).toEqual([]);
  });
});
