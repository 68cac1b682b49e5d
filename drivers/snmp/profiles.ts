// The built-in health profiles of the `snmp` driver: their objects, their default OIDs, and how a reading of
// them becomes a signal. The one documented place for these OIDs (docs/contract.md §2 `profile`, `profileOids`).
//
// THERE IS NO STANDARD MIB for SMPTE ST 2022-7 gateways or satellite IRDs. Every vendor has its own enterprise
// MIB. The default OIDs below are sigpath's own, placed under the IANA *experimental* arc 1.3.6.1.3 (RFC 1155
// §3.1.3: "used to identify objects used in Internet experiments"), at 1.3.6.1.3.2022. They are not registered,
// and no vendor implements them: sigpath's simulator serves them, and a real device's OIDs are mapped onto the
// profile's object names with `profileOids`, for example
//   driver: { type: snmp, host: 10.0.0.5, profile: gateway-2022-7,
//             profileOids: { leg1Up: 1.3.6.1.4.1.99999.1.2.1.3.1, leg2Up: 1.3.6.1.4.1.99999.1.2.1.3.2, ... } }
// A profile object a vendor lacks can be left unmapped only if it is optional (marked below).
//
// gateway-2022-7, in the vocabulary of AMWA BCP-008-01 (receiver status: per-leg packet counters, link
// "all up" / "some down", and "redundant leg recovery" as a partially healthy state):
//   legNUp     INTEGER   ifOperStatus values (RFC 2863): 1 = the leg receives, see LEG_STATUS 1.3.6.1.3.2022.1.N.1.0
//   legNLost   Counter32 packets lost on leg N (before the merge)  [optional]              1.3.6.1.3.2022.1.N.2.0
//   legNLate   Counter32 packets late on leg N (outside the merge window) [optional]       1.3.6.1.3.2022.1.N.3.0
//   outputLost Counter32 packets lost after the merge: not recovered [optional]            1.3.6.1.3.2022.1.10.1.0
// with N = 1, 2. Each leg is up, down or not known (LEG_STATUS). The signal: both legs down = down; a leg up = up
// (the other down: protection lost; not known: protection not proven; health degraded either way); outputLost grew
// since the last poll, with a leg up = degraded (the merge could not recover what both legs lost); no leg known up
// and not both known down = unknown (docs/contract.md §4: only evidence about the video reports down).
//
// ird (integrated receiver-decoder):
//   lock       INTEGER   1 = demodulator locked, 2 = unlocked; no other value is defined    1.3.6.1.3.2022.2.1.0
//   marginDb   Integer32 link margin above the demodulator threshold, in tenths of a dB [optional]
//                                                                                           1.3.6.1.3.2022.2.2.0
// The signal: unlocked (2) = down; locked with margin below IRD_MIN_MARGIN_TENTHS (1.0 dB: rain fade eats a few dB
// in minutes) = degraded; locked = up; any other value = unknown. Other thresholds: use `rules` instead.
import type { SignalReport } from '../types.ts'
import { describeValue, normalizeOid, numeric, type SnmpValue } from './codec.ts'

export const EXPERIMENTAL_ARC = '1.3.6.1.3.2022'
export const IRD_MIN_MARGIN_TENTHS = 10

export type ProfileName = 'gateway-2022-7' | 'ird'

interface ObjectDef {
	oid: string
	optional: boolean
	description: string
}

const G = `${EXPERIMENTAL_ARC}.1`
const I = `${EXPERIMENTAL_ARC}.2`

