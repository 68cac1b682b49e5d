// Takes: the engine's decisions made real on the router (docs/contract.md §4). A decision becomes a routing request,
// confirmed on the router's own tally, never assumed:
// - one feed's takes run one after another (a feed's chain), so a later decision never overtakes an earlier one;
// - takes asked for in the same tick go to each router as one salvo;
// - a take that is not confirmed (timeout, NAK, a dropped link) is retried once, then `take-unconfirmed` is raised
//   and the path is reported down by the runtime's own per-path source ("unroutable"), so that the engine moves to
//   the next candidate once that path has failed (lossMs); the mark is withdrawn when the router takes the path or
//   syncs again.
// - in a pair (docs/contract.md §9) a routing request leaves only through the fence: asked before the take is
//   journaled as sent, and again in the same synchronous step as the write to the router (a salvo's flush, a
//   retry). A fenced take is journaled `fenced` and is no fault of the router (no alarm, no unroutable mark).
//
// take-unconfirmed is one alarm per feed, and it stands until the router confirms a take of that feed (the next
// failover, revert or operator take; an `already` on the tally counts). Why not until acknowledged, nor cleared at
// once: what the operator must know is that the router is not doing what sigpath asks on this feed, and that stays
// true until the router's own tally shows otherwise. Cleared by an acknowledgement it would hide a router that still
// refuses; cleared at once it would be a flash nobody reads. An acknowledgement marks it seen (docs/contract.md §7).
import type { Logger } from 'pino'
import type { Router } from '../../drivers/router/index.ts'
import { RouterError, type Crosspoint, type RouterErrorCode, type TakeResult } from '../../drivers/router/types.ts'
import { alarmId } from '../domain/alarms.ts'
import type { FeedKey, Model } from '../domain/model.ts'
import type { Decision } from '../engine/types.ts'
import type { Entry } from '../journal/index.ts'
import type { AlarmManager } from './alarms.ts'
import { OPEN, type Permit } from './ha/role.ts'

export interface TakeTiming {
	feed: FeedKey
	/** null: the feed was off-path */
	from: string | null
	to: string
	cause: string
	/** engine t of the decision */
	t: number
	/** monotonic ms: request out, tally confirmed */
	sentAt: number
	confirmedAt: number
}

export interface TakesDeps {
	model: Model
	routers: ReadonlyMap<string, Router>
	log: Logger
	journal: (entries: readonly Entry[]) => void
	alarms: AlarmManager
	/** engine time */
	now: () => number
	/** false once the daemon is stopping: no new unroutable reports */
	running: () => boolean
	/** the runtime's own report about a path: `down` while unroutable, `unknown` to withdraw it */
	report: (feed: FeedKey, path: string, signal: 'down' | 'unknown') => void
	/** a take confirmed on the tally */
	confirmed: (timing: TakeTiming) => void
	/** may a routing request leave now, under which lease (§9); absent: always (one daemon alone) */
	fence?: () => Permit
}

/** A routing request the fence held back (§9): not sent. */
class Fenced extends Error {
	override name = 'Fenced'
}

type Pending = { take: Crosspoint; resolve: (r: TakeResult) => void; reject: (e: unknown) => void }

/** Error codes after which a second attempt may succeed. */
const RETRIABLE: ReadonlySet<RouterErrorCode> = new Set(['timeout', 'nak', 'disconnected', 'refused'])

export class Takes {
	/** each feed's last take: resolves true when confirmed, false otherwise; never rejects */
	private readonly chains = new Map<FeedKey, Promise<boolean>>()
	private readonly batches = new Map<string, { router: Router; items: Pending[] }>()
	/** chains whose last take has settled: the feed's next take need not wait behind them */
	private readonly settled = new WeakSet<Promise<boolean>>()
	/** paths whose take failed: reported down until the router takes them or syncs again */
	private readonly unroutable = new Map<FeedKey, Set<string>>()

	constructor(private readonly d: TakesDeps) {}

