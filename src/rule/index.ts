// The contribution rule of docs/contract.md §3: config in, report out. Pure: no I/O, no clock, no logger.
//
// Every show-critical feed needs `minPaths` paths that are completely discrete: no shared device, router line card
// (or input), shared-risk tag, every device in a path fed by two distinct UPS sources that are surge-protected, every
// method approved. Those codes are the verdict.
//
// The power analysis (`shared-power`, `shared-upstream`) is sigpath's addition (§3 "The power analysis"): which one
// power source, if it fails, takes two paths of a feed down together. It is a warning unless
// `policy.discretePower` is true, where it is a violation: a BOC whose devices share the usual A/B UPS pair must
// not fail `check` for it (§3), and with every device dual-fed from two UPS units no single failure is a finding.
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
	'shared-upstream',
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
	'shared-upstream',
])

/** The power analysis (docs/contract.md §3): warnings, violations only with `policy.discretePower: true`. */
export const POWER_ANALYSIS_CODES: ReadonlySet<Code> = new Set(['shared-power', 'shared-upstream'])

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
	/** no violation; warnings do not count */
	compliant: boolean
	violations: Violation[]
	/** the power analysis when `policy.discretePower` is false (docs/contract.md §3), same shape as a violation */
	warnings: Violation[]
}

export interface Report {
	ok: boolean
	feeds: FeedReport[]
	/** every feed's warnings, one line each (`EVENT/FEED: CODE: DETAIL`), as `sigpath check` prints them */
	warnings: string[]
}

export function judge(config: Config): Report {
	const ctx = new Context(config)
	const feeds: FeedReport[] = []
	for (const event of config.events) for (const feed of event.feeds) feeds.push(judgeFeed(ctx, event, feed))
	const warnings = feeds.flatMap((f) => f.warnings.map((w) => `${f.event}/${f.feed}: ${w.code}: ${w.detail}`))
	return { ok: feeds.every((f) => f.compliant), feeds, warnings }
}

/** Lookups built once per judgement. */
export class Context {
	readonly devices: Map<string, Device>
	readonly sourceKind: Map<string, { kind: string; surgeProtected: boolean; upstream: string | undefined }>
	/** `${mode}\0${source}` -> every source out when that one fails (see lostWhen) */
	readonly #lost = new Map<string, ReadonlySet<string>>()
	constructor(readonly config: Config) {
		this.devices = new Map(config.devices.map((d) => [d.id, d]))
		this.sourceKind = new Map(
			config.powerSources.map((p) => [p.id, { kind: p.kind, surgeProtected: p.surgeProtected, upstream: p.upstream }]),
		)
	}

	/**
	 * The sources that are out when `failed` fails: itself, and every source downstream of it that cannot carry its
	 * load on its own. A utility or generator source fed by a lost source is lost. A UPS fed by a lost source rides
	 * through on its battery (that is what it is for) unless `sustained`, an outage that outlasts every battery.
	 * The schema guarantees upstream chains end (no loop), so the walk terminates.
	 */
	lostWhen(failed: string, sustained: boolean): ReadonlySet<string> {
		const key = `${sustained ? 's' : 'r'}\0${failed}`
		const known = this.#lost.get(key)
		if (known) return known
		const lost = new Set<string>([failed])
		const isLost = (id: string): boolean => {
			for (let cur = id; ;) {
				if (lost.has(cur)) return true
				const s = this.sourceKind.get(cur)
				if (!s || s.upstream === undefined || (s.kind === 'ups' && !sustained)) return false
				cur = s.upstream
			}
		}
		for (const id of this.sourceKind.keys()) if (isLost(id)) lost.add(id)
		this.#lost.set(key, lost)
		return lost
	}