export const PROFILES: Record<ProfileName, Record<string, ObjectDef>> = {
	'gateway-2022-7': {
		leg1Up: { oid: `${G}.1.1.0`, optional: false, description: 'leg 1 receiving: ifOperStatus, 1 up' },
		leg1Lost: { oid: `${G}.1.2.0`, optional: true, description: 'leg 1 packets lost' },
		leg1Late: { oid: `${G}.1.3.0`, optional: true, description: 'leg 1 packets late' },
		leg2Up: { oid: `${G}.2.1.0`, optional: false, description: 'leg 2 receiving: ifOperStatus, 1 up' },
		leg2Lost: { oid: `${G}.2.2.0`, optional: true, description: 'leg 2 packets lost' },
		leg2Late: { oid: `${G}.2.3.0`, optional: true, description: 'leg 2 packets late' },
		outputLost: { oid: `${G}.10.1.0`, optional: true, description: 'packets lost after the merge' },
	},
	ird: {
		lock: { oid: `${I}.1.0`, optional: false, description: 'demodulator lock: 1 locked, 2 unlocked' },
		marginDb: { oid: `${I}.2.0`, optional: true, description: 'link margin, tenths of a dB' },
	},
}

export class ProfileError extends Error {
	override name = 'ProfileError'
}

/** The profile's object name -> OID, with a vendor's `profileOids` laid over the defaults. */
export function resolveProfile(profile: ProfileName, overrides: Record<string, string> = {}): Map<string, string> {
	const defs = PROFILES[profile]
	for (const name of Object.keys(overrides))
		if (!(name in defs))
			throw new ProfileError(
				`profileOids.${name}: not an object of profile ${profile} (objects: ${Object.keys(defs).join(', ')})`,
			)
	const out = new Map<string, string>()
	for (const [name, def] of Object.entries(defs)) out.set(name, normalizeOid(overrides[name] ?? def.oid))
	return out
}

export interface Leg {
	leg: number
	/** receiving (true), not (false), or not known (null: LEG_STATUS) */
	up: boolean | null
	/** the value read, when it is a number (an operator sees unknown(4) as 4) */
	status: number | null
	lost: number | null
	late: number | null
}

export interface ProfileReading {
	signal: SignalReport
	/** ok, or why not (protection lost or not proven, unrecovered loss, low margin) */
	health: 'ok' | 'degraded' | 'down' | 'unknown'
	legs?: Leg[]
	lock?: boolean
	marginDb?: number | null
	reason?: string
}

/**
 * legNUp takes the values of ifOperStatus (RFC 2863, IF-MIB), so a vendor's ifOperStatus of a leg's port maps onto
 * it with profileOids as it is. up(1) receives. down(2), notPresent(6) (the leg's hardware is missing) and
 * lowerLayerDown(7) (the link under it is down) are evidence that it does not. testing(3), unknown(4) and dormant(5)
 * are the agent saying it cannot tell, or that the port is out of service for a reason other than a fault: no
 * evidence about the video, so not known, never down (docs/contract.md §4). A value RFC 2863 does not define
 * (0, 8, ...) is not known either. Reading every value but 1 as down made a gateway whose agent answers unknown(4)
 * on both legs report "both legs down", and a failover followed on nothing.
 */
export const LEG_STATUS: Readonly<Record<number, { name: string; up: boolean | null }>> = {
	1: { name: 'up', up: true },
	2: { name: 'down', up: false },
	3: { name: 'testing', up: null },
	4: { name: 'unknown', up: null },
	5: { name: 'dormant', up: null },
	6: { name: 'notPresent', up: false },
	7: { name: 'lowerLayerDown', up: false },
}

/** One leg's status: up, down or not known (null), and how to say it in a reason. */
function legStatus(v: SnmpValue | undefined): { up: boolean | null; status: number | null; said: string } {
	const n = numeric(v)
	if (n === null) return { up: null, status: null, said: `status not readable: the agent answered ${describeValue(v)}` }
	const def = LEG_STATUS[n]
	if (def) return { up: def.up, status: n, said: `${def.name}(${n})` }
	return { up: null, status: n, said: `status ${n}, not an ifOperStatus value` }
}

/**
 * A gateway reading. `previousOutputLost` is the merged-loss counter at the previous poll (null at first):
 * a counter can only be judged by its growth. A counter that went backwards (wrap or agent restart) is a new
 * baseline, not loss.
 */
