// The Network UPS Tools network protocol (upsd, TCP 3493), pure: lines in, typed replies out, and requests out.
// Reference: NUT docs/net-protocol.txt (2.8). One request, one reply, in order; LIST replies span lines from
// `BEGIN LIST ...` to `END LIST ...`. Words are separated by spaces; a value in double quotes may hold spaces,
// with `\"` and `\\` escaped (net-protocol.txt "Command reference": quoting).
import type { UpsPower } from '../../src/domain/power.ts'
import { LineSplitter } from '../common/lines.ts'

/** The longest line we accept; upsd's own limit is far below (UPSD_NETBUF). Past it we resync at the next LF. */
export const MAX_LINE = 4096

/** upsd's lines: end in LF (a CR before it is dropped); a line past MAX_LINE is dropped up to the next LF. */
export function nutLines(onOverflow?: () => void): LineSplitter {
	return new LineSplitter({ terminator: 'lf', maxLine: MAX_LINE, ...(onOverflow ? { onOverflow } : {}) })
}

export class NutParseError extends Error {
	override name = 'NutParseError'
}

/** Splits a line into words; a quoted word keeps its spaces and loses its escapes. Throws on an open quote. */
export function tokenize(line: string): string[] {
	const words: string[] = []
	let i = 0
	while (i < line.length) {
		const c = line[i]!
		if (c === ' ' || c === '\t') {
			i++
			continue
		}
		if (c === '"') {
			let w = ''
			i++
			for (;;) {
				if (i >= line.length) throw new NutParseError(`unterminated quote in ${JSON.stringify(line)}`)
				const d = line[i]!
				if (d === '\\' && i + 1 < line.length) {
					w += line[i + 1]
					i += 2
				} else if (d === '"') {
					i++
					break
				} else {
					w += d
					i++
				}
			}
			words.push(w)
		} else {
			let w = ''
			while (i < line.length && line[i] !== ' ' && line[i] !== '\t') w += line[i++]
			words.push(w)
		}
	}
	return words
}

/** Quotes a word for a request when it needs it (spaces, quotes, backslashes, empty). */
export function quote(word: string): string {
	if (word !== '' && /^[^\s"\\]+$/.test(word)) return word
	return `"${word.replace(/[\\"]/g, (m) => `\\${m}`)}"`
}

export function formatRequest(words: readonly string[]): string {
	if (words.some((w) => /[\r\n]/.test(w))) throw new NutParseError('a request word cannot hold a line break')
	return `${words.map(quote).join(' ')}\n`
}

/** The error codes of net-protocol.txt "Error responses". Others are kept as text. */
export type NutErrorCode =
	| 'ACCESS-DENIED'
	| 'UNKNOWN-UPS'
	| 'VAR-NOT-SUPPORTED'
	| 'CMD-NOT-SUPPORTED'
	| 'INVALID-ARGUMENT'
	| 'INSTCMD-FAILED'
	| 'SET-FAILED'
	| 'READONLY'
	| 'TOO-LONG'
	| 'FEATURE-NOT-SUPPORTED'
	| 'FEATURE-NOT-CONFIGURED'
	| 'ALREADY-SSL-MODE'
	| 'DRIVER-NOT-CONNECTED'
	| 'DATA-STALE'
	| 'ALREADY-LOGGED-IN'
	| 'INVALID-PASSWORD'
	| 'ALREADY-SET-PASSWORD'
	| 'INVALID-USERNAME'
	| 'ALREADY-SET-USERNAME'
	| 'USERNAME-REQUIRED'
	| 'PASSWORD-REQUIRED'
	| 'UNKNOWN-COMMAND'
	| 'INVALID-VALUE'
	| (string & {})

export type NutReply =
	| { kind: 'ok'; text: string }
	| { kind: 'err'; code: NutErrorCode; extra: string }
	| { kind: 'var'; ups: string; name: string; value: string }
	| { kind: 'ups'; name: string; description: string }
	| { kind: 'begin'; list: string[] }
	| { kind: 'end'; list: string[] }
	| { kind: 'other'; words: string[] }

/** One reply line to a typed reply. Never throws: a malformed line is `other` (with the raw line as its word). */
export function parseReply(line: string): NutReply {
	let w: string[]
	try {
		w = tokenize(line)
	} catch (err) {
		if (!(err instanceof NutParseError)) throw err
		return { kind: 'other', words: [line] }
	}
	const [a, b, c, d] = w
	if (a === 'OK') return { kind: 'ok', text: w.slice(1).join(' ') }
	if (a === 'ERR' && b !== undefined) return { kind: 'err', code: b, extra: w.slice(2).join(' ') }
	if (a === 'VAR' && b !== undefined && c !== undefined && d !== undefined && w.length === 4)
		return { kind: 'var', ups: b, name: c, value: d }
	if (a === 'UPS' && b !== undefined && w.length <= 3) return { kind: 'ups', name: b, description: c ?? '' }
	if (a === 'BEGIN' && b === 'LIST') return { kind: 'begin', list: w.slice(2) }
	if (a === 'END' && b === 'LIST') return { kind: 'end', list: w.slice(2) }
	return { kind: 'other', words: w }
}

/**
 * ups.status flags (NUT docs/new-drivers.txt "Status data") to the power state of docs/contract.md §1:
 * OL online, OB on-battery, OB LB low-battery, BYPASS bypass, OFF off. FSD (forced shutdown in progress) is
 * the end of the battery: low-battery. OL with LB is a charging battery on line power: online.
 * Null when the flags say nothing about power (e.g. "WAIT" before the driver's first data, or empty).
 */
export function powerFromStatus(status: string): { power: UpsPower | null; flags: string[] } {
	const flags = status.split(/\s+/).filter((f) => f !== '')
	const has = (f: string) => flags.includes(f)
	let power: UpsPower | null = null
	if (has('OFF')) power = 'off'
	else if (has('FSD') || (has('OB') && has('LB'))) power = 'low-battery'
	else if (has('OB')) power = 'on-battery'
	else if (has('BYPASS')) power = 'bypass'
	else if (has('OL')) power = 'online'
	return { power, flags }
}
