/**
 * `@vf/vision`: ready-made video analytics nodes for vf flows. Readers for video files, live
 * streams (cameras, URLs) and image folders; a writer that keeps the input's timing; an
 * `ObjectDetector` base and a pretrained COCO detector (`CocoDetector`, weights from npm, offline);
 * the SORT tracker; box and track annotators; crop and resize transformers; a track and class
 * counter; and real footage for tests and demos.
 * @packageDocumentation
 */
export { BoxAnnotator, type BoxAnnotatorOptions } from './annotate/boxAnnotator.js';
export {
  BOX_MARGIN,
  BOX_THICKNESS,
  type Canvas,
  drawLabelledBox,
  drawText,
  drawTrack,
  fillRect,
  labelColor,
  type Rgb,
  strokeBox,
  TRACK_COLORS,
  textWidth,
  trackColor,
} from './annotate/draw.js';
export { TrackAnnotator, type TrackAnnotatorOptions } from './annotate/trackAnnotator.js';
export { type Box, type Detection, iou } from './detect/box.js';
export {
  CENTERNET_INPUT_SIZE,
  CocoDetector,
  type CocoDetectorOptions,
  centernetModelDir,
  decodeCenternet,
  MODEL_UNAVAILABLE,
  ModelError,
} from './detect/cocoDetector.js';
export { COCO_LABELS } from './detect/cocoLabels.js';
export { type FrameDetections, ObjectDetector, type ObjectDetectorOptions } from './detect/objectDetector.js';
export {
  defaultFootageCacheDir,
  FOOTAGE_UNAVAILABLE,
  type FootageClip,
  FootageError,
  type RealFootage,
  type RealFootageOptions,
  realFootage,
} from './footage/realFootage.js';
export { SortTracker, type SortTrackerOptions, type Track } from './track/sortTracker.js';
export { SortTrackerNode, type SortTrackerNodeOptions, type TrackedFrame } from './track/sortTrackerNode.js';
export { TrackCounter, type TrackCounterOptions } from './track/trackCounter.js';
export { type ClassCount, type TrackCounts, type TrackSpan, TrackTally } from './track/trackTally.js';
export {
  CropTransformer,
  type CropTransformerOptions,
  cropFrame,
  ResizeTransformer,
  type ResizeTransformerOptions,
  resizeFrame,
} from './transform/transformers.js';
export { CameraSource, type CameraSourceOptions } from './video/cameraSource.js';
export {
  assertFileExists,
  exited,
  type FfmpegTools,
  findFfmpeg,
  lastLines,
  probeStream,
  probeVideo,
  runningFfmpegCount,
  spawnFfmpeg,
  stopProcess,
  VideoError,
  VideoErrorCode,
  type VideoInfo,
  waitOrStop,
} from './video/ffmpeg.js';
export { ImageFolderReader, type ImageFolderReaderOptions, parsePpm } from './video/imageFolderReader.js';
export { rawFrames, VIDEO_DAMAGED, VideoDecoder, type VideoDecoderOptions } from './video/videoDecoder.js';
export { VideoEncoder, type VideoEncoderOptions } from './video/videoEncoder.js';
export { VideoFileReader, type VideoFileReaderOptions } from './video/videoFileReader.js';
export { VideoFileWriter, type VideoFileWriterOptions } from './video/videoFileWriter.js';
export { rgbFrameBytes, type VideoFrame } from './video/videoFrame.js';
export { VideoStreamReader, type VideoStreamReaderOptions } from './video/videoStreamReader.js';