	/**
	 * Starts the decision's take: at once when the feed has none in flight (its routing request joins the router's
	 * batch in this synchronous step, sent by `flush`), else queued behind the feed's earlier ones.
	 */
	execute(decision: Decision): void {
		const prev = this.chains.get(decision.feed)
		const chain =
			prev === undefined || this.settled.has(prev) ? this.take(decision) : prev.then(() => this.take(decision))
		this.chains.set(decision.feed, chain)
		void chain.then(() => this.settled.add(chain))
	}

	/**
	 * Sends every batch waiting now, each router's as one salvo. The engine loop calls it once it has handed over a
	 * tick's decisions and before anything else of that tick (alarms, publication): the routing requests of a
	 * many-feed failover leave first. Batches nobody flushes go at the end of the tick (a microtask).
	 */
	flush(): void {
		for (const [routerId, { router }] of [...this.batches]) this.flushRouter(routerId, router)
	}

	/** The outcome of the feed's latest take (true: confirmed on the tally). */
	latest(feed: FeedKey): Promise<boolean> {
		return this.chains.get(feed) ?? Promise.resolve(true)
	}

	/** Every take in flight settles (confirmed or not): their outcome belongs in the journal before a stop. */
	async settle(): Promise<void> {
		await Promise.allSettled([...this.chains.values()])
	}

	/** The router synced again: every path of the feed it would not take gets its chance again. */
	retryUnroutable(feed: FeedKey): void {
		for (const p of [...(this.unroutable.get(feed) ?? [])]) this.clearUnroutable(feed, p)
	}

	private async take(d: Decision): Promise<boolean> {
		const ref = this.d.model.feeds.get(d.feed)!
		const path = ref.feed.paths.find((p) => p.id === d.to)!
		const routerId = ref.feed.output.router
		const router = this.d.routers.get(routerId)
		const output = ref.feed.output.output
		const input = path.input.input
		const base = { feed: d.feed, path: d.to, router: routerId, output, input }
		if (!router) {
			this.d.journal([
				{ kind: 'take', payload: { t: this.d.now(), ...base, result: 'failed', error: 'the router has no driver' } },
			])
			this.unconfirmed(d.feed, `cannot switch ${d.feed} to ${d.to}: router ${routerId} has no driver`)
			return false
		}
		const permit = this.permit()
		if (!permit.ok) return this.fenced(d, base, permit.why)
		const fenced = { ...base, ...(permit.lease !== undefined ? { lease: permit.lease } : {}) }
		this.d.journal([{ kind: 'take', payload: { t: this.d.now(), ...fenced, result: 'sent' } }])
		let lastErr: unknown
		for (let attempt = 1; attempt <= 2; attempt++) {
			try {
				// the first attempt joins the router's batch (a salvo when several feeds switch in the same tick)
				const r =
					attempt === 1 ? await this.batched(routerId, router, output, input) : await this.retry(router, output, input)
				this.d.confirmed({
					feed: d.feed,
					from: d.from,
					to: d.to,
					cause: d.cause,
					t: d.t,
					sentAt: r.sentAt,
					confirmedAt: r.confirmedAt,
				})
				this.d.journal([{ kind: 'take', payload: { t: this.d.now(), ...fenced, result: 'confirmed' } }])
				this.d.alarms.hold({
					...this.unconfirmedOf(d.feed),
					active: false,
					message: '',
					cleared: `${d.feed}: ${routerId} confirmed the take of ${d.to}: the router follows sigpath again`,
				})
				this.clearUnroutable(d.feed, d.to)
				this.d.log.info(
					{ feed: d.feed, to: d.to, ms: +(r.confirmedAt - r.sentAt).toFixed(2), already: r.already },
					'take confirmed',
				)
				return true
			} catch (err) {
				if (err instanceof Fenced) return this.fenced(d, fenced, err.message)
				lastErr = err
				const code = err instanceof RouterError ? err.code : undefined
				if (code === 'superseded' || code === 'stopped') return false
				this.d.log.warn({ feed: d.feed, to: d.to, attempt, code, err: (err as Error).message }, 'take not confirmed')
				if (code === undefined || !RETRIABLE.has(code)) break
			}
		}
		const msg = lastErr instanceof Error ? lastErr.message : String(lastErr)
		this.d.journal([{ kind: 'take', payload: { t: this.d.now(), ...fenced, result: 'unconfirmed', error: msg } }])
		this.unconfirmed(d.feed, `switching ${d.feed} to ${d.to} was not confirmed by ${routerId}: ${msg}`)
		this.markUnroutable(d.feed, d.to)
		return false
	}

