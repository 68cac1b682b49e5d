// A reference model of docs/contract.md §4 for the tests, written to be obviously literal rather than fast: it steps through
// every millisecond, fires nothing from a queue but checks each condition at each t, and evaluates every feed after
// the timers of each t and after every record. The engine (event-driven, with a timer heap, lazy cancelling and
// dirty sets) must give the same decisions, refusals and alarms. No `at` here: the oracle reads §4 as written.
import type { Model } from '../../src/domain/model.ts'
import type { Observation } from '../../src/engine/index.ts'

type Sig = 'up' | 'degraded' | 'down' | null
const bad = (s: Sig) => s === 'down' || s === 'degraded'
const rankOf: Record<'down' | 'degraded' | 'up', number> = { down: 0, degraded: 1, up: 2 }

interface P {
	id: string
	rank: number
	sources: string[]
	slots: Map<string, Sig>
	sig: Sig
	badStart: number | null
	failedThisStretch: boolean
	upStart: number | null
	nullStart: number
	failedEver: boolean
	lastFailure: number | null
	cleared: boolean
	outage: boolean
	blocked: boolean
}
interface F {
	key: string
	paths: P[]
	loss: number
	clear: number
	primary: boolean
	configMode: 'auto' | 'manual'
	started: boolean
	startT: number
	active: P
	mode: 'auto' | 'manual'
	locked: boolean
	noPath: string | null
	noSignal: string | null
	onAirFailed: string | null
}

