import type { Detection } from '@vf/vision';

/**
 * Bounding boxes of the 8-connected regions of non-zero pixels in a `width × height` mask, with
 * their pixel counts, largest first, labelled `object` with score 1 (a mask has no classes); regions smaller than `minArea` pixels are left out. Two passes
 * with union-find over a label image: linear in the number of pixels (a 640×360 mask takes a few ms).
 */
export function connectedComponents(mask: ArrayLike<number>, width: number, height: number, minArea = 1): Detection[] {
  if (mask.length !== width * height) throw new RangeError(`a ${width}×${height} mask has ${width * height} pixels, got ${mask.length}`);
  const labels = new Int32Array(width * height);
  // parent[0] is unused: label 0 means background.
  const parent: number[] = [0];
  const find = (label: number): number => {
    let root = label;
    while (parent[root] !== root) root = parent[root] as number;
    while (parent[label] !== root) {
      const next = parent[label] as number;
      parent[label] = root;
      label = next;
    }
    return root;
  };
  const union = (a: number, b: number): number => {
    const ra = find(a);
    const rb = find(b);
    if (ra === rb) return ra;
    const [low, high] = ra < rb ? [ra, rb] : [rb, ra];
    parent[high] = low;
    return low;
  };

  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const at = y * width + x;
      if (!mask[at]) continue;
      // Neighbours already visited: west, north-west, north, north-east.
      let label = 0;
      const neighbours = [
        x > 0 ? labels[at - 1] : 0,
        x > 0 && y > 0 ? labels[at - width - 1] : 0,
        y > 0 ? labels[at - width] : 0,
        x + 1 < width && y > 0 ? labels[at - width + 1] : 0,
      ];
      for (const neighbour of neighbours) {
        if (!neighbour) continue;
        label = label === 0 ? neighbour : union(label, neighbour);
      }
      if (label === 0) {
        label = parent.length;
        parent.push(label);
      }
      labels[at] = label;
    }
  }

  const regions = new Map<number, { x0: number; y0: number; x1: number; y1: number; area: number }>();
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const label = labels[y * width + x] as number;
      if (label === 0) continue;
      const root = find(label);
      const region = regions.get(root);
      if (region === undefined) regions.set(root, { x0: x, y0: y, x1: x, y1: y, area: 1 });
      else {
        region.x0 = Math.min(region.x0, x);
        region.x1 = Math.max(region.x1, x);
        region.y0 = Math.min(region.y0, y);
        region.y1 = Math.max(region.y1, y);
        region.area += 1;
      }
    }
  }
  return [...regions.values()]
    .filter((region) => region.area >= minArea)
    .sort((a, b) => b.area - a.area)
    .map((region) => ({
      x: region.x0,
      y: region.y0,
      w: region.x1 - region.x0 + 1,
      h: region.y1 - region.y0 + 1,
      area: region.area,
      label: 'object',
      score: 1,
    }));
}
