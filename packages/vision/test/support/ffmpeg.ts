import { spawnFfmpeg } from '../../src/index.js';

/** Runs ffmpeg with `args` (after `-hide_banner -v error`) and resolves with its stdout; rejects with its log when it fails. */
export async function ffmpegOutput(args: readonly string[]): Promise<Buffer> {
  const { child, stderr } = spawnFfmpeg(['-nostdin', ...args], 'ignore');
  const chunks: Buffer[] = [];
  child.stdout?.on('data', (chunk: Buffer) => chunks.push(chunk));
  // Bounded: a stuck ffmpeg must not outlive the test.
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  // 'close', not 'exit': stdout is then read to its end.
  const code = await new Promise<number | string>((resolve) => child.once('close', (exit, signal) => resolve(exit ?? signal ?? 'unknown')));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`ffmpeg ${args.join(' ')} failed (${String(code)}): ${stderr()}`);
  return Buffer.concat(chunks);
}
