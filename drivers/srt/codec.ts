// Pure SRT helpers: reject reason names, stats arithmetic, the relayTo address, and the synthetic MPEG-TS that the
// simulator sends (the native sender fills datagrams with exactly these bytes). No I/O, timers or logger here.

/** MPEG-TS packet size (ISO/IEC 13818-1 §2.4.3.2). */
export const TS_PACKET = 188
/** TS packets per SRT/UDP datagram: 7 x 188 = 1316, the SRT live default payload (srt.h SRT_LIVE_DEF_PLSIZE). */
export const TS_PER_DATAGRAM = 7
export const TS_SYNC = 0x47
export const DEFAULT_PID = 0x100

/** srt.h enum SRT_REJECT_REASON (libsrt 1.5), index = code. */
const REJ_NAMES = [
	'SRT_REJ_UNKNOWN',
	'SRT_REJ_SYSTEM',
	'SRT_REJ_PEER',
	'SRT_REJ_RESOURCE',
	'SRT_REJ_ROGUE',
	'SRT_REJ_BACKLOG',
	'SRT_REJ_IPE',
	'SRT_REJ_CLOSE',
	'SRT_REJ_VERSION',
	'SRT_REJ_RDVCOOKIE',
	'SRT_REJ_BADSECRET',
	'SRT_REJ_UNSECURE',
	'SRT_REJ_MESSAGEAPI',
	'SRT_REJ_CONGESTION',
	'SRT_REJ_FILTER',
	'SRT_REJ_GROUP',
	'SRT_REJ_TIMEOUT',
] as const

/** access_control.h: the server-side codes of the 1000 and 1400/1500 ranges (HTTP-like, +1000). */
const REJX_NAMES: Record<number, string> = {
	1000: 'SRT_REJX_FALLBACK',
	1001: 'SRT_REJX_KEY_NOTSUP',
	1002: 'SRT_REJX_FILEPATH',
	1003: 'SRT_REJX_HOSTNOTFOUND',
	1400: 'SRT_REJX_BAD_REQUEST',
	1401: 'SRT_REJX_UNAUTHORIZED',
	1402: 'SRT_REJX_OVERLOAD',
	1403: 'SRT_REJX_FORBIDDEN',
	1404: 'SRT_REJX_NOTFOUND',
	1405: 'SRT_REJX_BAD_MODE',
	1406: 'SRT_REJX_UNACCEPTABLE',
	1409: 'SRT_REJX_CONFLICT',
	1415: 'SRT_REJX_NOTSUP_MEDIA',
	1423: 'SRT_REJX_LOCKED',
	1424: 'SRT_REJX_FAILED_DEPEND',
	1500: 'SRT_REJX_ISE',
	1501: 'SRT_REJX_UNIMPLEMENTED',
	1502: 'SRT_REJX_GW',
	1503: 'SRT_REJX_DOWN',
	1505: 'SRT_REJX_VERSION',
	1507: 'SRT_REJX_NOROOM',
}

/** The symbolic name of an srt_getrejectreason() code: SRT_REJ_BADSECRET, SRT_REJX_NOTFOUND, SRT_REJ_USER+2000... */
export function rejectReasonName(code: number): string {
	if (code >= 0 && code < REJ_NAMES.length) return REJ_NAMES[code]!
	const x = REJX_NAMES[code]
	if (x !== undefined) return x
	if (code >= 2000) return `SRT_REJ_USER+${code - 2000}`
	if (code >= 1000) return `SRT_REJX+${code - 1000}`
	return `SRT_REJ_${code}`
}

/** The name libsrt logs for a listener-side rejection ("ERROR:BADSECRET") mapped to its code. */
export function rejectCodeFromLogName(name: string): number | undefined {
	const i = REJ_NAMES.indexOf(`SRT_REJ_${name}` as (typeof REJ_NAMES)[number])
	return i >= 0 ? i : undefined
}

/**
 * A listener-side rejection as libsrt 1.5 logs it (core.cpp newConnection, warning level):
 * "@464095654:newConnection: connection rejected due to: INTERNAL REJECTION - ERROR:BADSECRET".
 * The listener learns of a bad passphrase only here: srt_accept never returns that connection.
 */
export function parseRejectionLog(message: string): { socketId: number; reasonName: string } | undefined {
	const m = /@(\d+):newConnection: connection rejected due to: .*?ERROR:([A-Z_]+)/.exec(message)
	if (!m) return undefined
	return { socketId: Number(m[1]), reasonName: m[2]! }
}

export interface UdpTarget {
	host: string
	port: number
}

/** `udp://HOST:PORT` (docs/contract.md §2 relayTo); IPv6 in brackets. */
export function parseUdpUrl(url: string): UdpTarget {
	const m = /^udp:\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(url)
	if (!m) throw new Error(`"${url}" is not udp://HOST:PORT`)
	const port = Number(m[2])
	if (port < 1 || port > 65535) throw new Error(`"${url}": port ${port} is out of range`)
	const host = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!
	return { host, port }
}

/** Interval figures of one connection, as srt_bistats(clear = 1) reports them. */
export interface IntervalCounts {
	pktRecv: number
	pktRcvLoss: number
	pktRcvDrop: number
}

/**
 * Loss/drop rate over one stats interval: packets detected missing or dropped, over the packets the sender sent in
 * that interval (received + detected missing). Retransmissions that recovered a loss still count it: the path is
 * losing packets, which is what `degraded` warns of before drops reach the picture. 0 when nothing flowed.
 */
