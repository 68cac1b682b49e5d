// Building the engine's runtime state from the model, once: feeds with their ranked paths, and the index from each
// device to the (path, slot) pairs that depend on it (its via and its input router), so that a device report costs
// O(affected paths).
import type { Model } from '../domain/model.ts'
import { requiredPaths } from '../domain/model.ts'
import { conflictingPairs, Context } from '../rule/index.ts'
import type { FeedRt, PathRt } from './state.ts'

export interface DeviceRt {
	/** t of the device's previous report (the clamp of `at`) */
	lastReport: number
	refs: { path: PathRt; slot: number }[]
}

/** The key of a router input in the input index. */
export const inputKey = (router: string, input: number): string => `${router}\u0000${input}`

/**
 * Feeds (those with at least one path), not started yet, the device index, and the router-input index: each path has
 * one more slot, after its devices', for the report of the router input it lands on.
 */
export function buildRuntime(
	model: Model,
	t0: number,
): { feeds: FeedRt[]; devices: Map<string, DeviceRt>; inputs: Map<string, DeviceRt> } {
	const feeds: FeedRt[] = []
	const devices = new Map<string, DeviceRt>()
	const inputs = new Map<string, DeviceRt>()
	const ctx = new Context(model.config)
	const policy = model.config.policy
	for (const ref of model.feeds.values()) {
		const fo = ref.feed.failover
		const feed = {
			key: ref.key,
			index: feeds.length,
			ref,
			paths: [],
			byId: new Map(),
			lossMs: fo.lossMs,
			clearMs: fo.clearMs,
			preference: fo.preference,
			configMode: fo.mode,
			risk: ref.feed.critical
				? {
						conflicts: conflictingPairs(ctx, ref.feed),
						required: requiredPaths(policy, ref.event.tier),
						memo: new Map(),
					}
				: null,
			started: false,
			touched: false,
			startT: t0,
			mode: fo.mode,
			locked: false,
			alarms: {
				'no-path': null,
				'no-signal': null,
				'at-risk': null,
				'external-take': null,
				'off-path': null,
				'on-air-failed': null,
			},
			graceOver: false,
			graceGen: 0,
			dirty: false,
			triggers: [],
			would: null,
			// `active` is set below, once the paths exist (they point back at the feed)
		} as Omit<FeedRt, 'active'> as FeedRt
		ref.ranked.forEach((path, rank) => {
			const deps = [...new Set([...path.via, path.input.router])]
			const p: PathRt = {
				feed,
				id: path.id,
				rank,
				slots: new Array<null>(deps.length + 2).fill(null),
				lastPathReport: -Infinity,
				signal: null,
				lastChange: t0,
				badSince: null,
				upSince: null,
				nullSince: t0,
				failedEver: false,
				cleared: false,
				failedOutage: false,
				lastFailure: null,
				nullLong: false,
				revertBlocked: false,
				cause: null,
				gen: { loss: 0, clear: 0, revert: 0, null: 0 },
			}
			feed.paths.push(p)
			feed.byId.set(p.id, p)
			deps.forEach((dev, i) => {
				let d = devices.get(dev)
				if (!d) devices.set(dev, (d = { lastReport: -Infinity, refs: [] }))
				d.refs.push({ path: p, slot: i + 1 })
			})
			const key = inputKey(path.input.router, path.input.input)
			let inp = inputs.get(key)
			if (!inp) inputs.set(key, (inp = { lastReport: -Infinity, refs: [] }))
			inp.refs.push({ path: p, slot: deps.length + 1 })
		})
		if (feed.paths.length === 0) continue // a feed with no path has nothing to switch
		feed.active = feed.paths[0]!
		feeds.push(feed)
	}
	return { feeds, devices, inputs }
}
