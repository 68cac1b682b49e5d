// The NUT client against the real upsd + dummy-ups (docs/operations.md): a .seq walking OL -> OB -> OB LB, a .dev changed
// with upsrw, upsd's error codes, a driver that dies (stale, then comm-lost, and the power model's upsmon rule),
// and `sigpath probe`.
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NutUpsDevice } from '../../../drivers/nut/device.ts'
import type { UpsPower } from '../../../drivers/ups/types.ts'
import { NutDriver } from '../../../src/domain/drivers.ts'
import { powerReport } from '../../../src/domain/power.ts'
import { silentLogger } from '../../../src/log.ts'
import { freeTcpPort, requireBinary, run, scratch, startPeer, until, type Peer } from '../snmp/peers.ts'
import { resolveSecrets } from '../../../src/domain/secrets.ts'

const UPSD = '/lib/nut/upsd'
const DUMMY = '/lib/nut/dummy-ups'

let dir: string
let removeDir: () => void
let port: number
let env: NodeJS.ProcessEnv
const peers = new Map<string, Peer>()
const devices: NutUpsDevice[] = []

function nutUid(): { uid: number; gid: number } {
	const r = run('id', ['-u', 'nut'])
	const g = run('id', ['-g', 'nut'])
	if (r.code !== 0) throw new Error('user nut is missing: apt-get install -y nut-server')
	return { uid: Number(r.out.trim()), gid: Number(g.out.trim()) }
}

function device(
	ups: string,
	extra: Partial<NutDriver> = {},
	{ env, ...opts }: { staleAfterMs?: number; commLostAfterMs?: number; env?: NodeJS.ProcessEnv } = {},
) {
	const d = new NutUpsDevice({
		id: `nut-${ups}`,
		config: resolveSecrets(NutDriver.parse({ type: 'nut', host: '127.0.0.1', port, ups, pollMs: 150, ...extra }), env),
		log: silentLogger,
		...opts,
	})
	devices.push(d)
	return d
}

beforeAll(async () => {
	requireBinary(UPSD, 'nut-server')
	requireBinary(DUMMY, 'nut-server')
	requireBinary('upsrw', 'nut-client')
	;({ dir, remove: removeDir } = scratch('nut'))
	chmodSync(dir, 0o755) // upsd and the drivers run as user nut: they must read their files
	const { uid, gid } = nutUid()
	const state = join(dir, 'state')
	mkdirSync(state)
	chownSync(state, uid, gid)
	chmodSync(state, 0o770)
	port = await freeTcpPort()
	writeFileSync(
		join(dir, 'ups.conf'),
		[
			'[walk]',
			'\tdriver = dummy-ups',
			'\tport = walk.seq',
			'[dev]',
			'\tdriver = dummy-ups',
			'\tport = dev.dev',
			'[gone]',
			'\tdriver = dummy-ups',
			'\tport = gone.dev',
			'',
		].join('\n'),
	)
	// TIMER n: dummy-ups holds each state n seconds, then loops (dummy-loop mode)
	writeFileSync(
		join(dir, 'walk.seq'),
		'ups.status: OL\nbattery.charge: 100\nbattery.runtime: 1800\nTIMER 1\nups.status: OB\nbattery.charge: 80\nbattery.runtime: 1200\nTIMER 1\nups.status: OB LB\nbattery.charge: 9\nbattery.runtime: 90\nTIMER 1\n',
	)
	writeFileSync(
		join(dir, 'dev.dev'),
		'ups.status: OL\nbattery.charge: 100\nbattery.runtime: 2400\nups.model: Dev UPS\n',
	)
	writeFileSync(join(dir, 'gone.dev'), 'ups.status: OB\nbattery.charge: 60\nbattery.runtime: 600\n')
	// MAXAGE: how long upsd serves a silent driver's data before ERR DATA-STALE
	writeFileSync(join(dir, 'upsd.conf'), `LISTEN 127.0.0.1 ${port}\nMAXAGE 2\n`)
	writeFileSync(join(dir, 'upsd.users'), '[admin]\n\tpassword = s3cret\n\tactions = SET\n')
	for (const f of ['ups.conf', 'walk.seq', 'dev.dev', 'gone.dev', 'upsd.conf']) chmodSync(join(dir, f), 0o644)
	chownSync(join(dir, 'upsd.users'), uid, gid)
	chmodSync(join(dir, 'upsd.users'), 0o600)
	env = { ...process.env, NUT_CONFPATH: dir, NUT_STATEPATH: state }
	for (const ups of ['walk', 'dev', 'gone']) peers.set(ups, startPeer(DUMMY, ['-a', ups, '-F', '-u', 'nut'], env, dir))
	await until(
		() =>
			run('sh', ['-c', `ls ${state}`])
				.out.split('\n')
				.filter((l) => l.startsWith('dummy-ups')).length >= 3,
		10_000,
		'dummy-ups sockets',
	)
	peers.set('upsd', startPeer(UPSD, ['-F', '-u', 'nut'], env, dir))
	// upsd answers WAIT / DATA-STALE until a driver's first data: wait for real data from each
	for (const ups of ['walk', 'dev', 'gone'])
		await until(
			() => run('upsc', [`${ups}@127.0.0.1:${port}`, 'ups.status']).code === 0,
			10_000,
			`upsd data for ${ups}`,
		)
})

