// Blackmagic Videohub Ethernet Protocol (v2.3, "Developer Information" of the Videohub manual), pure: bytes in,
// typed blocks out, and blocks back to text. No I/O, no timers, no logger.
//
// Manual, Summary: text blocks, each an all-caps header ending in a colon, then lines, ended by a blank line; each
// line ends with a newline. Clients ignore blocks they do not recognise (up to the blank line) and lines they do not
// recognise inside known blocks. Ports are 0-based on the wire ("port one on the chassis" is 0).
//
// The decoder is incremental and splits on the newline *byte* before decoding UTF-8 (a multi-byte label character
// never contains 0x0A), so a line or a character cut across two reads is put back together exactly: the bug that
// other Videohub libraries have with split reads cannot happen here. The partial line and the block being read are
// bounded; past the bound the block is dropped and the decoder resyncs at the next blank line.

export type LockChar = 'O' | 'L' | 'U' | 'F'

export type LabelTarget = 'input' | 'output' | 'monitoring' | 'serial' | 'frame'
export type RouteTarget = 'video' | 'monitoring' | 'serial' | 'processing' | 'frame'
export type StatusTarget = 'video-input' | 'video-output' | 'serial'

export interface DeviceInfo {
	/** "true", "false" or "needs_update" (the manual spells it both "needs_update" and "needs update") */
	present: string
	model?: string
	friendlyName?: string
	uniqueId?: string
	videoInputs?: number
	videoOutputs?: number
	processingUnits?: number
	monitoringOutputs?: number
	serialPorts?: number
}

export type Block =
	| { kind: 'preamble'; version: string }
	| { kind: 'device'; device: DeviceInfo }
	| { kind: 'labels'; target: LabelTarget; entries: { port: number; label: string }[] }
	| { kind: 'routing'; target: RouteTarget; entries: { output: number; input: number }[] }
	| { kind: 'locks'; target: RouteTarget; entries: { port: number; lock: LockChar }[] }
	| { kind: 'status'; target: StatusTarget; entries: { port: number; status: string }[] }
	| { kind: 'serial-directions'; entries: { port: number; direction: string }[] }
	| { kind: 'configuration'; settings: { key: string; value: string }[] }
	| { kind: 'alarms'; alarms: { name: string; status: string }[] }
	| { kind: 'end-prelude' }
	| { kind: 'ping' }
	| { kind: 'ack' }
	| { kind: 'nak' }
	| { kind: 'unknown'; header: string; lines: string[] }

type Header = { make: (lines: string[]) => Block; header: string }

const indexed = (lines: string[]): { port: number; rest: string }[] => {
	const out: { port: number; rest: string }[] = []
	for (const line of lines) {
		// "N text": the port number, one space, the rest (a label may be empty or contain spaces)
		const m = /^(\d{1,6})(?: (.*))?$/.exec(line)
		if (!m) continue // manual: ignore lines not recognised
		out.push({ port: Number(m[1]), rest: m[2] ?? '' })
	}
	return out
}

const labels =
	(target: LabelTarget) =>
	(lines: string[]): Block => ({
		kind: 'labels',
		target,
		entries: indexed(lines).map(({ port, rest }) => ({ port, label: rest })),
	})

const routing =
	(target: RouteTarget) =>
	(lines: string[]): Block => ({
		kind: 'routing',
		target,
		entries: indexed(lines)
			.filter(({ rest }) => /^\d{1,6}$/.test(rest))
			.map(({ port, rest }) => ({ output: port, input: Number(rest) })),
	})

const locks =
	(target: RouteTarget) =>
	(lines: string[]): Block => ({
		kind: 'locks',
		target,
		entries: indexed(lines)
			.filter(({ rest }) => rest === 'O' || rest === 'L' || rest === 'U' || rest === 'F')
			.map(({ port, rest }) => ({ port, lock: rest as LockChar })),
	})

const status =
	(target: StatusTarget) =>
	(lines: string[]): Block => ({
		kind: 'status',
		target,
		entries: indexed(lines).map(({ port, rest }) => ({ port, status: rest })),
	})

