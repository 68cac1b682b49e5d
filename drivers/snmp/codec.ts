// Pure SNMP value handling: net-snmp varbinds in, typed values out; rule evaluation (docs/contract.md §2 `rules`).
// No I/O, no timers, no logger.
import type { SignalReport } from '../types.ts'

/** The SMI types we read (RFC 2578 §7.1), by name; `missing` is noSuchObject / noSuchInstance / endOfMibView. */
export type SnmpType =
	'integer' | 'string' | 'oid' | 'ip' | 'counter' | 'gauge' | 'timeticks' | 'counter64' | 'opaque' | 'null' | 'missing'

export interface SnmpValue {
	oid: string
	type: SnmpType
	/** numbers for integer/counter/gauge/timeticks/counter64 (as a number; exact to 2^53), text for strings */
	value: number | string | null
}

/** BER tags of RFC 1905 §3 / net-snmp's ObjectType. */
const TYPE_BY_TAG: Record<number, SnmpType> = {
	1: 'integer',
	2: 'integer',
	4: 'string',
	5: 'null',
	6: 'oid',
	64: 'ip',
	65: 'counter',
	66: 'gauge',
	67: 'timeticks',
	68: 'opaque',
	70: 'counter64',
	128: 'missing',
	129: 'missing',
	130: 'missing',
}

export function normalizeOid(oid: string): string {
	return oid.startsWith('.') ? oid.slice(1) : oid
}

/** a finite number, else null: NaN or Infinity would read as a value and compare false against every rule */
const finite = (n: number): number | null => (Number.isFinite(n) ? n : null)

/** One net-snmp varbind to a typed value. Unknown tags come back as `opaque` with no value (never thrown). */
export function decodeVarbind(vb: { oid: string; type: number; value: unknown }): SnmpValue {
	const type = TYPE_BY_TAG[vb.type] ?? 'opaque'
	const oid = normalizeOid(vb.oid)
	const v = vb.value
	switch (type) {
		case 'integer':
		case 'counter':
		case 'gauge':
		case 'timeticks':
			return { oid, type, value: typeof v === 'number' ? finite(v) : typeof v === 'boolean' ? Number(v) : null }
		case 'counter64':
			// net-snmp hands Counter64 over as a big-endian Buffer of up to 8 bytes
			if (Buffer.isBuffer(v)) {
				let n = 0n
				for (const b of v) n = (n << 8n) | BigInt(b)
				return { oid, type, value: Number(n) }
			}
			return { oid, type, value: typeof v === 'number' ? finite(v) : typeof v === 'bigint' ? finite(Number(v)) : null }
		case 'string':
			return { oid, type, value: Buffer.isBuffer(v) ? v.toString('latin1') : typeof v === 'string' ? v : null }
		case 'oid':
		case 'ip':
			return { oid, type, value: typeof v === 'string' ? normalizeOid(v) : null }
		default:
			return { oid, type, value: null }
	}
}

/**
 * A finite number from a value, or null (a string holding a decimal number counts: some agents report "-2.5"). A
 * string of hundreds of digits is null, not Infinity: found by the codec fuzz test.
 */
export function numeric(v: SnmpValue | undefined): number | null {
	if (!v || v.value === null) return null
	if (typeof v.value === 'number') return finite(v.value)
	if (v.type === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(v.value)) return finite(Number(v.value))
	return null
}

export interface Rule {
	oid: string
	op: 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge'
	value: number | string
	means: 'up' | 'down' | 'degraded'
}

/** A value as an operator would read it in a reason: the text quoted (and cut), the number, or what it is. */
export function describeValue(v: SnmpValue | undefined): string {
	if (!v || v.type === 'missing') return 'nothing (not served by the agent)'
	if (v.type === 'null') return 'NULL'
	if (v.value === null) return v.type === 'opaque' ? 'an Opaque' : `an unreadable ${v.type}`
	if (typeof v.value === 'number') return String(v.value)
	const text = v.value.length > 40 ? `${v.value.slice(0, 40)}...` : v.value
	return `${JSON.stringify(text)} (${v.type})`
}

/**
 * Why a rule cannot be evaluated on the value read at its OID, or null when it can: nothing served, a value
 * without content (ASN.1 NULL, an Opaque, a number that is not finite), or a number rule given a value that is
 * not a number ("LOS", "-27.4 dBm", an OID). Such a rule neither holds nor fails: comparing would be a guess.
 * A string rule compares the value's text, so any value with content can be evaluated by it.
 */
export function whyUnevaluable(rule: Rule, v: SnmpValue | undefined): string | null {
	if (!v || v.type === 'missing' || v.value === null) return `the agent answered ${describeValue(v)}`
	if (typeof rule.value === 'number' && numeric(v) === null)
		return `the agent answered ${describeValue(v)}, not a number`
	return null
}

/** Whether one rule holds for the value read at its OID. A rule that cannot be evaluated holds for nothing. */
export function ruleHolds(rule: Rule, v: SnmpValue | undefined): boolean {
	return v !== undefined && whyUnevaluable(rule, v) === null && holdsOn(rule, v)
}

/** The comparison itself, on a value whyUnevaluable has let through. */
function holdsOn(rule: Rule, v: SnmpValue): boolean {
	if (typeof rule.value === 'number') return compare(numeric(v)!, rule.value, rule.op)
	return compare(String(v.value), rule.value, rule.op)
}

function compare<T extends number | string>(a: T, b: T, op: Rule['op']): boolean {
	switch (op) {
		case 'eq':
			return a === b
		case 'ne':
			return a !== b
		case 'lt':
			return a < b
		case 'le':
			return a <= b
		case 'gt':
			return a > b
		case 'ge':
			return a >= b
	}
}

export interface RulesReading {
	signal: SignalReport
	/** why the signal is unknown: which rule could not be evaluated, on what value */
	reason?: string
}

/**
 * docs/contract.md §2 `rules`: rules are tried in order, the first that holds gives the signal; none holding means
 * up. A rule reached in that order that cannot be evaluated (whyUnevaluable) stops the evaluation at `unknown`:
 * whether it holds decides whether the later rules are even asked, so nothing after it is known. It is never
 * taken as "does not hold": a dark fiber whose agent answers "LOS" where a number is expected would otherwise
 * fall through to `up`, and a failover be missed. Never `down` either (§4: only evidence about the video reports
 * down). A rule before it that holds still wins: the order makes the later ones irrelevant.
 */
export function judgeRules(rules: readonly Rule[], values: ReadonlyMap<string, SnmpValue>): RulesReading {
	for (const [i, rule] of rules.entries()) {
		const v = values.get(normalizeOid(rule.oid))
		const why = whyUnevaluable(rule, v)
		if (why !== null)
			return {
				signal: 'unknown',
				reason: `rule ${i + 1} (${rule.oid} ${rule.op} ${JSON.stringify(rule.value)}) cannot be evaluated: ${why}`,
			}
		if (holdsOn(rule, v!)) return { signal: rule.means }
	}
	return { signal: 'up' }
}

/** judgeRules' signal alone. */
export function evaluateRules(rules: readonly Rule[], values: ReadonlyMap<string, SnmpValue>): SignalReport {
	return judgeRules(rules, values).signal
}
