// The failover engine of docs/contract.md §4, for any number of feeds. Pure and deterministic: no clock, no timers, no I/O,
// no logging. Time comes in with every call (integer ms); the engine says when it next needs to be woken
// (nextDeadline), so that the daemon drives it with real timers and replay with virtual time, through this code.
//
// Order at one millisecond t (§4 "Decisions, at the exact millisecond"): first every timer due at t fires, then the
// touched feeds are evaluated once; then each record at t applies, each followed by an evaluation. advance(t) does
// the first part (and every earlier deadline, each at its own instant); apply(obs) calls advance(obs.t) itself.
//
// A device report costs O(paths that depend on the device): devices are indexed to (path, slot) once.
import type { Model, FeedKey } from '../domain/model.ts'
import { buildRuntime, inputKey, type DeviceRt } from './build.ts'
import { feedAlarms, healthyDiscrete } from './alarms.ts'
import { command, external, follow } from './commands.ts'
import { decide, explainTriggers, withCauses } from './decide.ts'
import { TimerHeap } from './heap.ts'
import {
	isBad,
	publishedState,
	toSlot,
	worst,
	type FeedRt,
	type PathRt,
	type TimerKind,
	type Trigger,
} from './state.ts'
import {
	ALARM_CODES,
	EngineError,
	type FeedSnapshot,
	type Mode,
	type Observation,
	type Output,
	type Report,
} from './types.ts'

type TimerItem = { kind: Exclude<TimerKind, 'grace'>; path: PathRt } | { kind: 'grace'; feed: FeedRt }

export interface EngineOptions {
	/** engine time at creation (default 0) */
	t0?: number
	/**
	 * Feeds that wait for a start observation (the router's crosspoint). The daemon passes every feed; replay passes
	 * the feeds whose timeline has a start record. The others start at t0 on their primary, in their config mode.
	 */
	pending?: Iterable<FeedKey>
}

export class Engine {
	private readonly feeds: FeedRt[]
	private readonly feedByKey = new Map<FeedKey, FeedRt>()
	private readonly devices: Map<string, DeviceRt>
	private readonly inputs: Map<string, DeviceRt>
	private readonly heap = new TimerHeap<TimerItem>()
	private readonly dirty: FeedRt[] = []
	/** feeds touched since the last drainTouched(): their snapshot may have changed */
	private readonly touchedSinceDrain = new Set<FeedKey>()
	private t: number

	constructor(
		readonly model: Model,
		options: EngineOptions = {},
	) {
		this.t = options.t0 ?? 0
		const pending = new Set(options.pending ?? [])
		const built = buildRuntime(model, this.t)
		this.feeds = built.feeds
		this.devices = built.devices
		this.inputs = built.inputs
		for (const feed of this.feeds) {
			this.feedByKey.set(feed.key, feed)
			if (!pending.has(feed.key)) this.startFeed(feed, this.t, feed.paths[0]!, feed.configMode, false)
		}
	}

	/** The engine's current time: the last t it was advanced to. */
	get now(): number {
		return this.t
	}

	/** The next instant at which advance() has something to do, or undefined. */
	nextDeadline(): number | undefined {
		for (;;) {
			const top = this.heap.peek()
			if (top === undefined) return undefined
			if (this.live(top.item, top.gen)) return top.due
			this.heap.pop()
		}
	}

	/** Fires every timer due at or before t, each group at its own instant followed by an evaluation. */
	advance(t: number): Output[] {
		if (!Number.isInteger(t)) throw new EngineError(`time must be an integer number of ms, not ${t}`)
		if (t < this.t) throw new EngineError(`time went backwards: ${t} after ${this.t}`)
		const out: Output[] = []
		for (;;) {
			const due = this.nextDeadline()
			if (due === undefined || due > t) break
			while (this.heap.peek()?.due === due) this.fire(this.heap.pop()!)
			this.t = due
			this.evaluateDirty(due, out)
		}
		this.t = t
		return out
	}

