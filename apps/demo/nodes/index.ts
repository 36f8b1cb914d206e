/**
 * The demo's flow nodes: video in and out through ffmpeg, and the vision pipeline (detect, track,
 * annotate, count).
 */
export { CameraSource, type CameraSourceOptions } from './cameraSource.js';
export { DetectionsWriter, type DetectionsWriterOptions } from './detectionsWriter.js';
export { type FrameDetections, MovingObjectDetector, type MovingObjectDetectorOptions } from './movingObjectDetector.js';
export { SortTrackerNode, type SortTrackerNodeOptions, type TrackedFrame } from './sortTrackerNode.js';
export { TrackAnnotator } from './trackAnnotator.js';
export { TrackCounter, type TrackCounterOptions, type TrackCounts, type TrackSpan } from './trackCounter.js';
export { VideoFileReader, type VideoFileReaderOptions } from './videoFileReader.js';
export { VideoFileWriter, type VideoFileWriterOptions } from './videoFileWriter.js';
