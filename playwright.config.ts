import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from '@playwright/test';

/**
 * `npm run test:e2e`: real Chromium (Debian's /usr/bin/chromium, never a downloaded one) against a real
 * relay, `meshlink node --ws … --web …` from source, started here on fixed loopback ports (override with
 * MESHLINK_E2E_WS_PORT / MESHLINK_E2E_WEB_PORT / MESHLINK_E2E_TCP_PORT). The relay's command rebuilds the
 * browser bundle first (~0.2 s), so the pages always run the current code.
 */
// Below Linux's ephemeral range (32768–60999): a port some other process was handed for an outgoing
// connection or a port-0 listener (a test's relay still shutting down) cannot collide with these.
const WS_PORT = Number(process.env['MESHLINK_E2E_WS_PORT'] ?? 16657);
const WEB_PORT = Number(process.env['MESHLINK_E2E_WEB_PORT'] ?? 18080);
const TCP_PORT = Number(process.env['MESHLINK_E2E_TCP_PORT'] ?? 16656);
const BASE_URL = `http://127.0.0.1:${WEB_PORT}`;

// A fresh relay key and address book per run. The config is also loaded by each worker, while the
// relay runs: only the main process (which starts the relay) may clear it.
const RELAY_HOME = join(tmpdir(), `meshlink-e2e-relay-${WEB_PORT}`);
if (process.env['TEST_WORKER_INDEX'] === undefined) rmSync(RELAY_HOME, { recursive: true, force: true });

const relayCommand = [
  'node platforms/browser/build.mjs &&',
  'exec node --import tsx demo/cli.ts node',
  `--listen tcp://127.0.0.1:${TCP_PORT} --ws 127.0.0.1:${WS_PORT} --web 127.0.0.1:${WEB_PORT}`,
  `--home ${RELAY_HOME} --moniker relay --allow-local --log-level info`,
].join(' ');

export default defineConfig({
  testDir: 'e2e',
  testMatch: '*.spec.ts',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: process.env['CI'] !== undefined,
  timeout: 30_000,
  globalTimeout: 15 * 60_000,
  expect: { timeout: 10_000 },
  reporter: 'list',
  use: {
    baseURL: BASE_URL,
    browserName: 'chromium',
    headless: true,
    actionTimeout: 10_000,
    navigationTimeout: 10_000,
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-features=WebRtcHideLocalIpsWithMdns',
      ],
    },
  },
  webServer: {
    command: relayCommand,
    // 503 until the relay listens on ws://, so this also waits for the relay itself.
    url: `${BASE_URL}/config.json`,
    reuseExistingServer: false,
    timeout: 20_000,
    stdout: process.env['MESHLINK_E2E_RELAY_LOG'] === '1' ? 'pipe' : 'ignore', // the relay's JSON log lines
    stderr: 'pipe',
    gracefulShutdown: { signal: 'SIGTERM', timeout: 5_000 },
  },
});