	/** Applies one observation at obs.t (after advancing to it), followed by an evaluation. */
	apply(obs: Observation): Output[] {
		const out = this.advance(obs.t)
		const t = obs.t
		switch (obs.type) {
			case 'start': {
				const feed = this.feed(obs.feed)
				if (feed.touched)
					throw new EngineError(`a start record of feed ${feed.key} must come before any other record of that feed`)
				const p = obs.active === null ? null : feed.byId.get(obs.active)
				if (p === undefined) throw new EngineError(`feed ${feed.key} has no path "${obs.active}"`)
				for (const code of ALARM_CODES) feed.alarms[code] = null
				this.startFeed(feed, t, p, obs.mode ?? feed.configMode, obs.locked ?? false, obs)
				feed.touched = true
				break
			}
			case 'signal': {
				const feed = this.feed(obs.feed)
				const p = feed.byId.get(obs.path)
				if (!p) throw new EngineError(`feed ${feed.key} has no path "${obs.path}"`)
				const at = this.at(obs.t, obs.at)
				// reports may reach a feed that waits for its start (the daemon hears receivers before the router)
				if (feed.started) feed.touched = true
				const from = Math.max(at, p.lastPathReport)
				p.lastPathReport = t
				this.report(p, 0, obs.signal, from, obs)
				break
			}
			case 'device': {
				const d = this.devices.get(obs.device)
				if (!d) {
					if (!this.model.devices.has(obs.device)) throw new EngineError(`unknown device "${obs.device}"`)
					break // a device no path depends on (a UPS, an encoder outside every path): nothing to do
				}
				this.reportAll(d, obs)
				break
			}
			case 'command':
				if (command(this.feed(obs.feed), obs, out)) this.touch(this.feed(obs.feed), { obs })
				break
			case 'input': {
				const d = this.inputs.get(inputKey(obs.router, obs.input))
				if (d) this.reportAll(d, obs) // else an input no path lands on: nothing to do
				break
			}
			case 'external': {
				const feed = this.feed(obs.feed)
				// a feed that waits for its start learns its crosspoint from the start itself
				if (!feed.started) break
				const p = obs.path === null ? null : feed.byId.get(obs.path)
				if (p === undefined) throw new EngineError(`feed ${feed.key} has no path "${obs.path}"`)
				feed.touched = true
				external(feed, obs, p, out)
				this.touch(feed, { obs })
				break
			}
			case 'follow': {
				const feed = this.feed(obs.feed)
				if (!feed.started) break // it starts from its router's crosspoint, as usual
				const p = obs.active === null ? null : feed.byId.get(obs.active)
				if (p === undefined) throw new EngineError(`feed ${feed.key} has no path "${obs.active}"`)
				feed.touched = true
				follow(feed, obs, p, out)
				// §4 Start's rule for revert targets, from t: following never reverts by itself
				for (const q of feed.paths) {
					q.gen.revert++
					q.revertBlocked = p === null || q.rank < p.rank
					if (q.revertBlocked && q.signal === 'up') this.schedule({ kind: 'revert', path: q }, t + feed.clearMs)
				}
				this.touch(feed, { obs })
				break
			}
			case 'ups':
				break // power switches no path: the power monitor reads these (src/rule/power.ts)
		}
		// timers made due by an `at` in the past fire now, at their own instants, before the evaluation
		for (;;) {
			const due = this.nextDeadline()
			if (due === undefined || due > t) break
			this.fire(this.heap.pop()!)
		}
		this.evaluateDirty(t, out)
		return out
	}

	/**
	 * The feeds whose snapshot may have changed since the last call (a report, a command, a timer that fired): what
	 * a publisher has to look at again. A timer moves a path's class (recovering -> healthy after clearMs) without any
	 * output, so outputs alone do not say which feeds changed.
	 */
	drainTouched(): FeedKey[] {
		if (this.touchedSinceDrain.size === 0) return []
		const keys = [...this.touchedSinceDrain]
		this.touchedSinceDrain.clear()
		return keys
	}