export function oracle(model: Model, obs: readonly Observation[], until: number): string[] {
	const out: string[] = []
	const pendingKeys = new Set(obs.filter((o) => o.type === 'start').map((o) => o.feed as string))
	const feeds: F[] = []
	for (const ref of model.feeds.values()) {
		if (ref.ranked.length === 0) continue
		const paths: P[] = ref.ranked.map((p, rank) => ({
			id: p.id,
			rank,
			sources: ['self', ...new Set([...p.via, p.input.router])],
			slots: new Map(),
			sig: null,
			badStart: null,
			failedThisStretch: false,
			upStart: null,
			nullStart: 0,
			failedEver: false,
			lastFailure: null,
			cleared: false,
			outage: false,
			blocked: false,
		}))
		const fo = ref.feed.failover
		const f: F = {
			key: ref.key,
			paths,
			loss: fo.lossMs,
			clear: fo.clearMs,
			primary: fo.preference === 'primary',
			configMode: fo.mode,
			started: false,
			startT: 0,
			active: paths[0]!,
			mode: fo.mode,
			locked: false,
			noPath: null,
			noSignal: null,
			onAirFailed: null,
		}
		feeds.push(f)
		if (!pendingKeys.has(f.key)) start(f, 0, paths[0]!, fo.mode, false)
	}

	function worst(p: P): Sig {
		let w: Sig = null
		for (const s of p.slots.values()) if (s !== null && (w === null || rankOf[s] < rankOf[w])) w = s
		return w
	}
	function setSig(p: P, t: number): void {
		const s = worst(p)
		const old = p.sig
		if (s === old) return
		p.sig = s
		if (bad(s) && !bad(old)) {
			p.badStart = t
			p.failedThisStretch = false
		}
		if (!bad(s)) p.badStart = null
		if (s === 'up' && old !== 'up') {
			p.upStart = t
			p.outage = false
		}
		if (s !== 'up') p.upStart = null
		if (s === null) p.nullStart = t
	}
	function start(f: F, t: number, active: P, mode: 'auto' | 'manual', locked: boolean): void {
		Object.assign(f, {
			started: true,
			startT: t,
			active,
			mode,
			locked,
			noPath: null,
			noSignal: null,
			onAirFailed: null,
		})
		for (const p of f.paths) {
			Object.assign(p, {
				sig: null,
				badStart: null,
				upStart: null,
				nullStart: t,
				failedEver: false,
				lastFailure: null,
				cleared: false,
				outage: false,
				blocked: p.rank < active.rank,
			})
			setSig(p, t)
		}
	}
	const cls = (p: P) =>
		p.sig === null || p.sig === 'down'
			? 'ineligible'
			: p.sig === 'degraded'
				? 'degraded'
				: !p.failedEver || p.cleared
					? 'healthy'
					: 'recovering'

	function evaluate(f: F, t: number): void {
		if (!f.started) return
		const a = f.active
		const others = f.paths.filter((p) => p !== a)
		const bestOf = (classes: string[]) => {
			for (const c of classes) {
				const p = others.find((x) => cls(x) === c)
				if (p) return p
			}
			return undefined
		}
		let to: P | undefined
		let cause = ''
		let noPath = false
		if (a.outage && a.sig === 'down') {
			to = bestOf(['healthy', 'recovering', 'degraded'])
			cause = 'failover'
			noPath = to === undefined
		} else if (a.outage && a.sig === 'degraded') {
			to = bestOf(['healthy'])
			cause = 'failover'
		}
		if (!to && !noPath && f.primary) {
			to = f.paths.find((p) => p.rank < a.rank && cls(p) === 'healthy' && !p.blocked)
			cause = 'revert'
		}
		if (to && f.mode === 'auto' && !f.locked) {
			out.push(`${t} ${f.key} ${a.id}>${to.id} ${cause}`)
			f.active = to
		}
		const alarm = (name: 'noPath' | 'noSignal' | 'onAirFailed', code: string, on: boolean) => {
			if ((f[name] !== null) === on) return
			const path = f[name] ?? f.active.id
			out.push(`${t} ${f.key} ${code} ${on ? '+' : '-'} ${path}`)
			f[name] = on ? path : null
		}
		alarm('noPath', 'no-path', noPath)
		const act = f.active
		alarm('noSignal', 'no-signal', act.sig === null && t - act.nullStart >= f.loss)
		// §4a on-air-failed: the path on air has failed (down or degraded since its failure) and no switch followed; it
		// stands until that path is healthy again, and clears when another path is on air
		if (f.onAirFailed !== null && f.onAirFailed !== act.id) alarm('onAirFailed', 'on-air-failed', false)
		alarm(
			'onAirFailed',
			'on-air-failed',
			(act.outage && bad(act.sig)) || (f.onAirFailed === act.id && cls(act) !== 'healthy'),
		)
	}

	function apply(o: Observation): void {
		const t = o.t
		if (o.type === 'device' || o.type === 'signal') {
			const s: Sig =
				(o.type === 'device' ? o.state : o.signal) === 'unknown'
					? null
					: ((o.type === 'device' ? o.state : o.signal) as Sig)
			for (const f of feeds)
				for (const p of f.paths) {
					const src = o.type === 'device' ? o.device : 'self'
					if (o.type === 'signal' && (f.key !== o.feed || p.id !== o.path)) continue
					if (!p.sources.includes(src)) continue
					p.slots.set(src, s)
					if (f.started) setSig(p, t)
				}
			return
		}
		if (o.type === 'ups') return // power switches no path
		if (o.type === 'input') throw new Error('the oracle models §4; router inputs (§4a) are tested by scenario')
		if (o.type === 'external') throw new Error('the oracle models §4; external changes (§4a) are tested by scenario')
		if (o.type === 'follow')
			throw new Error('the oracle models §4; following the active node (§9) is tested by scenario')
		const f = feeds.find((x) => x.key === o.feed)!
		if (o.type === 'start') {
			start(
				f,
				t,
				f.paths.find((p) => p.id === o.active)!, // the generator never starts off-path
				o.mode ?? f.configMode,
				o.locked ?? false,
			)
			return
		}
		const refuse = (why: string): void => {
			out.push(`${t} ${f.key} refused ${why}`)
		}
		if (!f.started) return refuse('not-started')
		if (o.command === 'take') {
			const p = f.paths.find((x) => x.id === o.path)!
			if (f.locked) return refuse('locked')
			if (cls(p) === 'ineligible' && o.force !== true) return refuse('ineligible')
			f.mode = 'manual'
			if (p !== f.active) {
				out.push(`${t} ${f.key} ${f.active.id}>${p.id} take`)
				f.active = p
			}
		} else if (o.command === 'auto' || o.command === 'manual') f.mode = o.command
		else f.locked = o.command === 'lock'
	}

	let i = 0
	for (let t = 0; t <= until; t++) {
		// timers due at t
		for (const f of feeds) {
			if (!f.started) continue
			for (const p of f.paths) {
				if (bad(p.sig) && !p.failedThisStretch && p.badStart! + f.loss === t) {
					p.failedThisStretch = true
					p.failedEver = true
					p.lastFailure = t
					p.cleared = false
					p.outage = true
				}
				if (p.sig === 'up') {
					const since = Math.max(p.upStart!, p.lastFailure ?? p.upStart!)
					if (p.failedEver && !p.cleared && since + f.clear === t) p.cleared = true
					if (p.blocked && Math.max(since, f.startT) + f.clear === t) p.blocked = false
				}
			}
		}
		for (const f of feeds) evaluate(f, t)
		// records at t, each followed by an evaluation
		while (i < obs.length && obs[i]!.t === t) {
			apply(obs[i++]!)
			for (const f of feeds) evaluate(f, t)
		}
	}
	return out
}
