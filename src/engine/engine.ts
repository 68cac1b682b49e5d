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
import { maxDiscrete } from '../rule/index.ts'
import { buildRuntime, type DeviceRt } from './build.ts'
import { alarmText, decide, explainTriggers, failureText, withCauses } from './decide.ts'
import { TimerHeap } from './heap.ts'
import {
	classOf,
	countsAsHealthy,
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
	type ExternalObservation,
	type AlarmCode,
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
				const at = Math.max(this.at(obs.t, obs.at), d.lastReport)
				d.lastReport = t
				for (const r of d.refs) {
					if (r.path.feed.started) r.path.feed.touched = true
					this.report(r.path, r.slot, obs.state, at, obs)
				}
				break
			}
			case 'command':
				this.command(this.feed(obs.feed), obs, out)
				break
			case 'external': {
				const feed = this.feed(obs.feed)
				// a feed that waits for its start learns its crosspoint from the start itself
				if (!feed.started) break
				const p = obs.path === null ? null : feed.byId.get(obs.path)
				if (p === undefined) throw new EngineError(`feed ${feed.key} has no path "${obs.path}"`)
				feed.touched = true
				this.external(feed, obs, p, out)
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
			compliance: feed.risk ? { healthyDiscretePaths: this.healthyDiscrete(feed), required: feed.risk.required } : null,
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

	private command(feed: FeedRt, obs: Observation & { type: 'command' }, out: Output[]): void {
		const t = obs.t
		const who = obs.operator !== undefined ? { operator: obs.operator } : {}
		const refuse = (refused: 'locked' | 'ineligible' | 'unknown-path' | 'not-started', message: string): void => {
			out.push({
				kind: 'refusal',
				t,
				feed: feed.key,
				command: obs.command,
				...(obs.path !== undefined ? { path: obs.path } : {}),
				...who,
				refused,
				message,
			})
		}
		if (!feed.started) return refuse('not-started', `feed ${feed.key} has not started (its crosspoint is not known)`)
		feed.touched = true
		switch (obs.command) {
			case 'take': {
				const p = obs.path === undefined ? undefined : feed.byId.get(obs.path)
				if (!p) return refuse('unknown-path', `feed ${feed.key} has no path "${obs.path ?? ''}"`)
				if (feed.locked) return refuse('locked', `feed ${feed.key} is locked: unlock it first`)
				if (classOf(p) === 'ineligible' && obs.force !== true)
					return refuse(
						'ineligible',
						`path ${p.id} is ineligible (signal ${p.signal ?? 'none'}); take it with force to override`,
					)
				feed.mode = 'manual'
				this.accepted(feed, obs, out)
				// an operator's take answers another controller's: the external-take alarm has been dealt with
				this.alarm(feed, 'external-take', false, t, out, () => [`${obs.operator ?? 'an operator'} took ${p.id}`])
				if (p !== feed.active) {
					out.push({
						kind: 'decision',
						t,
						feed: feed.key,
						from: feed.active?.id ?? null,
						to: p.id,
						cause: 'take',
						...who,
						explain: {
							rule: 'take',
							triggers: explainTriggers([{ obs }]),
							because: [
								`${obs.operator ?? 'an operator'} took ${p.id}${obs.force === true ? ' with force' : ''}; the feed is now manual`,
							],
						},
					})
					feed.active = p
				}
				break
			}
			case 'auto':
			case 'manual':
				feed.mode = obs.command
				this.accepted(feed, obs, out)
				if (obs.command === 'auto')
					this.alarm(feed, 'external-take', false, t, out, () => [
						`${obs.operator ?? 'an operator'} put the feed back in auto`,
					])
				break
			case 'lock':
			case 'unlock':
				feed.locked = obs.command === 'lock'
				this.accepted(feed, obs, out)
				break
		}
		this.touch(feed, { obs })
	}

	/**
	 * §4a: the router shows what sigpath did not command. The path on that input is on air now, locked or not (a lock
	 * forbids sigpath's own switches; it never blinds it); the feed goes to manual; `external-take` names the path,
	 * or `off-path` stands while the input is none of the feed's paths.
	 */
	private external(feed: FeedRt, obs: ExternalObservation, p: PathRt | null, out: Output[]): void {
		const t = obs.t
		feed.active = p
		feed.mode = 'manual'
		feed.would = null
		if (p !== null) {
			const input = obs.input !== undefined ? ` (input ${obs.input})` : ''
			// raised again for every such change: each is news to the operator
			feed.alarms['external-take'] = null
			this.alarm(
				feed,
				'external-take',
				true,
				t,
				out,
				() => [`the router's tally shows ${p.id}${input}, which sigpath did not command`],
				`${feed.key}: the router put ${p.id}${input} on air without sigpath; the feed is manual`,
			)
		}
		this.touch(feed, { obs })
	}

	private accepted(feed: FeedRt, obs: Observation & { type: 'command' }, out: Output[]): void {
		out.push({
			kind: 'accepted',
			t: obs.t,
			feed: feed.key,
			command: obs.command,
			...(obs.path !== undefined ? { path: obs.path } : {}),
			...(obs.operator !== undefined ? { operator: obs.operator } : {}),
			mode: feed.mode,
			locked: feed.locked,
		})
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
		const a = f.active
		this.alarm(f, 'off-path', a === null, t, out, () => [`the router shows none of the paths of ${f.key}`])
		if (a === null) {
			for (const code of ['no-path', 'no-signal', 'on-air-failed'] as const)
				this.alarm(f, code, false, t, out, () => ['the feed is off-path'])
		} else this.activeAlarms(f, a, d.noPath, t, out)
		if (f.risk) {
			const risk = f.risk
			const n = f.graceOver ? this.healthyDiscrete(f) : risk.required
			this.alarm(f, 'at-risk', n < risk.required, t, out, () => [
				`${n} healthy discrete path${n === 1 ? '' : 's'}; the feed requires ${risk.required}`,
			])
		}
	}

	/** The alarms about the path on air: no-path, no-signal, and on-air-failed (§4a: a failed path on air is never silent). */
	private activeAlarms(f: FeedRt, a: PathRt, noPath: boolean, t: number, out: Output[]): void {
		this.alarm(f, 'no-path', noPath, t, out, () => [
			`${a.id} failed at ${a.lastFailure ?? '?'} and is down; no other path is eligible`,
			...f.paths.filter((p) => p !== a).map((p) => `${p.id}: ${classOf(p)} (signal ${p.signal ?? 'none'})`),
		])
		this.alarm(f, 'no-signal', a.signal === null && a.nullLong, t, out, () => [
			`active path ${a.id} has had no signal since ${a.nullSince ?? '?'} (lossMs ${f.lossMs})`,
		])
		// raised when the active path has failed and no switch followed; it stands on that path until it is healthy
		// again, and clears at once when another path is on air
		const raisedOn = f.alarms['on-air-failed']
		if (raisedOn !== null && raisedOn !== a.id)
			this.alarm(f, 'on-air-failed', false, t, out, () => [`${a.id} is on air`])
		const failed = (a.failedOutage && isBad(a.signal)) || (raisedOn === a.id && classOf(a) !== 'healthy')
		const why = f.locked
			? 'the feed is locked'
			: f.mode === 'manual'
				? 'the feed is manual'
				: 'no other path is eligible'
		this.alarm(
			f,
			'on-air-failed',
			failed,
			t,
			out,
			() => [failureText(a, f.lossMs), why],
			`${f.key}: active path ${a.id} has failed and is still on air (${why})`,
		)
	}

	private alarm(
		f: FeedRt,
		code: AlarmCode,
		on: boolean,
		t: number,
		out: Output[],
		because: () => string[],
		message?: string,
	): void {
		const raised = f.alarms[code]
		if ((raised !== null) === on) return
		const path = raised ?? f.active?.id ?? null
		// off-path is held with '' (no path is on air); every other alarm with the path it is about
		f.alarms[code] = on ? (path ?? '') : null
		out.push({
			kind: 'alarm',
			t,
			feed: f.key,
			alarm: code,
			active: on,
			path: path === '' ? null : path,
			message: on ? (message ?? alarmText[code](f.key, path)) : `${code} cleared on ${f.key}`,
			explain: {
				rule: code,
				triggers: explainTriggers(withCauses(f.active ? [f.active] : [], f.triggers)),
				because: because(),
			},
		})
	}

	private healthyDiscrete(f: FeedRt): number {
		if (!f.risk) return 0
		let mask = 0
		const ids: string[] = []
		f.paths.forEach((p, i) => {
			if (countsAsHealthy(p)) {
				mask |= 1 << i
				ids.push(p.id)
			}
		})
		const memo = f.risk.memo
		let n = memo.get(mask)
		if (n === undefined) memo.set(mask, (n = maxDiscrete(ids, f.risk.conflicts)))
		return n
	}
}