const keyValues = (lines: string[]): { key: string; value: string }[] => {
	const out: { key: string; value: string }[] = []
	for (const line of lines) {
		const i = line.indexOf(':')
		if (i <= 0) continue
		out.push({ key: line.slice(0, i).trim(), value: line.slice(i + 1).trim() })
	}
	return out
}

const intOf = (v: string | undefined): number | undefined =>
	v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined

function device(lines: string[]): Block {
	const kv = new Map(keyValues(lines).map(({ key, value }) => [key.toLowerCase(), value]))
	const d: DeviceInfo = { present: kv.get('device present') ?? 'true' }
	const set = <K extends keyof DeviceInfo>(k: K, v: DeviceInfo[K] | undefined): void => {
		if (v !== undefined) d[k] = v
	}
	set('model', kv.get('model name'))
	set('friendlyName', kv.get('friendly name'))
	set('uniqueId', kv.get('unique id'))
	set('videoInputs', intOf(kv.get('video inputs')))
	set('videoOutputs', intOf(kv.get('video outputs')))
	set('processingUnits', intOf(kv.get('video processing units')))
	set('monitoringOutputs', intOf(kv.get('video monitoring outputs')))
	set('serialPorts', intOf(kv.get('serial ports')))
	return { kind: 'device', device: d }
}

/** Every block the manual lists (v2.3 and the later minor versions that are compatible with it). */
const HEADERS: Header[] = [
	{
		header: 'PROTOCOL PREAMBLE',
		make: (l) => ({ kind: 'preamble', version: keyValues(l).find((kv) => kv.key === 'Version')?.value ?? '' }),
	},
	{ header: 'VIDEOHUB DEVICE', make: device },
	{ header: 'INPUT LABELS', make: labels('input') },
	{ header: 'OUTPUT LABELS', make: labels('output') },
	{ header: 'MONITORING OUTPUT LABELS', make: labels('monitoring') },
	{ header: 'SERIAL PORT LABELS', make: labels('serial') },
	{ header: 'FRAME LABELS', make: labels('frame') },
	{ header: 'VIDEO OUTPUT ROUTING', make: routing('video') },
	{ header: 'VIDEO MONITORING OUTPUT ROUTING', make: routing('monitoring') },
	{ header: 'SERIAL PORT ROUTING', make: routing('serial') },
	{ header: 'PROCESSING UNIT ROUTING', make: routing('processing') },
	{ header: 'FRAME BUFFER ROUTING', make: routing('frame') },
	{ header: 'VIDEO OUTPUT LOCKS', make: locks('video') },
	{ header: 'MONITORING OUTPUT LOCKS', make: locks('monitoring') },
	{ header: 'SERIAL PORT LOCKS', make: locks('serial') },
	{ header: 'PROCESSING UNIT LOCKS', make: locks('processing') },
	{ header: 'FRAME BUFFER LOCKS', make: locks('frame') },
	{
		header: 'SERIAL PORT DIRECTIONS',
		make: (l) => ({
			kind: 'serial-directions',
			entries: indexed(l).map(({ port, rest }) => ({ port, direction: rest })),
		}),
	},
	{ header: 'VIDEO INPUT STATUS', make: status('video-input') },
	{ header: 'VIDEO OUTPUT STATUS', make: status('video-output') },
	{ header: 'SERIAL PORT STATUS', make: status('serial') },
	{ header: 'CONFIGURATION', make: (l) => ({ kind: 'configuration', settings: keyValues(l) }) },
	{
		header: 'ALARM STATUS',
		make: (l) => ({ kind: 'alarms', alarms: keyValues(l).map(({ key, value }) => ({ name: key, status: value })) }),
	},
	{ header: 'END PRELUDE', make: () => ({ kind: 'end-prelude' }) },
	{ header: 'PING', make: () => ({ kind: 'ping' }) },
]

const BY_HEADER = new Map(HEADERS.map((h) => [h.header, h.make]))

