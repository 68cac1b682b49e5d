// Probel SW-P-08 (Grass Valley / Snell "General Remote Control Protocol"), pure: bytes in, typed messages out, and
// back. No I/O, no timers, no logger.
//
// Framing (SW-P-08 §2, transmission protocol): DLE STX, DATA, BTC, CHK, DLE ETX, where BTC is the number of DATA
// bytes and CHK the two's complement of the 8-bit sum of DATA and BTC. Every DLE (0x10) inside DATA, BTC or CHK is
// sent twice. The receiver answers each good frame with DLE ACK and a bad one with DLE NAK.
// Numbers on the wire are 0-based; matrix and level are 4 bits each in the general commands, a byte each in the
// extended ones (command + 128), which also carry 16-bit destination and source numbers (routers past 1024 ports).
//
// The decoder is a byte-by-byte state machine: a DLE split from its partner across two reads is handled exactly;
// a frame is bounded; garbage, a bad BTC or CHK, or a frame cut short by a new DLE STX resyncs at the next DLE STX.

export const DLE = 0x10
export const STX = 0x02
export const ETX = 0x03
export const ACK = 0x06
export const NAK = 0x15

/** General commands (§3) and their extended forms (+128, §4). */
export const CMD = {
	interrogate: 0x01,
	connect: 0x02,
	tally: 0x03,
	connected: 0x04,
	tallyDumpRequest: 0x15, // 21
	tallyDumpByte: 0x16, // 22
	tallyDumpWord: 0x17, // 23
	extended: 0x80,
} as const

interface Addressed {
	matrix: number
	level: number
	/** extended form (command + 128): 16-bit numbers, matrix and level a byte each */
	extended: boolean
}

export type Swp08Message =
	| ({ cmd: 'interrogate'; dest: number } & Addressed)
	| ({ cmd: 'connect'; dest: number; src: number } & Addressed)
	/** the answer to an interrogate (or a connect, on some routers); badSource: §3.3 multiplier bit 3 */
	| ({ cmd: 'tally'; dest: number; src: number; badSource: boolean } & Addressed)
	/** sent on every port after any crosspoint change (§3.4): an asynchronous tally */
	| ({ cmd: 'connected'; dest: number; src: number; badSource: boolean } & Addressed)
	| ({ cmd: 'tally-dump-request' } & Addressed)
	/** tallies for consecutive destinations starting at firstDest (byte form: routers up to 256 sources) */
	| ({ cmd: 'tally-dump-byte'; firstDest: number; sources: number[] } & Addressed)
	| ({ cmd: 'tally-dump-word'; firstDest: number; sources: number[] } & Addressed)
	| { cmd: 'unknown'; command: number; data: number[] }

/** the most tallies in one dump message: byte form 191 (§3.22), word form 64 (§3.23) */
export const MAX_DUMP_BYTE = 191
export const MAX_DUMP_WORD = 64

const ml = (m: { matrix: number; level: number }): number => ((m.matrix & 0x0f) << 4) | (m.level & 0x0f)

/**
 * The largest destination/source number each form carries (0-based, on the wire). General form (§3.2): 7 bits in
 * the number byte plus 3 bits of "DIV 128" in the multiplier byte, 0-1023. Extended form (§4): 16 bits, 0-65535.
 */
export const MAX_GENERAL_NUMBER = 1023
export const MAX_EXTENDED_NUMBER = 0xffff

const isByte = (n: number, max: number): boolean => Number.isInteger(n) && n >= 0 && n <= max

function checkRange(m: Swp08Message): void {
	if (m.cmd === 'unknown') return
	const lim = m.extended ? MAX_EXTENDED_NUMBER : MAX_GENERAL_NUMBER
	const nums = [
		...('dest' in m ? [m.dest] : []),
		...('src' in m ? [m.src] : []),
		...('firstDest' in m ? [m.firstDest] : []),
	]
	// matrix and level: 4 bits each in the general form, a byte each in the extended one
	const mlLim = m.extended ? 0xff : 0x0f
	if (nums.some((n) => !isByte(n, lim)) || !isByte(m.matrix, mlLim) || !isByte(m.level, mlLim))
		throw new RangeError(
			`SW-P-08 ${m.cmd}: a number is out of range for the ${m.extended ? 'extended' : 'general'} form`,
		)
}