	private permit(): Permit {
		return this.d.fence?.() ?? OPEN
	}

	private fenced(
		d: Decision,
		base: { feed: FeedKey; path: string; router: string; output: number; input: number },
		why: string,
	): false {
		this.d.journal([{ kind: 'take', payload: { t: this.d.now(), ...base, result: 'fenced', error: why } }])
		this.d.log.info({ feed: d.feed, to: d.to, why }, 'take not sent: fenced')
		return false
	}

	private retry(router: Router, output: number, input: number): Promise<TakeResult> {
		const permit = this.permit()
		return permit.ok ? router.take(output, input) : Promise.reject(new Fenced(permit.why))
	}

	private unconfirmedOf(feed: FeedKey): { id: string; code: string; feed: FeedKey } {
		return { id: alarmId.feed('take-unconfirmed', feed), code: 'take-unconfirmed', feed }
	}

	private unconfirmed(feed: FeedKey, message: string): void {
		this.d.alarms.hold({ ...this.unconfirmedOf(feed), active: true, message, cleared: '' })
	}

	/**
	 * Takes asked for in the same tick go to each router as one salvo (a Videohub block, a burst of SW-P-08 frames):
	 * when a device failure takes down a path of many feeds at once, every backup goes on air together instead of
	 * one round trip after another. Each take still settles on its own tally.
	 */
	private batched(routerId: string, router: Router, output: number, input: number): Promise<TakeResult> {
		return new Promise<TakeResult>((resolve, reject) => {
			let batch = this.batches.get(routerId)
			if (!batch) {
				batch = { router, items: [] }
				this.batches.set(routerId, batch)
				queueMicrotask(() => this.flushRouter(routerId, router))
			}
			batch.items.push({ take: { output, input }, resolve, reject })
		})
	}

	/** Sends the router's waiting batch, if any: one take alone, several as a salvo. */
	private flushRouter(routerId: string, router: Router): void {
		const items = this.batches.get(routerId)?.items
		this.batches.delete(routerId)
		if (!items || items.length === 0) return
		// the fence once more, in the same synchronous step as the write
		const permit = this.permit()
		if (!permit.ok) {
			for (const item of items) item.reject(new Fenced(permit.why))
			return
		}
		if (items.length === 1) {
			router.take(items[0]!.take.output, items[0]!.take.input).then(items[0]!.resolve, items[0]!.reject)
			return
		}
		router.salvo(items.map((i) => i.take)).then(
			(outcomes) =>
				outcomes.forEach((o, k) => {
					const item = items[k]!
					if (o.ok) item.resolve(o.result)
					else item.reject(o.error)
				}),
			(err: unknown) => {
				for (const item of items) item.reject(err)
			},
		)
	}

	private markUnroutable(feed: FeedKey, path: string): void {
		const set = this.unroutable.get(feed) ?? new Set()
		if (set.has(path) || !this.d.running()) return
		set.add(path)
		this.unroutable.set(feed, set)
		this.d.report(feed, path, 'down')
	}

	private clearUnroutable(feed: FeedKey, path: string): void {
		const set = this.unroutable.get(feed)
		if (!set?.delete(path) || !this.d.running()) return
		this.d.report(feed, path, 'unknown')
	}
}
