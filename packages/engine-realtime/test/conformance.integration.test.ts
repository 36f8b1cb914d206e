import { describeEngineConformance } from '@vf/core/testing';
import { RealtimeExecutionEngine } from '../src/index.js';

describeEngineConformance(() => new RealtimeExecutionEngine(), { contract: 'realtime' });