/** The DATA bytes of a message (command byte first). Throws RangeError if a number does not fit the form. */
export function messageData(m: Swp08Message): number[] {
	if (m.cmd === 'unknown') return [m.command, ...m.data]
	checkRange(m)
	const x = m.extended ? CMD.extended : 0
	const hiLo = (n: number): number[] => [(n >> 8) & 0xff, n & 0xff]
	const head = (cmd: number): number[] => (m.extended ? [cmd | x, m.matrix, m.level] : [cmd, ml(m)])
	switch (m.cmd) {
		case 'interrogate':
			return m.extended
				? [...head(CMD.interrogate), ...hiLo(m.dest)]
				: [...head(CMD.interrogate), (m.dest >> 7) << 4, m.dest & 0x7f]
		case 'connect':
		case 'tally':
		case 'connected': {
			const cmd = m.cmd === 'connect' ? CMD.connect : m.cmd === 'tally' ? CMD.tally : CMD.connected
			if (m.extended) return [...head(cmd), ...hiLo(m.dest), ...hiLo(m.src)]
			// §3.2 multiplier: bits 4-6 destination DIV 128, bit 3 bad source (tally), bits 0-2 source DIV 128
			const bad = m.cmd !== 'connect' && m.badSource ? 0x08 : 0
			return [...head(cmd), ((m.dest >> 7) << 4) | bad | (m.src >> 7), m.dest & 0x7f, m.src & 0x7f]
		}
		case 'tally-dump-request':
			return head(CMD.tallyDumpRequest)
		case 'tally-dump-byte':
			if (m.extended) throw new RangeError('SW-P-08 has no extended byte tally dump')
			if (m.sources.length > MAX_DUMP_BYTE || m.firstDest > 0xff || m.sources.some((s) => !isByte(s, 0xff)))
				throw new RangeError('SW-P-08 byte tally dump: at most 191 tallies, numbers below 256')
			return [...head(CMD.tallyDumpByte), m.sources.length, m.firstDest, ...m.sources]
		case 'tally-dump-word':
			if (m.sources.length > MAX_DUMP_WORD || m.sources.some((s) => !isByte(s, 0xffff)))
				throw new RangeError('SW-P-08 word tally dump: at most 64 tallies')
			return [...head(CMD.tallyDumpWord), m.sources.length, ...hiLo(m.firstDest), ...m.sources.flatMap(hiLo)]
	}
}

/** A message framed for the wire: DLE STX, DATA, BTC, CHK, DLE ETX with every DLE doubled. */
export function encodeFrame(m: Swp08Message): Buffer {
	return frameData(messageData(m))
}

export function frameData(data: readonly number[]): Buffer {
	const btc = data.length & 0xff
	const sum = data.reduce((a, b) => a + b, btc)
	const chk = -sum & 0xff
	const out: number[] = [DLE, STX]
	for (const b of [...data, btc, chk]) {
		out.push(b)
		if (b === DLE) out.push(DLE)
	}
	out.push(DLE, ETX)
	return Buffer.from(out)
}

export const ACK_BYTES = Buffer.from([DLE, ACK])
export const NAK_BYTES = Buffer.from([DLE, NAK])

/** A message from its DATA bytes; anything not matching a known layout is `unknown` (never a throw). */
export function parseMessage(data: readonly number[]): Swp08Message {
	const [command = 0] = data
	const unknown: Swp08Message = { cmd: 'unknown', command, data: data.slice(1) }
	const extended = (command & CMD.extended) !== 0
	const base = command & 0x7f
	const word = (i: number): number => ((data[i] ?? 0) << 8) | (data[i + 1] ?? 0)
	if (extended) {
		const a = { matrix: data[1] ?? 0, level: data[2] ?? 0, extended: true }
		switch (base) {
			case CMD.interrogate:
				return data.length === 5 ? { cmd: 'interrogate', ...a, dest: word(3) } : unknown
			case CMD.connect:
				return data.length === 7 ? { cmd: 'connect', ...a, dest: word(3), src: word(5) } : unknown
			case CMD.tally:
			case CMD.connected:
				return data.length === 7
					? { cmd: base === CMD.tally ? 'tally' : 'connected', ...a, dest: word(3), src: word(5), badSource: false }
					: unknown
			case CMD.tallyDumpRequest:
				return data.length === 3 ? { cmd: 'tally-dump-request', ...a } : unknown
			case CMD.tallyDumpWord: {
				const n = data[3] ?? 0
				if (data.length !== 6 + 2 * n) return unknown
				return {
					cmd: 'tally-dump-word',
					...a,
					firstDest: word(4),
					sources: Array.from({ length: n }, (_, i) => word(6 + 2 * i)),
				}
			}
			default:
				return unknown
		}
	}
	const b1 = data[1] ?? 0
	const a = { matrix: b1 >> 4, level: b1 & 0x0f, extended: false }
	const mult = data[2] ?? 0
	switch (base) {
		case CMD.interrogate:
			return data.length === 4
				? { cmd: 'interrogate', ...a, dest: (((mult >> 4) & 7) << 7) | ((data[3] ?? 0) & 0x7f) }
				: unknown
		case CMD.connect:
		case CMD.tally:
		case CMD.connected: {
			if (data.length !== 5) return unknown
			const dest = (((mult >> 4) & 7) << 7) | ((data[3] ?? 0) & 0x7f)
			const src = ((mult & 7) << 7) | ((data[4] ?? 0) & 0x7f)
			if (base === CMD.connect) return { cmd: 'connect', ...a, dest, src }
			return { cmd: base === CMD.tally ? 'tally' : 'connected', ...a, dest, src, badSource: (mult & 0x08) !== 0 }
		}
		case CMD.tallyDumpRequest:
			return data.length === 2 ? { cmd: 'tally-dump-request', ...a } : unknown
		case CMD.tallyDumpByte: {
			const n = data[2] ?? 0
			if (data.length !== 4 + n) return unknown
			return { cmd: 'tally-dump-byte', ...a, firstDest: data[3] ?? 0, sources: data.slice(4) }
		}
		case CMD.tallyDumpWord: {
			const n = data[2] ?? 0
			if (data.length !== 5 + 2 * n) return unknown
			return {
				cmd: 'tally-dump-word',
				...a,
				firstDest: word(3),
				sources: Array.from({ length: n }, (_, i) => word(5 + 2 * i)),
			}
		}
		default:
			return unknown
	}
}

