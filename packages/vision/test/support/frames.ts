import { exited, spawnFfmpeg, type VideoFrame } from '../../src/index.js';

/** A solid-colour RGB frame whose colour encodes `index` (red = 10 × index mod 250), for checking which frame was written where. */
export function solidFrame(index: number, fps: number, width = 64, height = 48): VideoFrame {
  const data = new Uint8Array(width * height * 3);
  const red = (10 * index) % 250;
  for (let at = 0; at < data.length; at += 3) {
    data[at] = red;
    data[at + 1] = 128;
    data[at + 2] = 40;
  }
  return { index, timestampMs: (index * 1000) / fps, width, height, channels: 3, data };
}

/** The red value a decoded {@link solidFrame} has (the middle pixel; H.264 shifts it by a few levels). */
export function redOf(frame: VideoFrame): number {
  const middle = 3 * (Math.floor(frame.height / 2) * frame.width + Math.floor(frame.width / 2));
  return frame.data[middle] as number;
}

/** Writes `frame` as a PNG with ffmpeg (lossless, so the colours read back exactly). */
export async function writePng(path: string, frame: VideoFrame): Promise<void> {
  const { child, stderr } = spawnFfmpeg(
    ['-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${frame.width}x${frame.height}`, '-i', '-', '-frames:v', '1', path],
    'pipe',
  );
  child.stdin?.end(frame.data);
  const code = await exited(child);
  if (code !== 0) throw new Error(`cannot write ${path}: ${stderr()}`);
}
