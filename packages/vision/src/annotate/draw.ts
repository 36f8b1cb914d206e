import { VfError } from '@vf/core';
import type { Box } from '../detect/box.js';
import { checkVideoFrame, type VideoFrame } from '../video/videoFrame.js';

/** An RGB colour, 0–255 per channel. */
export type Rgb = readonly [number, number, number];

/** Bright, mutually distinct colours for track boxes, by track id (tests look for them in the output). */
export const TRACK_COLORS: readonly Rgb[] = [
  [255, 255, 255],
  [0, 230, 255],
  [255, 0, 220],
  [255, 150, 0],
  [120, 255, 0],
  [150, 120, 255],
];

/** The box colour of track `id`. */
export function trackColor(id: number): Rgb {
  return TRACK_COLORS[(id - 1) % TRACK_COLORS.length] as Rgb;
}

/** Pixels between a box and the frame drawn around it, and the frame's thickness. */
export const BOX_MARGIN = 2;
export const BOX_THICKNESS = 3;

/** An image to draw on, in place: RGB (3 channels, the default), RGBA (alpha left alone) or grey (1). */
export interface Canvas {
  readonly width: number;
  readonly height: number;
  /** Bytes per pixel: 1, 3 (default) or 4. */
  readonly channels?: number;
  readonly data: Uint8Array;
}

/**
 * A copy of `frame` for annotator `node` to draw on, once the annotations paired with it (`what` of
 * frame `index`) are checked to be its own. A copy, since in one process the frame object is shared
 * with the other nodes that receive it.
 */
export function annotationCanvas(node: string, frame: VideoFrame, index: number, what: string): Canvas {
  checkVideoFrame(node, frame);
  if (frame.index !== index) {
    throw new VfError('ANNOTATION_MISALIGNED', `${node}: frame ${frame.index} was aligned with the ${what} of frame ${index}`, {
      details: { node, frame: frame.index, annotations: index },
    });
  }
  return { width: frame.width, height: frame.height, channels: frame.channels, data: frame.data.slice() };
}

/** Fills the rectangle `[x0, x1) × [y0, y1)`, clipped to the canvas. */
export function fillRect(canvas: Canvas, x0: number, y0: number, x1: number, y1: number, color: Rgb): void {
  const left = Math.max(0, Math.round(x0));
  const right = Math.min(canvas.width, Math.round(x1));
  const top = Math.max(0, Math.round(y0));
  const bottom = Math.min(canvas.height, Math.round(y1));
  const channels = canvas.channels ?? 3;
  // Grey canvases get the colour's luma (BT.601), so boxes stay visible.
  const paint = channels === 1 ? [Math.round(0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2])] : color;
  for (let y = top; y < bottom; y++) {
    for (let x = left; x < right; x++) canvas.data.set(paint, channels * (y * canvas.width + x));
  }
}

/**
 * Draws a frame of `thickness` pixels around `box`, `margin` pixels outside it, so that the object
 * itself stays visible.
 */
export function strokeBox(canvas: Canvas, box: Box, color: Rgb, thickness = BOX_THICKNESS, margin = BOX_MARGIN): void {
  const x0 = box.x - margin - thickness;
  const y0 = box.y - margin - thickness;
  const x1 = box.x + box.w + margin + thickness;
  const y1 = box.y + box.h + margin + thickness;
  fillRect(canvas, x0, y0, x1, y0 + thickness, color);
  fillRect(canvas, x0, y1 - thickness, x1, y1, color);
  fillRect(canvas, x0, y0, x0 + thickness, y1, color);
  fillRect(canvas, x1 - thickness, y0, x1, y1, color);
}