export function intervalLossRate(conns: readonly IntervalCounts[]): number {
	let recv = 0
	let bad = 0
	for (const c of conns) {
		recv += c.pktRecv
		bad += c.pktRcvLoss + c.pktRcvDrop
	}
	const total = recv + bad
	return total === 0 ? 0 : bad / total
}

/** The receive path's TS figures of one interval (native.ts NativeConnStats ts* fields). */
export interface TsIntervalCounts {
	tsPackets: number
	tsSyncErrors: number
	tsCcErrors: number
	tsPatErrors: number
	tsPmtErrors: number
}

/** The TS figures of all connections over one interval, summed. */
export function sumTsCounts(conns: readonly TsIntervalCounts[]): TsIntervalCounts {
	const t: TsIntervalCounts = { tsPackets: 0, tsSyncErrors: 0, tsCcErrors: 0, tsPatErrors: 0, tsPmtErrors: 0 }
	for (const c of conns) {
		t.tsPackets += c.tsPackets
		t.tsSyncErrors += c.tsSyncErrors
		t.tsCcErrors += c.tsCcErrors
		t.tsPatErrors += c.tsPatErrors
		t.tsPmtErrors += c.tsPmtErrors
	}
	return t
}

/**
 * Why an interval's transport stream is degraded (ETSI TR 101 290 priority 1), or null when it is not: PAT or PMT
 * missing, or (sync + continuity errors) / packets above `rate`. E.g. `ts-errors: 12 continuity errors in 3360
 * packets`, `ts-errors: PAT missing`.
 */
export function tsErrorCause(t: TsIntervalCounts, rate: number): string | null {
	const parts: string[] = []
	if (t.tsPatErrors > 0) parts.push('PAT missing')
	if (t.tsPmtErrors > 0) parts.push('PMT missing')
	const bad = t.tsSyncErrors + t.tsCcErrors
	if (t.tsPackets > 0 && bad / t.tsPackets > rate) {
		const errs: string[] = []
		if (t.tsSyncErrors > 0) errs.push(`${t.tsSyncErrors} sync errors`)
		if (t.tsCcErrors > 0) errs.push(`${t.tsCcErrors} continuity errors`)
		parts.push(`${errs.join(', ')} in ${t.tsPackets} packets`)
	}
	return parts.length === 0 ? null : `ts-errors: ${parts.join(', ')}`
}

/**
 * Fills `out` with synthetic TS packets numbered first, first+1, ...: sync byte, no error/start/priority bits,
 * the PID, adaptation_field_control '01' (payload only) and continuity_counter = index mod 16 (§2.4.3.3); the
 * payload holds the index as a 64-bit big-endian number, then bytes (index + offset) mod 256.
 */
export function fillTsPackets(out: Uint8Array, first: bigint, pid = DEFAULT_PID): void {
	const count = Math.floor(out.length / TS_PACKET)
	for (let p = 0; p < count; p++) {
		const k = first + BigInt(p)
		const o = p * TS_PACKET
		const low = Number(k & 0xffn)
		out[o] = TS_SYNC
		out[o + 1] = (pid >> 8) & 0x1f
		out[o + 2] = pid & 0xff
		out[o + 3] = 0x10 | (low & 0x0f)
		for (let i = 0; i < 8; i++) out[o + 4 + i] = Number((k >> BigInt(56 - 8 * i)) & 0xffn)
		for (let j = 12; j < TS_PACKET; j++) out[o + j] = (low + j) & 0xff
	}
}

/** The datagram the simulator sends as its n-th (0-based), with `perDatagram` TS packets in each. */
export function simDatagram(n: number, perDatagram = TS_PER_DATAGRAM, pid = DEFAULT_PID): Uint8Array {
	const out = new Uint8Array(perDatagram * TS_PACKET)
	fillTsPackets(out, BigInt(n) * BigInt(perDatagram), pid)
	return out
}

export interface TsCheck {
	packets: number
	/** a packet without the sync byte, or a datagram that is not whole packets */
	syncErrors: number
	/** continuity_counter jumps (a lost or reordered packet) per PID */
	ccErrors: number
}

/** Checks TS datagrams in arrival order: sync bytes and per-PID continuity (§2.4.3.3). Pure, bounded state. */
export class TsChecker {
	private readonly lastCc = new Map<number, number>()
	readonly result: TsCheck = { packets: 0, syncErrors: 0, ccErrors: 0 }

	push(datagram: Uint8Array): void {
		if (datagram.length % TS_PACKET !== 0) this.result.syncErrors++
		for (let o = 0; o + TS_PACKET <= datagram.length; o += TS_PACKET) {
			this.result.packets++
			if (datagram[o] !== TS_SYNC) {
				this.result.syncErrors++
				continue
			}
			const pid = ((datagram[o + 1]! & 0x1f) << 8) | datagram[o + 2]!
			const afc = (datagram[o + 3]! >> 4) & 0x3
			const cc = datagram[o + 3]! & 0x0f
			if (pid === 0x1fff || (afc & 0x1) === 0) continue // null packets and no-payload packets do not count
			const last = this.lastCc.get(pid)
			if (last !== undefined && cc !== ((last + 1) & 0x0f)) this.result.ccErrors++
			if (this.lastCc.size < 8192 || this.lastCc.has(pid)) this.lastCc.set(pid, cc)
		}
	}
}
