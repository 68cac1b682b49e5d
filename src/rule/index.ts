// The contribution rule of docs/contract.md §3: config in, report out. Pure: no I/O, no clock, no logger.
//
// Every show-critical feed needs `minPaths` paths that are completely discrete: no shared device, router line card
// (or input), shared-risk tag or power source, every device in a path fed by two distinct UPS sources that are
// surge-protected, every method approved.
//
// `shared-power` is our extension of §3: two paths whose devices draw on one power source directly are not discrete
// (one UPS failing takes both). Only direct sources count: every UPS in a building shares the utility upstream.
import type { Config, Device, Event, Feed, Path } from '../domain/config.ts'
import { requiredPaths } from '../domain/model.ts'

export const CODES = [
	'too-few-paths',
	'method-not-approved',
	'shared-device',
	'shared-line-card',
	'line-card-unknown',
	'shared-risk',
	'shared-power',
	'single-power',
	'power-not-ups',
	'not-surge-protected',
] as const
export type Code = (typeof CODES)[number]

/** Codes judged on a pair of paths; the others are judged on one path (or, too-few-paths, on the feed). */
export const PAIR_CODES: ReadonlySet<Code> = new Set([
	'shared-device',
	'shared-line-card',
	'shared-risk',
	'shared-power',
])

export interface Violation {
	code: Code
	/** the pair (sorted by id), the one path, or every path of the feed (too-few-paths) */
	paths: string[]
	/** what an operator must fix, naming the paths and the element */
	detail: string
}

export interface FeedReport {
	event: string
	feed: string
	critical: boolean
	compliant: boolean
	violations: Violation[]
}

export interface Report {
	ok: boolean
	feeds: FeedReport[]
}

export function judge(config: Config): Report {
	const ctx = new Context(config)
	const feeds: FeedReport[] = []
	for (const event of config.events) for (const feed of event.feeds) feeds.push(judgeFeed(ctx, event, feed))
	return { ok: feeds.every((f) => f.compliant), feeds }
}

/** Lookups built once per judgement. */
export class Context {
	readonly devices: Map<string, Device>
	readonly sourceKind: Map<string, { kind: string; surgeProtected: boolean }>
	constructor(readonly config: Config) {
		this.devices = new Map(config.devices.map((d) => [d.id, d]))
		this.sourceKind = new Map(
			config.powerSources.map((p) => [p.id, { kind: p.kind, surgeProtected: p.surgeProtected }]),
		)
	}

	/** The line card of a router input, or undefined when no declared card covers it. */
	lineCard(router: string, input: number): string | undefined {
		const cards = this.devices.get(router)?.lineCards
		return cards?.find((c) => input >= c.inputs[0] && input <= c.inputs[1])?.id
	}

	powerOf(device: string): string[] {
		return [...new Set(this.devices.get(device)?.power ?? [])]
	}
}

const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)
const list = (xs: readonly string[]) => [...xs].sort(byId).join(', ')

export function judgeFeed(ctx: Context, event: Event, feed: Feed): FeedReport {
	const base = { event: event.id, feed: feed.id }
	if (!feed.critical) return { ...base, critical: false, compliant: true, violations: [] }
	const policy = ctx.config.policy
	const approved = new Set(policy.approvedMethods)
	const v: Violation[] = []
	const required = requiredPaths(policy, event.tier)

	if (feed.paths.length < required) {
		const tierNote = policy.tiers[event.tier] ? `tier ${event.tier} requires` : 'policy requires'
		v.push({
			code: 'too-few-paths',
			paths: feed.paths.map((p) => p.id).sort(byId),
			detail: `feed ${event.id}/${feed.id} has ${feed.paths.length} path${feed.paths.length === 1 ? '' : 's'}; ${tierNote} ${required}`,
		})
	}

	for (const path of feed.paths) {
		if (!approved.has(path.method))
			v.push({
				code: 'method-not-approved',
				paths: [path.id],
				detail: `path ${path.id} uses method "${path.method}", which is not approved (approved: ${policy.approvedMethods.join(', ')})`,
			})
		if (ctx.lineCard(path.input.router, path.input.input) === undefined)
			v.push({
				code: 'line-card-unknown',
				paths: [path.id],
				detail: `path ${path.id} lands on ${path.input.router} input ${path.input.input}, which no declared line card covers`,
			})
		judgePower(ctx, path, v)
	}

	// pairs in id order, so that the report does not depend on the order of the file
	const paths = [...feed.paths].sort((a, b) => byId(a.id, b.id))
	for (let i = 0; i < paths.length; i++)
		for (let j = i + 1; j < paths.length; j++) judgePair(ctx, paths[i]!, paths[j]!, v)

	v.sort(compareViolations)
	return { ...base, critical: true, compliant: v.length === 0, violations: v }
}