/** The header text of a block, for encoding. */
export function headerOf(block: Exclude<Block, { kind: 'ack' | 'nak' | 'unknown' }>): string {
	switch (block.kind) {
		case 'preamble':
			return 'PROTOCOL PREAMBLE'
		case 'device':
			return 'VIDEOHUB DEVICE'
		case 'labels':
			return {
				input: 'INPUT LABELS',
				output: 'OUTPUT LABELS',
				monitoring: 'MONITORING OUTPUT LABELS',
				serial: 'SERIAL PORT LABELS',
				frame: 'FRAME LABELS',
			}[block.target]
		case 'routing':
			return {
				video: 'VIDEO OUTPUT ROUTING',
				monitoring: 'VIDEO MONITORING OUTPUT ROUTING',
				serial: 'SERIAL PORT ROUTING',
				processing: 'PROCESSING UNIT ROUTING',
				frame: 'FRAME BUFFER ROUTING',
			}[block.target]
		case 'locks':
			return {
				video: 'VIDEO OUTPUT LOCKS',
				monitoring: 'MONITORING OUTPUT LOCKS',
				serial: 'SERIAL PORT LOCKS',
				processing: 'PROCESSING UNIT LOCKS',
				frame: 'FRAME BUFFER LOCKS',
			}[block.target]
		case 'status':
			return {
				'video-input': 'VIDEO INPUT STATUS',
				'video-output': 'VIDEO OUTPUT STATUS',
				serial: 'SERIAL PORT STATUS',
			}[block.target]
		case 'serial-directions':
			return 'SERIAL PORT DIRECTIONS'
		case 'configuration':
			return 'CONFIGURATION'
		case 'alarms':
			return 'ALARM STATUS'
		case 'end-prelude':
			return 'END PRELUDE'
		case 'ping':
			return 'PING'
	}
}

/** A block as text, ended by its blank line. Labels are single-line: a newline in a label is replaced by a space. */
export function encodeBlock(block: Block): string {
	const one = (s: string): string => s.replace(/[\r\n]+/g, ' ')
	// ports are 0-based whole numbers on the wire (manual, "ports are always numbered starting at zero"): anything
	// else would be a line the router reads as another port, or not at all. The router core refuses such a take
	// before it gets here (docs/contract.md §1); this is the codec's own guard.
	const port = (n: number): number => {
		if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`Videohub port number ${n} is not a whole number >= 0`)
		return n
	}
	let lines: string[]
	let header: string
	switch (block.kind) {
		case 'ack':
			return 'ACK\n\n'
		case 'nak':
			return 'NAK\n\n'
		case 'unknown':
			return `${block.header}:\n${block.lines.map((l) => `${one(l)}\n`).join('')}\n`
		case 'preamble':
			header = headerOf(block)
			lines = [`Version: ${block.version}`]
			break
		case 'device': {
			header = headerOf(block)
			const d = block.device
			lines = [`Device present: ${d.present}`]
			if (d.model !== undefined) lines.push(`Model name: ${one(d.model)}`)
			if (d.friendlyName !== undefined) lines.push(`Friendly name: ${one(d.friendlyName)}`)
			if (d.uniqueId !== undefined) lines.push(`Unique ID: ${d.uniqueId}`)
			if (d.videoInputs !== undefined) lines.push(`Video inputs: ${d.videoInputs}`)
			if (d.processingUnits !== undefined) lines.push(`Video processing units: ${d.processingUnits}`)
			if (d.videoOutputs !== undefined) lines.push(`Video outputs: ${d.videoOutputs}`)
			if (d.monitoringOutputs !== undefined) lines.push(`Video monitoring outputs: ${d.monitoringOutputs}`)
			if (d.serialPorts !== undefined) lines.push(`Serial ports: ${d.serialPorts}`)
			break
		}
		case 'labels':
			header = headerOf(block)
			lines = block.entries.map((e) => `${port(e.port)} ${one(e.label)}`)
			break
		case 'routing':
			header = headerOf(block)
			lines = block.entries.map((e) => `${port(e.output)} ${port(e.input)}`)
			break
		case 'locks':
			header = headerOf(block)
			lines = block.entries.map((e) => `${port(e.port)} ${e.lock}`)
			break
		case 'status':
			header = headerOf(block)
			lines = block.entries.map((e) => `${port(e.port)} ${one(e.status)}`)
			break
		case 'serial-directions':
			header = headerOf(block)
			lines = block.entries.map((e) => `${port(e.port)} ${e.direction}`)
			break
		case 'configuration':
			header = headerOf(block)
			lines = block.settings.map((s) => `${one(s.key)}: ${one(s.value)}`)
			break
		case 'alarms':
			header = headerOf(block)
			lines = block.alarms.map((a) => `${one(a.name)}: ${one(a.status)}`)
			break
		case 'end-prelude':
		case 'ping':
			header = headerOf(block)
			lines = []
			break
	}
	return `${header}:\n${lines.map((l) => `${l}\n`).join('')}\n`
}

