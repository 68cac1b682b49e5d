// The tally follower: what the routers say is on air (docs/contract.md §4 "Start" and §4a).
// - A router's first full sync starts each of its feeds from the crosspoint it reports, with mode and lock from the
//   journal: sigpath never "corrects" a crosspoint at start. An output that shows none of the feed's paths starts the
//   feed off-path (active null, the engine's `off-path` alarm), in manual.
// - A later sync (a reconnect) gives unroutable paths their chance again and follows a crosspoint changed meanwhile.
// - A crosspoint change that is not ours is another controller's (docs/contract.md §4a): it goes to the engine as an
//   `external` observation, which puts that path on air at once, locked or not, in manual, with `external-take`
//   (or off-path). It is journaled as a crosspoint change seen on the router, never as an operator's take.
// Every change of a feed's output is journaled as a `tally` record.
import type { Logger } from 'pino'
import type { Router } from '../../drivers/router/index.ts'
import type { FeedKey, FeedRef, Model } from '../domain/model.ts'
import type { Entry, FeedState as Recovered } from '../journal/index.ts'
import type { EngineLoop } from './loop.ts'

export interface TallyDeps {
	model: Model
	routers: ReadonlyMap<string, Router>
	loop: EngineLoop
	log: Logger
	journal: (entries: readonly Entry[]) => void
	/** mode, lock and active path per feed as the journal left them */
	recovered: () => ReadonlyMap<string, Recovered>
	running: () => boolean
	/** the router synced again: retry the paths it would not take */
	resynced: (feed: FeedKey) => void
	/** a feed's crosspoint moved (its published state follows the tally) */
	moved: (feed: FeedKey) => void
	/** a pair's standby (docs/contract.md §9) follows what the router shows instead (true: followed) */
	follow?: (ref: FeedRef, path: string | null) => boolean
}

export class TallyFollower {
	private readonly pathByInput = new Map<FeedKey, Map<number, string>>()
	readonly feedsByRouter = new Map<string, FeedRef[]>()
	/** `router:input` of every input a path lands on: the only inputs whose status the engine hears */
	private readonly usedInputs = new Set<string>()

	constructor(private readonly d: TallyDeps) {
		for (const ref of d.model.feeds.values()) {
			this.pathByInput.set(ref.key, new Map(ref.feed.paths.map((p) => [p.input.input, p.id])))
			for (const p of ref.feed.paths) this.usedInputs.add(`${p.input.router}:${p.input.input}`)
			const list = this.feedsByRouter.get(ref.feed.output.router) ?? []
			list.push(ref)
			this.feedsByRouter.set(ref.feed.output.router, list)
		}
	}

	/** The path a router input is, for a feed (undefined: none of its paths). */
	pathOf(feed: FeedKey, input: number): string | undefined {
		return this.pathByInput.get(feed)?.get(input)
	}

	/**
	 * The path the feed's router shows on air: a path id, null for an input that is none of the feed's paths, or
	 * undefined while the router is not synced (the truth on air is not known).
	 */
	onAir(ref: FeedRef): string | null | undefined {
		const router = this.d.routers.get(ref.feed.output.router)
		if (!router?.isSynced()) return undefined
		const input = router.routing().get(ref.feed.output.output)
		return input !== undefined ? (this.pathOf(ref.key, input) ?? null) : null
	}

	/** Listens to every router. */
	follow(): void {
		for (const [id, router] of this.d.routers) {
			router.on('synced', () => this.onSynced(id))
			router.on('crosspoint', (e) => this.onCrosspoint(id, e))
			router.on('input-status', (e) => this.onInputStatus(id, e.input, e.status, e.at))
		}
		for (const [routerId, refs] of this.feedsByRouter)
			if (!this.d.routers.has(routerId))
				for (const r of refs)
					this.d.log.warn(
						{ feed: r.key, router: routerId },
						"the feed's router has no driver: sigpath does not control it",
					)
	}