afterAll(async () => {
	for (const d of devices) await d.stop()
	for (const p of peers.values()) await p.stop()
	removeDir?.()
})

describe('NUT client against upsd + dummy-ups', () => {
	it('follows a .seq walking OL -> OB -> OB LB, with runtime and charge', async () => {
		const d = device('walk')
		const seen: UpsPower[] = []
		d.on('power', (s) => {
			if (s.reading) seen.push(s.reading.power)
		})
		d.start()
		await until(
			() => {
				const i = seen.indexOf('online')
				const j = seen.indexOf('on-battery', i)
				return i >= 0 && j > i && seen.indexOf('low-battery', j) > j
			},
			12_000,
			`online -> on-battery -> low-battery (seen ${seen.join(',')})`,
		)
		expect(d.synced).toBe(true)
		expect(d.status.freshness.connected).toBe(true)
		const r = d.status.reading
		expect(r).not.toBeNull()
		// charge and runtime belong to the same state in the .seq
		const expectFor: Record<string, [number, number]> = {
			online: [100, 30],
			'on-battery': [80, 20],
			'low-battery': [9, 1.5],
		}
		const [charge, minutes] = expectFor[r!.power]!
		expect(r!.chargePercent).toBe(charge)
		expect(r!.minutesRemaining).toBe(minutes)
	})

	it('sees a .dev UPS changed with upsrw: OB, OL BYPASS, OFF, back to OL', async () => {
		// logs in (USERNAME/PASSWORD, the password from the environment) although reading needs no login
		const d = device('dev', { username: 'admin', password: { env: 'NUT_TEST_PW' } }, { env: { NUT_TEST_PW: 's3cret' } })
		const faults: string[] = []
		d.on('fault', (err) => faults.push(err.message))
		d.start()
		await until(() => d.synced, 5000, 'first read')
		expect(d.status.reading?.power).toBe('online')
		expect(d.status.reading?.extra['model']).toBe('Dev UPS')
		const set = (status: string) => {
			const r = run('upsrw', ['-s', `ups.status=${status}`, '-u', 'admin', '-p', 's3cret', `dev@127.0.0.1:${port}`])
			expect(r.out).toContain('OK')
		}
		for (const [status, power] of [
			['OB', 'on-battery'],
			['OL BYPASS', 'bypass'],
			['OFF', 'off'],
			['OB LB', 'low-battery'],
			['OL', 'online'],
		] as const) {
			set(status)
			await until(() => d.status.reading?.power === power, 5000, `${status} -> ${power}`)
		}
		expect(faults).toEqual([])
	})

	it('reports ERR UNKNOWN-UPS as a fault and never a reading', async () => {
		const d = device('nosuch')
		const codes: string[] = []
		const messages: string[] = []
		d.on('fault', (err) => {
			codes.push('code' in err ? String(err.code) : err.message)
			messages.push(err.message)
		})
		d.start()
		await until(() => codes.includes('UNKNOWN-UPS'), 5000, 'ERR UNKNOWN-UPS')
		// the LIST UPS check names what upsd does serve
		await until(
			() => messages.some((m) => m.includes('has no UPS "nosuch" (it serves: walk, dev, gone)')),
			5000,
			'a clear error',
		)
		expect(d.synced).toBe(false)
		expect(d.status.reading).toBeNull()
	})

	it('a driver that dies while on battery: stale, then comm-lost, and the source counts as lost', async () => {
		const d = device('gone', {}, { staleAfterMs: 1000, commLostAfterMs: 2500 })
		d.start()
		await until(() => d.status.reading?.power === 'on-battery', 5000, 'on battery')
		const codes: string[] = []
		d.on('fault', (err) => codes.push('code' in err ? String(err.code) : err.message))
		await peers.get('gone')!.stop()
		await until(() => d.status.freshness.stale, 8000, 'stale')
		expect(d.status.commLost).toBe(false)
		await until(() => d.status.commLost, 8000, 'comm-lost')
		expect(codes.some((c) => c === 'DATA-STALE' || c === 'DRIVER-NOT-CONNECTED')).toBe(true)
		// the last reading is kept, and the power model applies upsmon's rule
		expect(d.status.reading?.power).toBe('on-battery')
		const report = powerReport(
			{
				powerSources: [{ id: 'ups-a', kind: 'ups', device: 'nut-gone', surgeProtected: true }],
				devices: [{ id: 'enc', power: ['ups-a'] }],
			},
			new Map([['nut-gone', { power: d.status.reading!.power, commLost: d.status.commLost }]]),
		)
		expect(report.sources.get('ups-a')?.state).toBe('lost')
		expect(report.devices.get('enc')?.protectedSources).toBe(0)
	})
})
