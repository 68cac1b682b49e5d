// The model derived from a validated config: lookups by id and the ranking of docs/contract.md §4, shared by the rule,
// the engine and the runtime so that they can never disagree about which path is the primary.
import type { Config, Device, Event, Feed, Path, Policy, PowerSource, Tier } from './config.ts'

/** `event/feed`, the key used by replay timelines, MQTT topics and the journal. */
export type FeedKey = `${string}/${string}`

export function feedKey(event: string, feed: string): FeedKey {
	return `${event}/${feed}`
}

export interface FeedRef {
	key: FeedKey
	event: Event
	feed: Feed
	/** paths in rank order: method order in approvedMethods, then config order; paths with an unapproved method last */
	ranked: Path[]
}

/**
 * Ranking of a feed's paths (docs/contract.md §4): method order in `approvedMethods`, then order in the config.
 * A path whose method is not approved ranks after every approved one (it is a violation, but it still exists).
 */
export function rankPaths(paths: readonly Path[], approvedMethods: readonly string[]): Path[] {
	const order = new Map(approvedMethods.map((m, i) => [m, i]))
	return paths
		.map((p, i) => ({ p, i, m: order.get(p.method) ?? approvedMethods.length }))
		.sort((a, b) => a.m - b.m || a.i - b.i)
		.map((x) => x.p)
}

export function requiredPaths(policy: Policy, tier: Tier): number {
	return policy.tiers[tier]?.minPaths ?? policy.minPaths
}

export interface Model {
	config: Config
	devices: ReadonlyMap<string, Device>
	powerSources: ReadonlyMap<string, PowerSource>
	feeds: ReadonlyMap<FeedKey, FeedRef>
}

export function buildModel(config: Config): Model {
	const feeds = new Map<FeedKey, FeedRef>()
	for (const event of config.events)
		for (const feed of event.feeds) {
			const key = feedKey(event.id, feed.id)
			feeds.set(key, { key, event, feed, ranked: rankPaths(feed.paths, config.policy.approvedMethods) })
		}
	return {
		config,
		devices: new Map(config.devices.map((d) => [d.id, d])),
		powerSources: new Map(config.powerSources.map((p) => [p.id, p])),
		feeds,
	}
}
