import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

describe('npm run sim', () => {
  it('40 nodes and 2 seeds over the memory transport form one connected graph, nobody eclipsed (--json)', async () => {
    const { stdout } = await run(
      'npm',
      ['run', '--silent', 'sim', '--', '--nodes', '40', '--seeds', '2', '--stagger-ms', '500', '--settle', '1', '--timeout', '30', '--json'],
      { cwd: new URL('../..', import.meta.url).pathname, timeout: 60_000 },
    );
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const report = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(report).toMatchObject({ nodes: 40, seeds: 2, malicious: 0, connected: true, eclipsed: 0, eclipsedShare: 0 });
    expect(report['timeToTargetSec']).toBeTypeOf('number');
    expect(report['timeToTargetSec'] as number).toBeLessThan(30);
    expect(report['degree']).toMatchObject({ min: expect.any(Number), median: expect.any(Number), max: expect.any(Number) });
    expect((report['degree'] as { min: number }).min).toBeGreaterThanOrEqual(10);
    expect(report['messages']).toBeGreaterThan(0);
  }, 70_000);
});
