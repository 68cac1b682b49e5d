// Pure SRT helpers: reject reason names (srt.h / access_control.h), the relayTo URL, interval loss rate, the
// synthetic TS the sim sends, and the TS checker the tests rely on.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
	fillTsPackets,
	intervalLossRate,
	parseRejectionLog,
	parseUdpUrl,
	rejectCodeFromLogName,
	rejectReasonName,
	simDatagram,
	TS_PACKET,
	TsChecker,
} from '../../../drivers/srt/codec.ts'

describe('reject reasons', () => {
	it('names libsrt codes as srt.h and access_control.h do', () => {
		expect(rejectReasonName(10)).toBe('SRT_REJ_BADSECRET')
		expect(rejectReasonName(11)).toBe('SRT_REJ_UNSECURE')
		expect(rejectReasonName(16)).toBe('SRT_REJ_TIMEOUT')
		expect(rejectReasonName(1404)).toBe('SRT_REJX_NOTFOUND')
		expect(rejectReasonName(1403)).toBe('SRT_REJX_FORBIDDEN')
		expect(rejectReasonName(2005)).toBe('SRT_REJ_USER+5')
		expect(rejectReasonName(1499)).toBe('SRT_REJX+499')
	})

	it('reads a listener-side rejection from libsrt 1.5 log lines', () => {
		const line = '@464095654:newConnection: connection rejected due to: INTERNAL REJECTION - ERROR:BADSECRET'
		expect(parseRejectionLog(line)).toEqual({ socketId: 464095654, reasonName: 'BADSECRET' })
		expect(rejectCodeFromLogName('BADSECRET')).toBe(10)
		expect(rejectCodeFromLogName('UNSECURE')).toBe(11)
		expect(rejectCodeFromLogName('NOPE')).toBeUndefined()
		expect(parseRejectionLog('processConnectRequest: rsp(REJECT): 1010 - Incorrect passphrase')).toBeUndefined()
	})
})

describe('relayTo', () => {
	it('parses udp://HOST:PORT, IPv6 in brackets, and refuses anything else', () => {
		expect(parseUdpUrl('udp://127.0.0.1:5000')).toEqual({ host: '127.0.0.1', port: 5000 })
		expect(parseUdpUrl('udp://239.1.1.1:1234')).toEqual({ host: '239.1.1.1', port: 1234 })
		expect(parseUdpUrl('udp://[::1]:5000')).toEqual({ host: '::1', port: 5000 })
		expect(parseUdpUrl('udp://ird-1.local:5000')).toEqual({ host: 'ird-1.local', port: 5000 })
		expect(() => parseUdpUrl('srt://127.0.0.1:5000')).toThrow(/udp:\/\/HOST:PORT/)
		expect(() => parseUdpUrl('udp://127.0.0.1:70000')).toThrow(/out of range/)
		expect(() => parseUdpUrl('udp://127.0.0.1:0')).toThrow(/out of range/)
	})
})

describe('interval loss rate', () => {
	it('is lost + dropped over what was sent, over every connection, and 0 when nothing flowed', () => {
		expect(intervalLossRate([])).toBe(0)
		expect(intervalLossRate([{ pktRecv: 0, pktRcvLoss: 0, pktRcvDrop: 0 }])).toBe(0)
		expect(intervalLossRate([{ pktRecv: 98, pktRcvLoss: 2, pktRcvDrop: 0 }])).toBeCloseTo(0.02)
		expect(
			intervalLossRate([
				{ pktRecv: 90, pktRcvLoss: 5, pktRcvDrop: 5 },
				{ pktRecv: 100, pktRcvLoss: 0, pktRcvDrop: 0 },
			]),
		).toBeCloseTo(10 / 200)
	})

	it('stays within [0, 1] for any counts', () => {
		const n = fc.nat({ max: 1e7 })
		fc.assert(
			fc.property(fc.array(fc.record({ pktRecv: n, pktRcvLoss: n, pktRcvDrop: n }), { maxLength: 8 }), (cs) => {
				const r = intervalLossRate(cs)
				return r >= 0 && r <= 1
			}),
		)
	})
})

describe('synthetic MPEG-TS', () => {
	it('builds valid 188-byte packets: sync byte, PID, payload-only, continuity counter, the index in the payload', () => {
		const d = simDatagram(3)
		expect(d.length).toBe(7 * TS_PACKET)
		for (let p = 0; p < 7; p++) {
			const o = p * TS_PACKET
			const k = 21 + p
			expect(d[o]).toBe(0x47)
			expect(((d[o + 1]! & 0x1f) << 8) | d[o + 2]!).toBe(0x100)
			expect(d[o + 1]! & 0xe0).toBe(0) // no transport error, no payload unit start, no priority
			expect(d[o + 3]! >> 4).toBe(0x1) // not scrambled, payload only
			expect(d[o + 3]! & 0x0f).toBe(k % 16)
			expect(Buffer.from(d).readBigUInt64BE(o + 4)).toBe(BigInt(k))
		}
	})

	it('a run of sim datagrams checks clean, whatever its length and start', () => {
		fc.assert(
			fc.property(fc.nat({ max: 1e9 }), fc.integer({ min: 1, max: 40 }), (start, count) => {
				const c = new TsChecker()
				for (let i = 0; i < count; i++) c.push(simDatagram(start + i))
				return c.result.syncErrors === 0 && c.result.ccErrors === 0 && c.result.packets === count * 7
			}),
		)
	})

	it('a lost datagram or a corrupted sync byte is seen', () => {
		fc.assert(
			fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 7 * TS_PACKET - 1 }), (gap, at) => {
				const lost = new TsChecker()
				lost.push(simDatagram(0))
				lost.push(simDatagram(1 + gap)) // gap datagrams (7 packets each) never arrived
				// a 4-bit counter cannot see a loss of a multiple of 16 packets (ISO/IEC 13818-1 §2.4.3.3)
				const expectedCc = (gap * 7) % 16 === 0 ? 0 : 1
				const corrupt = new TsChecker()
				const d = simDatagram(5)
				d[at - (at % TS_PACKET)] = 0x48
				corrupt.push(d)
				return lost.result.ccErrors === expectedCc && corrupt.result.syncErrors === 1
			}),
		)
	})

	it('never throws on random bytes and keeps bounded state', () => {
		fc.assert(
			fc.property(fc.array(fc.uint8Array({ maxLength: 1500 }), { maxLength: 20 }), (ds) => {
				const c = new TsChecker()
				for (const d of ds) c.push(d)
				return c.result.packets >= 0
			}),
		)
	})

	it('fillTsPackets matches simDatagram for the same index and ignores a trailing partial packet', () => {
		const a = new Uint8Array(7 * TS_PACKET + 50)
		fillTsPackets(a, 14n)
		expect(Buffer.compare(Buffer.from(a.subarray(0, 7 * TS_PACKET)), Buffer.from(simDatagram(2)))).toBe(0)
		expect(a.subarray(7 * TS_PACKET).every((b) => b === 0)).toBe(true)
	})
})
