// The engine loop: the pure engine driven in real time (docs/contract.md §4). Observations go in with the engine
// time they happened at; the observation and every output are journaled in the order they happened; decisions go to
// the takes, alarms to the alarm manager; the engine's next deadline becomes one timer; and every feed the engine
// touched is handed to the publisher, which publishes what changed.
//
// Engine time is integer ms since the daemon's start (the journal's `boot` record holds its monotonic origin), never
// decreasing, so a run of the daemon is a replayable timeline.
import type { Logger } from 'pino'
import type { Clock } from '../clock.ts'
import type { FeedKey, Model } from '../domain/model.ts'
import { Engine } from '../engine/engine.ts'
import type { Decision, Observation, Output } from '../engine/types.ts'
import { entriesFor, entriesForOutput, type Entry } from '../journal/index.ts'
import type { AlarmManager } from './alarms.ts'

export interface EngineLoopDeps {
	model: Model
	clock: Clock
	log: Logger
	/** journals records; the promise settles once they are durable, or at once while the journal is failing (never rejects) */
	journal: (entries: readonly Entry[]) => Promise<unknown>
	alarms: AlarmManager
	decide: (d: Decision) => void
	/** a tick's decisions are all handed over: their routing requests go out now, before the rest of the tick */
	decided: () => void
	/** feeds whose state may have changed */
	touched: (keys: Iterable<FeedKey>) => void
	running: () => boolean
}

export type Recovery = { active: string | null; mode: 'auto' | 'manual'; locked: boolean } | null

export class EngineLoop {
	readonly engine: Engine
	private bootMono = 0
	private lastT = 0
	private timer: NodeJS.Timeout | undefined
	private timerAt: number | undefined
	private readonly startedFeeds = new Set<FeedKey>()

	constructor(private readonly d: EngineLoopDeps) {
		this.engine = new Engine(d.model, { pending: d.model.feeds.keys() })
	}

	/** Engine time starts at 0 now; returns the monotonic origin (the journal's `boot.mono`). */
	boot(): number {
		this.bootMono = this.d.clock.monotonicMs()
		this.lastT = 0
		return this.bootMono
	}

	/** Engine time: integer ms since boot, never decreasing. */
	now(): number {
		const t = Math.max(this.lastT, Math.floor(this.d.clock.monotonicMs() - this.bootMono))
		this.lastT = t
		return t
	}

	/** A driver's monotonic timestamp as engine time, no later than `now`. */
	toEngineT(mono: number, now: number): number {
		return Math.min(now, Math.max(0, Math.floor(mono - this.bootMono)))
	}

	started(feed: FeedKey): boolean {
		return this.startedFeeds.has(feed)
	}

	/** Applies an observation; `durable` settles once its records are in the journal (a command's with via and panel). */
	apply(obs: Observation, via?: string, panel?: string | null): { outputs: Output[]; durable: Promise<unknown> } {
		const outputs = this.engine.apply(obs)
		const durable = this.d.journal(entriesFor(obs, outputs, via, panel))
		this.handle(outputs)
		// a refused command touches nothing in the engine, but its feed is looked at again all the same
		if (obs.type === 'command' || obs.type === 'signal') this.d.touched([obs.feed])
		return { outputs, durable }
	}

	/** Starts a feed on the path its router shows, with mode and lock from the journal (`recovered`: what it said). */
	start(obs: Observation & { type: 'start' }, recovered: Recovery): void {
		const outputs = this.engine.apply(obs)
		this.startedFeeds.add(obs.feed)
		void this.d.journal([
			{
				kind: 'start',
				payload: {
					t: obs.t,
					feed: obs.feed,
					active: obs.active,
					mode: obs.mode ?? 'auto',
					locked: obs.locked ?? false,
					recovered,
				},
			},
			...outputs.flatMap(entriesForOutput),
		])
		this.handle(outputs)
	}

	stop(): void {
		if (this.timer) clearTimeout(this.timer)
		this.timer = undefined
		this.timerAt = undefined
	}

	private readonly onTimer = (): void => {
		this.timer = undefined
		this.timerAt = undefined
		if (!this.d.running()) return
		const outputs = this.engine.advance(this.now())
		void this.d.journal(outputs.flatMap(entriesForOutput))
		this.handle(outputs)
	}

	private handle(outputs: readonly Output[]): void {
		// decisions first, and their routing requests sent, before anything else of this tick: when one device takes
		// a path of many feeds down, the salvo must not wait behind their alarms and publication (test/bench/e2e.ts)
		let decided = false
		for (const o of outputs)
			if (o.kind === 'decision') {
				this.d.decide(o)
				decided = true
			}
		if (decided) this.d.decided()
		for (const o of outputs) {
			switch (o.kind) {
				case 'decision':
					this.d.log.info({ feed: o.feed, from: o.from, to: o.to, cause: o.cause, t: o.t }, 'switch')
					break
				case 'alarm':
					this.d.alarms.fromEngine(o)
					break
				case 'suppressed':
					this.d.log.info({ feed: o.feed, to: o.to, because: o.because }, 'switch suppressed (rule 4)')
					break
				default:
					break
			}
		}
		this.schedule()
		this.d.touched(this.engine.drainTouched())
	}

	private schedule(): void {
		const due = this.engine.nextDeadline()
		if (due === undefined || !this.d.running()) return
		if (this.timer && this.timerAt === due) return
		if (this.timer) clearTimeout(this.timer)
		this.timerAt = due
		// a deadline is an absolute engine time; setTimeout is relative and may fire a little late, never early
		// enough to matter: advance(t) fires each timer at its own instant whatever the lateness
		this.timer = setTimeout(this.onTimer, Math.max(0, due - (this.d.clock.monotonicMs() - this.bootMono)))
	}
}
