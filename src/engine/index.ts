// The failover engine of docs/contract.md §4: pure, deterministic, shared by the daemon and `sigpath replay`.
//
// How the daemon drives it (the same calls replay makes, with real time instead of virtual):
//   const engine = new Engine(model, { pending: model.feeds.keys() })   // t = ms since the daemon's start
//   // once a feed's router has been read: the crosspoint it shows, mode and lock from recoverFeeds(journal records)
//   engine.apply({ type: 'start', t, feed, active, mode, locked })
//   // every driver report and operator command, at the engine time it arrived (with `at` when the driver knows
//   // when the condition began):
//   const outputs = engine.apply(observation)
//   // journal entriesFor(observation, outputs), act on the decisions (router take), publish engine.snapshot();
//   // then (re)arm one timer for engine.nextDeadline(), and when it fires: outputs = engine.advance(now).
export { Engine, type EngineOptions } from './engine.ts'
export {
	jsonLine,
	mergeByTime,
	powerJsonLine,
	powerTextLine,
	replay,
	replayPower,
	textLine,
	type PowerOutput,
	type ReplayOptions,
} from './replay.ts'
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