	snapshot(): FeedSnapshot[] {
		return this.feeds.map((f) => this.feedSnapshot(f))
	}

	feedSnapshot(f: FeedRt | FeedKey): FeedSnapshot {
		const feed = typeof f === 'string' ? this.feed(f) : f
		const paths: FeedSnapshot['paths'] = {}
		for (const p of feed.paths)
			paths[p.id] = { signal: p.signal, state: publishedState(p), rank: p.rank, lastFailure: p.lastFailure }
		return {
			feed: feed.key,
			started: feed.started,
			active: feed.started ? (feed.active?.id ?? null) : null,
			mode: feed.mode,
			locked: feed.locked,
			paths,
			alarms: ALARM_CODES.filter((a) => feed.alarms[a] !== null),
			wouldSwitch: feed.would ? { to: feed.would.to.id, cause: feed.would.cause } : null,
			compliance: feed.risk ? { healthyDiscretePaths: healthyDiscrete(feed), required: feed.risk.required } : null,
		}
	}

	hasFeed(key: string): boolean {
		return this.feedByKey.has(key as FeedKey)
	}

	private feed(key: FeedKey): FeedRt {
		const f = this.feedByKey.get(key)
		if (!f) throw new EngineError(`unknown feed "${key}"`)
		return f
	}

	private at(t: number, at: number | undefined): number {
		if (at === undefined) return t
		if (!Number.isInteger(at) || at > t) throw new EngineError(`"at" must be an integer ms <= t (${t}), not ${at}`)
		return at
	}

	private startFeed(
		feed: FeedRt,
		t: number,
		active: PathRt | null,
		mode: Mode,
		locked: boolean,
		obs?: Observation,
	): void {
		feed.started = true
		feed.startT = t
		feed.active = active
		feed.mode = mode
		feed.locked = locked
		feed.would = null
		feed.graceOver = false
		this.schedule({ kind: 'grace', feed }, t + feed.lossMs)
		for (const p of feed.paths) {
			for (const k of ['loss', 'clear', 'revert', 'null'] as const) p.gen[k]++
			p.signal = null
			p.lastChange = t
			p.badSince = null
			p.upSince = null
			p.nullSince = t
			p.failedEver = false
			p.cleared = false
			p.failedOutage = false
			p.lastFailure = null
			p.nullLong = false
			// §4 Start: a path ranked above the start path is no revert target until up for clearMs after the start
			// (off-path at the start: no path is a revert target until it has been up for clearMs)
			p.revertBlocked = active === null || p.rank < active.rank
			p.cause = null
			this.schedule({ kind: 'null', path: p }, t + feed.lossMs)
			// reports that arrived while the feed waited for its start count from the start
			this.recompute(p, t)
		}
		this.touch(feed, obs ? { obs } : undefined)
	}

	/** A source's report (a device, a router input) to every path slot that depends on it. */
	private reportAll(d: DeviceRt, obs: Observation & { state: Report; at?: number }): void {
		const at = Math.max(this.at(obs.t, obs.at), d.lastReport)
		d.lastReport = obs.t
		for (const r of d.refs) {
			if (r.path.feed.started) r.path.feed.touched = true
			this.report(r.path, r.slot, obs.state, at, obs)
		}
	}

	private report(p: PathRt, slot: number, r: Report, from: number, obs: Observation): void {
		const s = toSlot(r)
		if (p.slots[slot] === s) return
		p.slots[slot] = s
		if (!p.feed.started) return
		if (this.recompute(p, from)) {
			p.cause = obs
			this.touch(p.feed, { obs })
		}
	}