// A 3×5 pixel font for the characters labels use; each row is 3 bits, most significant on the left.
const GLYPHS: Record<string, readonly number[]> = {
  '0': [7, 5, 5, 5, 7],
  '1': [2, 6, 2, 2, 7],
  '2': [7, 1, 7, 4, 7],
  '3': [7, 1, 3, 1, 7],
  '4': [5, 5, 7, 1, 1],
  '5': [7, 4, 7, 1, 7],
  '6': [7, 4, 7, 5, 7],
  '7': [7, 1, 1, 2, 2],
  '8': [7, 5, 7, 5, 7],
  '9': [7, 5, 7, 1, 7],
  '#': [5, 7, 5, 7, 5],
  ' ': [0, 0, 0, 0, 0],
  '.': [0, 0, 0, 0, 2],
  '-': [0, 0, 7, 0, 0],
  ':': [0, 2, 0, 2, 0],
  '%': [5, 1, 2, 4, 5],
  A: [2, 5, 7, 5, 5],
  B: [6, 5, 6, 5, 6],
  C: [3, 4, 4, 4, 3],
  D: [6, 5, 5, 5, 6],
  E: [7, 4, 6, 4, 7],
  F: [7, 4, 6, 4, 4],
  G: [3, 4, 5, 5, 3],
  H: [5, 5, 7, 5, 5],
  I: [7, 2, 2, 2, 7],
  J: [1, 1, 1, 5, 2],
  K: [5, 5, 6, 5, 5],
  L: [4, 4, 4, 4, 7],
  M: [5, 7, 7, 5, 5],
  N: [6, 5, 5, 5, 5],
  O: [2, 5, 5, 5, 2],
  P: [6, 5, 6, 4, 4],
  Q: [2, 5, 5, 6, 3],
  R: [6, 5, 6, 5, 5],
  S: [3, 4, 2, 1, 6],
  T: [7, 2, 2, 2, 2],
  U: [5, 5, 5, 5, 7],
  V: [5, 5, 5, 5, 2],
  W: [5, 5, 7, 7, 5],
  X: [5, 5, 2, 5, 5],
  Y: [5, 5, 2, 2, 2],
  Z: [7, 1, 2, 4, 7],
};

/** Width in pixels of `text` drawn by {@link drawText} at `scale`. */
export function textWidth(text: string, scale: number): number {
  return text.length * 4 * scale - scale;
}

/**
 * Draws `text` (letters, shown upper-case, digits, spaces and `# . - : %`) with its top-left corner
 * at (x, y), each font pixel `scale` pixels wide.
 */
export function drawText(canvas: Canvas, text: string, x: number, y: number, color: Rgb, scale = 2): void {
  [...text.toUpperCase()].forEach((char, position) => {
    const glyph = GLYPHS[char] ?? GLYPHS[' '];
    glyph?.forEach((bits, row) => {
      for (let column = 0; column < 3; column++) {
        if ((bits >> (2 - column)) & 1) {
          const left = x + (position * 4 + column) * scale;
          fillRect(canvas, left, y + row * scale, left + scale, y + (row + 1) * scale, color);
        }
      }
    });
  });
}

/**
 * Draws a tracked box with its label: the frame in the track's colour and, on a tab of the same
 * colour above it (below it at the top of the image), `#id` (and `text` when given) in black.
 */
export function drawTrack(canvas: Canvas, box: Box, id: number, scale = 2, text?: string): void {
  drawLabelledBox(canvas, box, text === undefined ? `#${id}` : `#${id} ${text}`, trackColor(id), scale);
}

/** The box colour of a class label: a fixed colour per label, from a hash of its name. */
export function labelColor(label: string): Rgb {
  let hash = 0;
  for (const char of label) hash = (hash * 31 + (char.codePointAt(0) ?? 0)) >>> 0;
  return LABEL_COLORS[hash % LABEL_COLORS.length] as Rgb;
}
const LABEL_COLORS: readonly Rgb[] = [
  [255, 60, 60],
  [60, 220, 60],
  [60, 140, 255],
  [255, 220, 0],
  [255, 120, 0],
  [200, 80, 255],
  [0, 220, 220],
  [255, 100, 180],
];

/** A box framed in `color` with `label` in black on a tab of the same colour above it (below at the top edge). */
export function drawLabelledBox(canvas: Canvas, box: Box, label: string, color: Rgb, scale = 2): void {
  strokeBox(canvas, box, color);
  const outer = BOX_MARGIN + BOX_THICKNESS;
  const tabWidth = textWidth(label, scale) + 2 * scale;
  const tabHeight = 7 * scale;
  const left = box.x - outer;
  const above = box.y - outer - tabHeight;
  const top = above >= 0 ? above : box.y + box.h + outer;
  fillRect(canvas, left, top, left + tabWidth, top + tabHeight, color);
  drawText(canvas, label, left + scale, top + scale, [0, 0, 0], scale);
}