	/** a source and every source upstream of it */
	upstreamOf(source: string): string[] {
		const out: string[] = []
		let cur: string | undefined = source
		while (cur !== undefined && !out.includes(cur)) {
			out.push(cur)
			cur = this.sourceKind.get(cur)?.upstream
		}
		return out
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
	if (!feed.critical) return { ...base, critical: false, compliant: true, violations: [], warnings: [] }
	const policy = ctx.config.policy
	const approved = new Set(policy.approvedMethods)
	const v: Violation[] = []
	const w: Violation[] = []
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
		for (let j = i + 1; j < paths.length; j++) judgePair(ctx, paths[i]!, paths[j]!, v, w)

	v.sort(compareViolations)
	w.sort(compareViolations)
	return { ...base, critical: true, compliant: v.length === 0, violations: v, warnings: w }
}

function judgePower(ctx: Context, path: Path, v: Violation[]): void {
	for (const dev of [...new Set(path.via)].sort(byId)) {
		const sources = ctx.powerOf(dev)
		if (sources.length < 2) {
			// sources are counted distinct (§3): a device listing one source twice has one source
			const listed = ctx.devices.get(dev)?.power.length ?? 0
			const twice = sources.length === 1 && listed > 1 ? `, listed ${listed === 2 ? 'twice' : `${listed} times`}` : ''
			v.push({
				code: 'single-power',
				paths: [path.id],
				detail:
					sources.length === 0
						? `device ${dev} in path ${path.id} has no power source declared; it needs two`
						: `device ${dev} in path ${path.id} has one power source (${sources[0]}${twice}); it needs two`,
			})
		}
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

/** Judges one pair of paths: the pair codes go to `v`; the power analysis to `v` or, by default, to `w`. */
function judgePair(ctx: Context, a: Path, b: Path, v: Violation[], w: Violation[]): void {
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

	const power = ctx.config.policy.discretePower ? v : w
	for (const f of powerFindings(ctx, a, b)) power.push(f)
}

/**
 * The power analysis of one pair (docs/contract.md §3): every single power source whose failure leaves some device
 * of each path with no power at all. A device is down when every one of its (distinct) sources is out; a path is
 * down when one of its devices is. `shared-power`: the failure as it happens, UPS units riding through the loss of
 * their upstream. `shared-upstream`: the same source, out for longer than the UPS batteries last (an outage of the
 * utility feed behind both paths' UPS units), where it is not already a shared-power finding.
 *
 * A device in both paths is left out: it is a shared-device already, and its power is that violation's consequence.
 * With every device dual-fed from two distinct UPS units no single failure is a shared-power finding (a UPS failing
 * leaves the other; a utility failing is ridden through), however the units are shared between paths: exactly the
 * usual A/B pair, which must not be a finding.
 */
function powerFindings(ctx: Context, a: Path, b: Path): Violation[] {
	const devsA = [...new Set(a.via)].filter((d) => !b.via.includes(d)).sort(byId)
	const devsB = [...new Set(b.via)].filter((d) => !a.via.includes(d)).sort(byId)
	// a source can take a device down only if it is upstream of (or is) every source of that device
	const candidates = new Set<string>()
	for (const dev of devsA) for (const s of ctx.powerOf(dev)) for (const u of ctx.upstreamOf(s)) candidates.add(u)
	const down = (devs: readonly string[], lost: ReadonlySet<string>) =>
		devs.filter((d) => {
			const sources = ctx.powerOf(d)
			return sources.length > 0 && sources.every((s) => lost.has(s))
		})
	const out: Violation[] = []
	for (const source of [...candidates].sort(byId)) {
		for (const sustained of [false, true]) {
			const lost = ctx.lostWhen(source, sustained)
			const downA = down(devsA, lost)
			const downB = down(devsB, lost)
			if (downA.length === 0 || downB.length === 0) continue
			const kind = ctx.sourceKind.get(source)?.kind ?? 'unknown'
			const which = `${a.id}: ${downA.join(', ')}; ${b.id}: ${downB.join(', ')}`
			out.push(
				sustained
					? {
							code: 'shared-upstream',
							paths: [a.id, b.id],
							detail: `paths ${a.id} and ${b.id} both go down if ${kind} source ${source} is out for longer than the UPS batteries last (${which})`,
						}
					: {
							code: 'shared-power',
							paths: [a.id, b.id],
							detail: `paths ${a.id} and ${b.id} both go down if ${kind} source ${source} fails (${which})`,
						},
			)
			break // a shared-power source is a shared-upstream one too: report it once
		}
	}
	return out
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
	// only violations conflict: the power analysis counts here only where policy.discretePower makes it one
	const v: Violation[] = []
	const paths = [...feed.paths].sort((a, b) => byId(a.id, b.id))
	for (let i = 0; i < paths.length; i++)
		for (let j = i + 1; j < paths.length; j++) judgePair(ctx, paths[i]!, paths[j]!, v, [])
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