function judgePower(ctx: Context, path: Path, v: Violation[]): void {
	for (const dev of [...new Set(path.via)].sort(byId)) {
		const sources = ctx.powerOf(dev)
		if (sources.length < 2)
			v.push({
				code: 'single-power',
				paths: [path.id],
				detail:
					sources.length === 0
						? `device ${dev} in path ${path.id} has no power source declared; it needs two`
						: `device ${dev} in path ${path.id} has one power source (${sources[0]}); it needs two`,
			})
		const notUps = sources.filter((s) => ctx.sourceKind.get(s)?.kind !== 'ups')
		if (notUps.length > 0)
			v.push({
				code: 'power-not-ups',
				paths: [path.id],
				detail: `device ${dev} in path ${path.id} is fed by ${notUps
					.sort(byId)
					.map((s) => `${s} (${ctx.sourceKind.get(s)?.kind ?? 'unknown'})`)
					.join(', ')}, not a UPS`,
			})
		const unprotected = sources.filter((s) => {
			const k = ctx.sourceKind.get(s)
			return k?.kind === 'ups' && !k.surgeProtected
		})
		if (unprotected.length > 0)
			v.push({
				code: 'not-surge-protected',
				paths: [path.id],
				detail: `device ${dev} in path ${path.id} is fed by UPS ${list(unprotected)} without surge protection`,
			})
	}
}

function judgePair(ctx: Context, a: Path, b: Path, v: Violation[]): void {
	const pair = [a.id, b.id]
	const names = `paths ${a.id} and ${b.id}`

	const sharedDevices = intersect(a.via, b.via)
	if (sharedDevices.length > 0)
		v.push({
			code: 'shared-device',
			paths: pair,
			detail: `${names} both go through ${sharedDevices.length === 1 ? 'device' : 'devices'} ${list(sharedDevices)}`,
		})

	if (a.input.router === b.input.router) {
		if (a.input.input === b.input.input)
			v.push({
				code: 'shared-line-card',
				paths: pair,
				detail: `${names} land on the same input: ${a.input.router} input ${a.input.input}`,
			})
		else {
			const ca = ctx.lineCard(a.input.router, a.input.input)
			const cb = ctx.lineCard(b.input.router, b.input.input)
			if (ca !== undefined && ca === cb)
				v.push({
					code: 'shared-line-card',
					paths: pair,
					detail: `${names} land on ${a.input.router} ${ca} (inputs ${a.input.input} and ${b.input.input})`,
				})
		}
	}

	const sharedRisks = intersect(a.risks, b.risks)
	if (sharedRisks.length > 0)
		v.push({
			code: 'shared-risk',
			paths: pair,
			detail: `${names} share the risk ${sharedRisks.length === 1 ? 'group' : 'groups'} ${list(sharedRisks)}`,
		})

	if (!ctx.config.policy.discretePower) return
	const powerA = sourcesOfPath(ctx, a, b)
	const powerB = sourcesOfPath(ctx, b, a)
	const sharedPower = [...powerA.keys()].filter((s) => powerB.has(s)).sort(byId)
	if (sharedPower.length > 0)
		v.push({
			code: 'shared-power',
			paths: pair,
			detail: `${names} draw on the same power ${sharedPower.length === 1 ? 'source' : 'sources'}: ${sharedPower
				.map((s) => `${s} (${a.id}: ${list(powerA.get(s)!)}; ${b.id}: ${list(powerB.get(s)!)})`)
				.join('; ')}`,
		})
}

/**
 * power source -> the devices of the path it feeds directly. A device in both paths is excluded: it is already a
 * shared-device, and its power is that violation's consequence, not a second finding.
 */
function sourcesOfPath(ctx: Context, path: Path, other: Path): Map<string, string[]> {
	const m = new Map<string, string[]>()
	const otherVia = new Set(other.via)
	for (const dev of new Set(path.via)) {
		if (otherVia.has(dev)) continue
		for (const s of ctx.powerOf(dev)) {
			const devs = m.get(s)
			if (devs) devs.push(dev)
			else m.set(s, [dev])
		}
	}
	return m
}

function intersect(a: readonly string[], b: readonly string[]): string[] {
	const sb = new Set(b)
	return [...new Set(a)].filter((x) => sb.has(x)).sort(byId)
}

const codeOrder = new Map<Code, number>(CODES.map((c, i) => [c, i]))
export function compareViolations(x: Violation, y: Violation): number {
	return (
		codeOrder.get(x.code)! - codeOrder.get(y.code)! ||
		byId(x.paths.join('\0'), y.paths.join('\0')) ||
		byId(x.detail, y.detail)
	)
}

/**
 * Pairs of paths of a feed that are not discrete (any pair code). The runtime uses it for live compliance:
 * the number of healthy paths that are pairwise discrete.
 */
export function conflictingPairs(ctx: Context, feed: Feed): Set<string> {
	const v: Violation[] = []
	const paths = [...feed.paths].sort((a, b) => byId(a.id, b.id))
	for (let i = 0; i < paths.length; i++)
		for (let j = i + 1; j < paths.length; j++) judgePair(ctx, paths[i]!, paths[j]!, v)
	return new Set(v.map((x) => pairKey(x.paths[0]!, x.paths[1]!)))
}

export function pairKey(a: string, b: string): string {
	return a < b ? `${a}\0${b}` : `${b}\0${a}`
}

/** The size of the largest set of the given paths that are pairwise discrete (exact; a feed has a handful of paths). */
export function maxDiscrete(pathIds: readonly string[], conflicts: ReadonlySet<string>): number {
	const ids = [...pathIds]
	let best = 0
	const pick = (i: number, chosen: string[]): void => {
		if (chosen.length + (ids.length - i) <= best) return
		if (i === ids.length) {
			best = Math.max(best, chosen.length)
			return
		}
		const id = ids[i]!
		if (chosen.every((c) => !conflicts.has(pairKey(c, id)))) pick(i + 1, [...chosen, id])
		pick(i + 1, chosen)
	}
	pick(0, [])
	return best
}
