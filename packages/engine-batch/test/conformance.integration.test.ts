import { describeEngineConformance } from '@vf/core/testing';
import { BatchExecutionEngine } from '../src/index.js';

describeEngineConformance(() => new BatchExecutionEngine({ queueSize: 4 }));
