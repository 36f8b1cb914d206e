/**
 * The demo's own flow nodes: the motion detector (the alternative to `@vf/vision`'s COCO detector)
 * and the detections writer of the demo project. Everything reusable lives in `@vf/vision`.
 */
export { DetectionsWriter, type DetectionsWriterOptions } from './detectionsWriter.js';
export { MovingObjectDetector, type MovingObjectDetectorOptions } from './movingObjectDetector.js';
