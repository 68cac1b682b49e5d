// The session wrapper on the wire: SNMPv2c by default (net-snmp's default is v1), the retry budget (one request
// plus `retries` resends, each waiting timeoutMs), GETBULK as its own PDU, errors as SnmpError with a kind.
import { createSocket, type Socket } from 'node:dgram'
import { afterEach, describe, expect, it } from 'vitest'
import { SnmpError, SnmpSession } from '../../../drivers/snmp/session.ts'

const open: (Socket | SnmpSession)[] = []
afterEach(async () => {
	for (const o of open.splice(0)) {
		if (o instanceof SnmpSession) o.close()
		else await new Promise<void>((r) => o.close(() => r()))
	}
})

async function blackHole(): Promise<{ port: number; got: Buffer[] }> {
	const sock = createSocket('udp4')
	open.push(sock)
	const got: Buffer[] = []
	sock.on('message', (m) => got.push(m))
	await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()))
	return { port: sock.address().port, got }
}

describe('SnmpSession on the wire', () => {
	it('speaks v2c by default and spends exactly timeoutMs x (retries + 1) on a silent agent', async () => {
		const hole = await blackHole()
		const s = new SnmpSession({ host: '127.0.0.1', port: hole.port, community: 'c0mm', timeoutMs: 150, retries: 2 })
		open.push(s)
		const t0 = performance.now()
		const err = await s.get(['1.3.6.1.2.1.1.1.0']).catch((e: unknown) => e)
		const took = performance.now() - t0
		expect(err).toBeInstanceOf(SnmpError)
		expect((err as SnmpError).kind).toBe('timeout')
		expect(hole.got).toHaveLength(3) // the request and two retries
		expect(took).toBeGreaterThanOrEqual(400)
		expect(took).toBeLessThan(2000) // loose: a loaded CI machine
		// BER: SEQUENCE, then INTEGER version: 1 is SNMPv2c (RFC 1901), 0 would be v1
		const m = hole.got[0]!
		const lenBytes = m[1]! & 0x80 ? (m[1]! & 0x7f) + 1 : 1
		const v = 1 + lenBytes
		expect([m[v], m[v + 1], m[v + 2]]).toEqual([0x02, 0x01, 0x01])
		expect(m.includes(Buffer.from('c0mm'))).toBe(true)
	})

	it('sends GETBULK as a GetBulkRequest PDU (0xA5)', async () => {
		const hole = await blackHole()
		const s = new SnmpSession({ host: '127.0.0.1', port: hole.port, timeoutMs: 100, retries: 0 })
		open.push(s)
		await s.getBulk([], ['1.3.6.1.2.1.33.1.6.2.1.2'], 8).catch((e: unknown) => e)
		expect(hole.got).toHaveLength(1)
		expect(hole.got[0]!.includes(0xa5)).toBe(true)
	})

	it('a closed session rejects at once with kind closed', async () => {
		const s = new SnmpSession({ host: '127.0.0.1', port: 9, timeoutMs: 100, retries: 0 })
		s.close()
		await expect(s.get(['1.3.6.1.2.1.1.1.0'])).rejects.toMatchObject({ kind: 'closed' })
	})
})