	private onSynced(routerId: string): void {
		if (!this.d.running()) return
		const router = this.d.routers.get(routerId)!
		const t = this.d.loop.now()
		for (const ref of this.feedsByRouter.get(routerId) ?? []) {
			const input = router.routing().get(ref.feed.output.output)
			const path = input !== undefined ? this.pathOf(ref.key, input) : undefined
			if (!this.d.loop.started(ref.key)) {
				this.startFeed(ref, path, input, t)
				continue
			}
			// a re-sync: paths marked unroutable get their chance again; a crosspoint changed while we were away is
			// another controller's doing
			this.d.resynced(ref.key)
			if (path !== this.d.loop.engine.feedSnapshot(ref.key).active) this.externalChange(ref, path, input)
		}
	}

	private startFeed(ref: FeedRef, path: string | undefined, input: number | undefined, t: number): void {
		const rec = this.d.recovered().get(ref.key)
		// an output that shows none of the feed's paths starts off-path, held in manual: never "corrected"
		const mode = path === undefined ? 'manual' : (rec?.mode ?? ref.feed.failover.mode)
		const locked = rec?.locked ?? false
		if (ref.ranked.length === 0) return
		if (path === undefined)
			this.d.log.warn(
				{ feed: ref.key, router: ref.feed.output.router, output: ref.feed.output.output, input: input ?? null },
				"the feed's output shows an input that is none of its paths: off-path",
			)
		if (rec && rec.active !== (path ?? null))
			this.d.log.warn(
				{ feed: ref.key, journal: rec.active, router: path ?? null },
				"the router's crosspoint differs from the journal: the router wins",
			)
		this.d.loop.start(
			{ type: 'start', t, feed: ref.key, active: path ?? null, mode, locked },
			rec ? { active: rec.active, mode: rec.mode, locked: rec.locked } : null,
		)
	}

	private onCrosspoint(routerId: string, e: { output: number; input: number; ours: boolean; at: number }): void {
		if (!this.d.running()) return
		// only a feed's output is the journal's business: a whole router's dump on every reconnect is not
		const ref = (this.feedsByRouter.get(routerId) ?? []).find((r) => r.feed.output.output === e.output)
		if (!ref) return
		const path = this.pathOf(ref.key, e.input)
		this.d.journal([
			{
				kind: 'tally',
				payload: {
					t: this.d.loop.now(),
					router: routerId,
					output: e.output,
					input: e.input,
					feed: ref.key,
					...(path ? { path } : {}),
				},
			},
		])
		if (!this.d.loop.started(ref.key)) return
		this.d.moved(ref.key)
		if (e.ours) return
		if (path !== this.d.loop.engine.feedSnapshot(ref.key).active) this.externalChange(ref, path, e.input)
	}

	/**
	 * The router's own status of an input (a Videohub's VIDEO INPUT STATUS): `None` says no input hardware is there,
	 * so nothing can arrive on it: a `down` report for every path landing on it. Any other status (BNC, Optical, ...)
	 * proves no signal either way: the report is withdrawn (`unknown`), and the path's other sources decide.
	 */
	private onInputStatus(routerId: string, input: number, status: string, at: number): void {
		if (!this.d.running() || !this.usedInputs.has(`${routerId}:${input}`)) return
		const t = this.d.loop.now()
		const atT = this.d.loop.toEngineT(at, t)
		this.d.loop.apply(
			{
				type: 'input',
				t,
				router: routerId,
				input,
				state: status.trim().toLowerCase() === 'none' ? 'down' : 'unknown',
				...(atT < t ? { at: atT } : {}),
			},
			'router',
		)
	}

	/** Another controller moved the feed's crosspoint: sigpath does not fight it; what the router shows is on air. */
	private externalChange(ref: FeedRef, path: string | undefined, input: number | undefined): void {
		if (this.d.follow?.(ref, path ?? null)) return
		this.d.log.warn(
			{ feed: ref.key, path: path ?? null, input: input ?? null },
			path !== undefined
				? 'crosspoint changed by another controller: following it, in manual'
				: 'crosspoint changed by another controller to an input of no path: off-path',
		)
		this.d.loop.apply(
			{
				type: 'external',
				t: this.d.loop.now(),
				feed: ref.key,
				path: path ?? null,
				...(input !== undefined ? { input } : {}),
			},
			'router',
		)
	}
}
