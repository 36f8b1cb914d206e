import { describeEngineConformance } from '../testing.js';
import { InProcessEngine } from './inProcessEngine.js';

describeEngineConformance(() => new InProcessEngine({ queueSize: 4 }));
describeEngineConformance(() => new InProcessEngine({ queueSize: 1 }), { name: 'InProcessEngine, queueSize 1' });