	/** Recomputes a path's signal from its slots; a change happens at `from`, never before the path's last change. */
	private recompute(p: PathRt, from: number): boolean {
		const s = worst(p.slots)
		const old = p.signal
		if (s === old) return false
		const c = Math.max(from, p.lastChange, p.feed.startT)
		p.signal = s
		p.lastChange = c
		const f = p.feed
		if (isBad(s) && !isBad(old)) {
			p.badSince = c
			this.schedule({ kind: 'loss', path: p }, c + f.lossMs)
		} else if (!isBad(s)) {
			p.badSince = null
			p.gen.loss++
		}
		if (s === 'up') {
			p.failedOutage = false
			// a signal that comes up at (or, by its `at`, before) the failure instant comes up after it
			const since = Math.max(c, p.lastFailure ?? c)
			p.upSince = since
			if (p.failedEver && !p.cleared) this.schedule({ kind: 'clear', path: p }, since + f.clearMs)
			if (p.revertBlocked) this.schedule({ kind: 'revert', path: p }, Math.max(since, f.startT) + f.clearMs)
		} else {
			p.upSince = null
			p.gen.clear++
			p.gen.revert++
		}
		if (s === null) {
			p.nullSince = c
			p.nullLong = false
			this.schedule({ kind: 'null', path: p }, c + f.lossMs)
		} else {
			p.nullSince = null
			p.nullLong = false
			p.gen.null++
		}
		return true
	}

	private schedule(item: TimerItem, due: number): void {
		if (item.kind === 'grace') this.heap.push(due, ++item.feed.graceGen, item)
		else this.heap.push(due, ++item.path.gen[item.kind], item)
	}

	private live(item: TimerItem, gen: number): boolean {
		return item.kind === 'grace' ? item.feed.graceGen === gen : item.path.gen[item.kind] === gen
	}

	private fire(e: { due: number; gen: number; item: TimerItem }): void {
		const item = e.item
		if (!this.live(item, e.gen)) return
		if (item.kind === 'grace') {
			item.feed.graceGen++
			item.feed.graceOver = true
			this.touch(item.feed, { timer: 'grace', due: e.due })
			return
		}
		const p = item.path
		p.gen[item.kind]++
		switch (item.kind) {
			case 'loss':
				// §4 Failure: down or degraded continuously for lossMs; this instant is its last failure
				p.failedEver = true
				p.cleared = false
				p.failedOutage = true
				p.lastFailure = e.due
				p.gen.clear++
				break
			case 'clear':
				p.cleared = true
				break
			case 'revert':
				p.revertBlocked = false
				break
			case 'null':
				p.nullLong = true
				break
		}
		this.touch(p.feed, { timer: item.kind, path: p.id, due: e.due })
	}

	private touch(feed: FeedRt, trigger: Trigger | undefined): void {
		if (trigger) feed.triggers.push(trigger)
		this.touchedSinceDrain.add(feed.key)
		if (!feed.dirty) {
			feed.dirty = true
			this.dirty.push(feed)
		}
	}

	private evaluateDirty(t: number, out: Output[]): void {
		if (this.dirty.length === 0) return
		const feeds = this.dirty.splice(0)
		if (feeds.length > 1) feeds.sort((a, b) => a.index - b.index)
		for (const f of feeds) {
			f.dirty = false
			this.evaluate(f, t, out)
			f.triggers.length = 0
		}
	}

	private evaluate(f: FeedRt, t: number, out: Output[]): void {
		if (!f.started) return
		const d = decide(f)
		if (d.to && f.active && d.to !== f.active) {
			const held = f.locked ? 'locked' : f.mode === 'manual' ? 'manual' : null
			const explain = { rule: d.rule, triggers: explainTriggers(withCauses(d.paths, f.triggers)), because: d.because }
			if (held === null) {
				out.push({ kind: 'decision', t, feed: f.key, from: f.active.id, to: d.to.id, cause: d.cause, explain })
				f.active = d.to
				f.would = null
			} else if (f.would?.to !== d.to || f.would.cause !== d.cause) {
				f.would = { to: d.to, cause: d.cause }
				out.push({
					kind: 'suppressed',
					t,
					feed: f.key,
					from: f.active.id,
					to: d.to.id,
					cause: d.cause,
					because: held,
					explain,
				})
			}
		} else f.would = null
		feedAlarms(f, d.noPath, t, out)
	}
}
