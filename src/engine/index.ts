// The failover engine of contract §4: pure, deterministic, shared by the daemon and `sigpath replay`.
export { Engine, type EngineOptions } from './engine.ts'
export { jsonLine, replay, textLine, type ReplayOptions } from './replay.ts'
export {
	checkAgainstModel,
	parseRecord,
	parseTimeline,
	TimelineError,
	toObservation,
	toRecord,
	type Parsed,
	type TimelineRecord,
} from './timeline.ts'
export * from './types.ts'