export function judgeGateway(
	oids: ReadonlyMap<string, string>,
	values: ReadonlyMap<string, SnmpValue>,
	previousOutputLost: number | null,
): ProfileReading & { outputLost: number | null } {
	const read = (name: string) => {
		const oid = oids.get(name)
		return oid === undefined ? undefined : values.get(oid)
	}
	const legs: Leg[] = []
	const said: string[] = []
	for (const n of [1, 2]) {
		const st = legStatus(read(`leg${n}Up`))
		legs.push({
			leg: n,
			up: st.up,
			status: st.status,
			lost: numeric(read(`leg${n}Lost`)),
			late: numeric(read(`leg${n}Late`)),
		})
		said.push(`leg ${n} ${st.said}`)
	}
	const outputLost = numeric(read('outputLost'))
	const up = legs.filter((l) => l.up === true).length
	const down = legs.filter((l) => l.up === false).length
	if (down === 2) return { signal: 'down', health: 'down', legs, reason: 'both legs down', outputLost }
	// no leg is known to receive and one is not known: the video may arrive on that one. Not evidence of loss.
	if (up === 0)
		return {
			signal: 'unknown',
			health: 'unknown',
			legs,
			reason: `${said.join(', ')}: no leg known to receive`,
			outputLost,
		}
	const grew = outputLost !== null && previousOutputLost !== null && outputLost > previousOutputLost
	if (grew)
		return {
			signal: 'degraded',
			health: 'degraded',
			legs,
			reason: `${outputLost - previousOutputLost} packets lost after the merge`,
			outputLost,
		}
	if (up === 1) {
		// a leg receives: the signal is up. The other is down (protection lost) or not known, and protection that
		// cannot be proven is not claimed: health degraded, saying which
		const other = legs.findIndex((l) => l.up !== true)
		const reason =
			legs[other]!.up === false ? `protection lost: leg ${other + 1} down` : `protection not proven: ${said[other]}`
		return { signal: 'up', health: 'degraded', legs, reason, outputLost }
	}
	return { signal: 'up', health: 'ok', legs, outputLost }
}

/**
 * The profile's lock takes two values, 1 locked and 2 unlocked (as TruthValue, RFC 2579). 2 is evidence of no
 * signal: down. Any other value is none the profile defines (a vendor's 0, a "searching" state of its own):
 * unknown, never down (docs/contract.md §4); a vendor whose lock uses other values maps it with `rules`.
 */
export function judgeIrd(oids: ReadonlyMap<string, string>, values: ReadonlyMap<string, SnmpValue>): ProfileReading {
	const lockOid = oids.get('lock')
	const lockValue = lockOid === undefined ? undefined : values.get(lockOid)
	const lock = numeric(lockValue)
	const marginOid = oids.get('marginDb')
	const tenths = marginOid === undefined ? null : numeric(values.get(marginOid))
	const marginDb = tenths === null ? null : tenths / 10
	if (lock === null)
		return {
			signal: 'unknown',
			health: 'unknown',
			reason: `lock status not readable: the agent answered ${describeValue(lockValue)}`,
		}
	if (lock === 2) return { signal: 'down', health: 'down', lock: false, marginDb, reason: 'demodulator unlocked' }
	if (lock !== 1)
		return {
			signal: 'unknown',
			health: 'unknown',
			marginDb,
			reason: `lock status ${lock} is not a value the profile defines (1 locked, 2 unlocked)`,
		}
	if (tenths !== null && tenths < IRD_MIN_MARGIN_TENTHS)
		return {
			signal: 'degraded',
			health: 'degraded',
			lock: true,
			marginDb,
			reason: `margin ${marginDb} dB below ${IRD_MIN_MARGIN_TENTHS / 10} dB`,
		}
	return { signal: 'up', health: 'ok', lock: true, marginDb }
}

/**
 * Notifications the simulator sends when a profile object changes, and that a device with `traps: true` answers
 * with an immediate poll (any notification from its address does; these are only ours). Same experimental arc.
 */
export const PROFILE_TRAP: Record<ProfileName, string> = {
	'gateway-2022-7': `${G}.0.1`,
	ird: `${I}.0.1`,
}