/** A status dump request (manual, "Requesting a Status Dump"): the header and a blank line. */
export function encodeDumpRequest(header: string): string {
	return `${header}:\n\n`
}

export interface DecoderLimits {
	/** longest line kept, bytes */
	maxLineBytes: number
	/** most lines in one block (a 288x288 Universal Videohub sends 288) */
	maxBlockLines: number
}

const DEFAULT_LIMITS: DecoderLimits = { maxLineBytes: 4096, maxBlockLines: 4096 }

/** Incremental decoder: push() any slice of the stream, get the complete blocks it finished. Never throws. */
export class VideohubDecoder {
	readonly #limits: DecoderLimits
	/** bytes of the line being read (bounded by maxLineBytes) */
	#partial: Buffer[] = []
	#partialBytes = 0
	/** the line being read overflowed: drop bytes up to its newline */
	#skippingLine = false
	/** the block being read (header first), or null between blocks */
	#block: string[] | null = null
	/** the block being read overflowed or is malformed: drop lines up to the blank line */
	#skippingBlock = false
	/** blocks dropped for exceeding the bounds */
	dropped = 0

	constructor(limits: Partial<DecoderLimits> = {}) {
		this.#limits = { ...DEFAULT_LIMITS, ...limits }
	}

	/** bytes held between calls (bounded: at most maxLineBytes plus the lines of one block) */
	get bufferedBytes(): number {
		return this.#partialBytes + (this.#block?.reduce((n, l) => n + l.length, 0) ?? 0)
	}

	push(bytes: Uint8Array): Block[] {
		const out: Block[] = []
		let start = 0
		const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
		while (start < buf.length) {
			const nl = buf.indexOf(0x0a, start)
			const end = nl === -1 ? buf.length : nl
			if (!this.#skippingLine) {
				const piece = buf.subarray(start, end)
				if (this.#partialBytes + piece.length > this.#limits.maxLineBytes) {
					this.#partial = []
					this.#partialBytes = 0
					this.#skippingLine = true
					this.#skippingBlock = true
				} else if (piece.length > 0) {
					// copy: the caller may reuse its buffer
					this.#partial.push(Buffer.from(piece))
					this.#partialBytes += piece.length
				}
			}
			if (nl === -1) break
			start = nl + 1
			if (this.#skippingLine) {
				this.#skippingLine = false
				continue
			}
			let line = Buffer.concat(this.#partial, this.#partialBytes).toString('utf8')
			this.#partial = []
			this.#partialBytes = 0
			if (line.endsWith('\r')) line = line.slice(0, -1) // tolerate CRLF from telnet-style peers
			const block = this.#line(line)
			if (block) out.push(block)
		}
		return out
	}

	#line(line: string): Block | null {
		if (line === '') {
			const lines = this.#block
			const skipped = this.#skippingBlock
			this.#block = null
			this.#skippingBlock = false
			if (skipped) {
				this.dropped++
				return null
			}
			return lines ? parseBlock(lines) : null // blank lines between blocks are harmless
		}
		if (this.#skippingBlock) return null
		if (this.#block === null) {
			this.#block = [line]
			return null
		}
		if (this.#block.length >= this.#limits.maxBlockLines) {
			this.#block = []
			this.#skippingBlock = true
			return null
		}
		this.#block.push(line)
		return null
	}
}

/** One block from its lines (header first, no blank line). */
export function parseBlock(lines: string[]): Block {
	const [first = '', ...rest] = lines
	if (first === 'ACK') return { kind: 'ack' }
	if (first === 'NAK') return { kind: 'nak' }
	const m = /^([A-Z0-9 ]+):$/.exec(first.trimEnd())
	if (!m) return { kind: 'unknown', header: first, lines: rest }
	const header = m[1]!.trim()
	const make = BY_HEADER.get(header)
	return make ? make(rest) : { kind: 'unknown', header, lines: rest }
}