export type Swp08Event =
	| { type: 'ack' }
	| { type: 'nak' }
	| { type: 'frame'; message: Swp08Message; data: number[] }
	/** a frame that failed its BTC or checksum, or was cut short: the receiver answers NAK */
	| { type: 'bad'; reason: string }

type State = 'hunt' | 'hunt-dle' | 'frame' | 'frame-dle'

/** The longest DATA a frame may carry: BTC is one byte. Past it the frame is dropped. */
const MAX_FRAME = 256 + 2

export class Swp08Decoder {
	#state: State = 'hunt'
	#buf: number[] = []
	/** bytes skipped outside frames (line noise) */
	garbage = 0

	get bufferedBytes(): number {
		return this.#buf.length
	}

	push(bytes: Uint8Array): Swp08Event[] {
		const out: Swp08Event[] = []
		for (const b of bytes) {
			switch (this.#state) {
				case 'hunt':
					if (b === DLE) this.#state = 'hunt-dle'
					else this.garbage++
					break
				case 'hunt-dle':
					if (b === STX) {
						this.#buf = []
						this.#state = 'frame'
					} else if (b === ACK) {
						out.push({ type: 'ack' })
						this.#state = 'hunt'
					} else if (b === NAK) {
						out.push({ type: 'nak' })
						this.#state = 'hunt'
					} else if (b !== DLE) {
						this.garbage++
						this.#state = 'hunt'
					}
					// DLE DLE outside a frame: the second may begin a DLE STX; stay
					break
				case 'frame':
					if (b === DLE) this.#state = 'frame-dle'
					else this.#add(b, out)
					break
				case 'frame-dle':
					if (b === DLE) {
						this.#state = 'frame'
						this.#add(DLE, out)
					} else if (b === ETX) {
						this.#state = 'hunt'
						out.push(this.#end())
						this.#buf = []
					} else if (b === STX) {
						// a new frame began before this one ended: report it, resync on the new one
						out.push({ type: 'bad', reason: 'frame cut short by DLE STX' })
						this.#buf = []
						this.#state = 'frame'
					} else {
						out.push({ type: 'bad', reason: `DLE followed by 0x${b.toString(16).padStart(2, '0')} inside a frame` })
						this.#buf = []
						this.#state = 'hunt'
					}
					break
			}
		}
		return out
	}

	#add(b: number, out: Swp08Event[]): void {
		if (this.#buf.length >= MAX_FRAME) {
			out.push({ type: 'bad', reason: 'frame longer than any SW-P-08 message' })
			this.#buf = []
			this.#state = 'hunt'
			return
		}
		this.#buf.push(b)
	}

	#end(): Swp08Event {
		const buf = this.#buf
		if (buf.length < 3) return { type: 'bad', reason: 'frame too short' }
		const data = buf.slice(0, -2)
		const btc = buf[buf.length - 2]!
		const chk = buf[buf.length - 1]!
		if (btc !== (data.length & 0xff)) return { type: 'bad', reason: `byte count ${btc} for ${data.length} data bytes` }
		const sum = data.reduce((a, b) => a + b, btc) + chk
		if ((sum & 0xff) !== 0) return { type: 'bad', reason: 'checksum mismatch' }
		return { type: 'frame', message: parseMessage(data), data }
	}
}
