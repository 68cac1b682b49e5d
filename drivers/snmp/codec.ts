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

/** Whether one rule holds for the value read at its OID. A missing value holds for nothing (not even `ne`). */
export function ruleHolds(rule: Rule, v: SnmpValue | undefined): boolean {
	if (!v || v.type === 'missing' || v.value === null) return false
	if (typeof rule.value === 'number') {
		const n = numeric(v)
		if (n === null) return false
		return compare(n, rule.value, rule.op)
	}
	const s = String(v.value)
	return compare(s, rule.value, rule.op)
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

/**
 * docs/contract.md §2: rules are tried in order, the first that matches gives the signal; none matching means up.
 * If a rule's OID could not be read at all (missing), the device's signal is not known from that rule: a rule
 * set that cannot be evaluated reports `unknown`, never `down` (§4: only evidence about the video reports down).
 */
export function evaluateRules(rules: readonly Rule[], values: ReadonlyMap<string, SnmpValue>): SignalReport {
	for (const rule of rules) {
		const v = values.get(normalizeOid(rule.oid))
		if (!v || v.type === 'missing') return 'unknown'
		if (ruleHolds(rule, v)) return rule.means
	}
	return 'up'
}
