import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureChromium } from './support/chromium.js';
import { type CliRun, leftovers, processesWithMarker, startCli } from './support/runCli.js';

/** The analysis flow's nodes, and `preview`, which the live view adds (the latest annotated frame as a JPEG). */
const NODES = ['video', 'detector', 'tracker', 'annotator', 'writer', 'counter', 'preview'];

/** What the test reads of an `<img>` in the page (this package's TypeScript has no DOM types). */
interface ImageLike {
  readonly complete: boolean;
  readonly naturalWidth: number;
}

describe('the live view in headless Chromium (realtime engine, camera-paced video)', () => {
  const out = mkdtempSync(join(tmpdir(), 'vf-demo-live-'));
  let browserPath: ReturnType<typeof ensureChromium> = { missing: 'not looked for yet' };
  let browser: Browser | undefined;
  let cli: CliRun | undefined;

  beforeAll(async () => {
    // Installs Debian's chromium when missing (CI machines start bare): bounded by ensureChromium's timeout.
    browserPath = ensureChromium();
    if ('missing' in browserPath) return;
    if (browserPath.installMs !== undefined)
      console.warn(`installed chromium with apt-get in ${(browserPath.installMs / 1000).toFixed(1)} s`);
    browser = await chromium.launch({
      executablePath: browserPath.path,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    });
  }, 480_000);

  afterAll(async () => {
    await browser?.close();
    cli?.child.kill('SIGKILL');
    rmSync(out, { recursive: true, force: true });
  });

  it('shows every node, and numbers that advance while the flow runs', async (context) => {
    if ('missing' in browserPath) {
      console.warn(`\n*** SKIPPED the live view test: ${browserPath.missing} ***\n`);
      context.skip();
      return;
    }
    // 6 s of video at 25 fps, paced like a camera: the flow runs for at least 6 s once started.
    cli = startCli([
      '--sample',
      '--output',
      out,
      '--engine',
      'realtime',
      '--duration',
      '6',
      '--size',
      '640x360',
      '--live',
      '0',
      '--linger',
      '0',
      '--no-progress',
    ]);
    const url = await waitFor(() => /live view: (http:\S+)/.exec(cli?.stdout() ?? '')?.[1], 30_000, 'the live view URL');
    const page = await (browser as Browser).newPage();
    await page.goto(url);

    for (const name of NODES) await page.locator(`[data-node="${name}"]`).waitFor({ timeout: 60_000 });
    expect(await page.locator('svg path[marker-end]').count()).toBe(7);
    // One drop label per edge, filled in when the edge drops (realtime drops stale frames).
    expect(await page.locator('[data-edge]').count()).toBe(7);
    expect(await page.locator('[data-node="detector"] h2').textContent()).toContain('×2 tasks');

    const processed = async (node: string) => Number(await page.locator(`[data-node="${node}"] [data-field="processed"]`).textContent());
    // The first frames through the whole flow (the detector's start-up takes a while on a loaded machine).
    await waitUntil(async () => (await processed('video')) > 0 && (await processed('writer')) > 0, 60_000, 'the first frames written');
    const first = { video: await processed('video'), writer: await processed('writer') };
    // The flow runs now: its task processes and ffmpeg children are there (the leftover check below means something).
    expect(processesWithMarker(cli.marker).length).toBeGreaterThan(5);
    await waitUntil(
      async () => (await processed('video')) > first.video && (await processed('writer')) > first.writer,
      30_000,
      'the numbers to advance',
    );
    await waitUntil(
      async () => Number(await page.locator('[data-node="detector"] [data-field="fps"]').textContent()) > 0,
      10_000,
      'a detector rate',
    );

    // The preview of the latest annotated frame, loaded; the bottleneck marked; an fps history per node.
    // Its width read in the same step that finds it loaded: the page points the image at each new
    // frame as it comes, and a second look could land while the next one loads (a width of 0, once).
    let previewWidth = 0;
    await waitUntil(
      async () => {
        previewWidth = await page.locator('#preview').evaluate((image: ImageLike) => (image.complete ? image.naturalWidth : 0));
        return previewWidth > 0;
      },
      30_000,
      'the preview image to load',
    );
    expect(previewWidth).toBe(480); // 640 wide, scaled to the preview's 480
    await page.locator('.node.bottleneck .badge').first().waitFor({ timeout: 30_000 });
    expect(await page.locator('[data-bottleneck="true"]').count()).toBeGreaterThanOrEqual(1);
    const sparkPoints = async (node: string) =>
      ((await page.locator(`[data-node="${node}"] [data-field="history"] polyline`).getAttribute('points')) ?? '')
        .split(' ')
        .filter(Boolean).length;
    await waitUntil(async () => (await sparkPoints('detector')) >= 4, 10_000, 'four points of fps history');
    for (const name of NODES) expect(await sparkPoints(name), name).toBeGreaterThanOrEqual(4);
    expect(await page.locator('[data-node="detector"] [data-field="device"]').textContent()).toMatch(/^(cpu|gpu:\d+)/);
    const screenshot = join(out, 'liveView.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    // To look at it after the run (the temporary directory goes): VF_DEMO_SCREENSHOT_DIR=somewhere.
    const keep = process.env.VF_DEMO_SCREENSHOT_DIR;
    if (keep !== undefined && keep !== '') {
      mkdirSync(keep, { recursive: true });
      copyFileSync(screenshot, join(keep, 'liveView.png'));
    }

    await page.locator('#status.done').waitFor({ timeout: 60_000 });
    expect(await page.locator('#status').textContent()).toMatch(/flow completed/);
    const { code } = await cli.done;
    expect(code).toBe(0);
    expect(await leftovers(cli.marker)).toEqual([]);
  }, 180_000);
});

async function waitUntil(probe: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function waitFor<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
