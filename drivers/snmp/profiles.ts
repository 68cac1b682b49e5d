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
//   legNUp     INTEGER   1 = the leg receives, 2 = it does not (ifOperStatus-style)        1.3.6.1.3.2022.1.N.1.0
//   legNLost   Counter32 packets lost on leg N (before the merge)  [optional]              1.3.6.1.3.2022.1.N.2.0
//   legNLate   Counter32 packets late on leg N (outside the merge window) [optional]       1.3.6.1.3.2022.1.N.3.0
//   outputLost Counter32 packets lost after the merge: not recovered [optional]            1.3.6.1.3.2022.1.10.1.0
// with N = 1, 2. The signal: both legs down = down; one leg down = up (protection lost: health degraded);
// outputLost grew since the last poll = degraded (the merge could not recover what both legs lost).
//
// ird (integrated receiver-decoder):
//   lock       INTEGER   1 = demodulator locked, 2 = unlocked                               1.3.6.1.3.2022.2.1.0
//   marginDb   Integer32 link margin above the demodulator threshold, in tenths of a dB [optional]
//                                                                                           1.3.6.1.3.2022.2.2.0
// The signal: unlocked = down; locked with margin below IRD_MIN_MARGIN_TENTHS (1.0 dB: rain fade eats a few dB
// in minutes) = degraded; else up. Other thresholds: use `rules` instead of the profile.
import type { SignalReport } from '../types.ts'
import { normalizeOid, numeric, type SnmpValue } from './codec.ts'

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
		leg1Up: { oid: `${G}.1.1.0`, optional: false, description: 'leg 1 receiving: 1 up, 2 down' },
		leg1Lost: { oid: `${G}.1.2.0`, optional: true, description: 'leg 1 packets lost' },
		leg1Late: { oid: `${G}.1.3.0`, optional: true, description: 'leg 1 packets late' },
		leg2Up: { oid: `${G}.2.1.0`, optional: false, description: 'leg 2 receiving: 1 up, 2 down' },
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
	up: boolean
	lost: number | null
	late: number | null
}

export interface ProfileReading {
	signal: SignalReport
	/** ok, or why not (protection lost, unrecovered loss, low margin) */
	health: 'ok' | 'degraded' | 'down' | 'unknown'
	legs?: Leg[]
	lock?: boolean
	marginDb?: number | null
	reason?: string
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
	const get = (name: string) => {
		const oid = oids.get(name)
		return oid === undefined ? null : numeric(values.get(oid))
	}
	const legs: Leg[] = []
	for (const n of [1, 2]) {
		const up = get(`leg${n}Up`)
		if (up === null)
			return { signal: 'unknown', health: 'unknown', reason: `leg ${n} status not readable`, outputLost: null }
		legs.push({ leg: n, up: up === 1, lost: get(`leg${n}Lost`), late: get(`leg${n}Late`) })
	}
	const outputLost = get('outputLost')
	const upCount = legs.filter((l) => l.up).length
	if (upCount === 0) return { signal: 'down', health: 'down', legs, reason: 'both legs down', outputLost }
	const grew = outputLost !== null && previousOutputLost !== null && outputLost > previousOutputLost
	if (grew)
		return {
			signal: 'degraded',
			health: 'degraded',
			legs,
			reason: `${outputLost - previousOutputLost} packets lost after the merge`,
			outputLost,
		}
	if (upCount === 1) {
		const down = legs.find((l) => !l.up)!
		return { signal: 'up', health: 'degraded', legs, reason: `protection lost: leg ${down.leg} down`, outputLost }
	}
	return { signal: 'up', health: 'ok', legs, outputLost }
}

export function judgeIrd(oids: ReadonlyMap<string, string>, values: ReadonlyMap<string, SnmpValue>): ProfileReading {
	const lockOid = oids.get('lock')
	const lock = lockOid === undefined ? null : numeric(values.get(lockOid))
	const marginOid = oids.get('marginDb')
	const tenths = marginOid === undefined ? null : numeric(values.get(marginOid))
	const marginDb = tenths === null ? null : tenths / 10
	if (lock === null) return { signal: 'unknown', health: 'unknown', reason: 'lock status not readable' }
	if (lock !== 1) return { signal: 'down', health: 'down', lock: false, marginDb, reason: 'demodulator unlocked' }
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
