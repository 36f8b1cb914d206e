/** An axis-aligned box in pixels: top-left corner, width and height. */
export interface Box {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

/** A detected object: its box, what it is and how sure the detector is. */
export interface Detection extends Box {
  /** Class name, e.g. `'person'` (a COCO label), or `'object'` for class-less detectors. */
  readonly label: string;
  /** Class index in the detector's label list (COCO: 0 = person … 79 = toothbrush), when it has one. */
  readonly classId?: number;
  /** Confidence, 0–1 (1 for detectors without scores). */
  readonly score: number;
  /** Pixels that belong to the object, when the detector knows (a motion mask does; a box model does not). */
  readonly area?: number;
}

/** Intersection over union of two boxes, 0 (disjoint) to 1 (identical). */
export function iou(a: Box, b: Box): number {
  const w = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / (a.w * a.h + b.w * b.h - inter);
}
