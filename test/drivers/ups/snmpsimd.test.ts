// snmp-ups against a real agent: snmpsimd serving a UPS-MIB .snmprec (test/fixtures/snmp/ups.snmprec) whose
// values a test changes with snmpset (the writecache variation); SNMPv3 SHA/AES; a wrong community; an agent
// that dies (stale, then comm-lost) and comes back; one that answers without a usable upsOutputSource (the sql
// variation: rows of a sqlite database); and `sigpath probe`.
import { spawn } from 'node:child_process'
import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SnmpError, SnmpSession } from '../../../drivers/snmp/session.ts'
import { freeUdpPort } from '../../../drivers/snmp/traps.ts'
import { UPS_OID } from '../../../drivers/ups/codec.ts'
import { SnmpUpsDevice } from '../../../drivers/ups/device.ts'
import { upsProbeResult, type UpsPower } from '../../../drivers/ups/types.ts'
import { SnmpUpsDriver } from '../../../src/domain/drivers.ts'
import { silentLogger } from '../../../src/log.ts'
import { requireBinary, runAsync, scratch, startPeer, until, type Peer } from '../snmp/peers.ts'
import { resolveSecrets } from '../../../src/domain/secrets.ts'

const FIXTURE = join(import.meta.dirname, '../../fixtures/snmp/ups.snmprec')
const V3 = { user: 'sigv3', auth: 'authkey123', priv: 'privkey123' }

let dir: string
let removeDir: () => void
let port: number
let agent: Peer | null = null
const devices: SnmpUpsDevice[] = []

async function startAgent(): Promise<void> {
	agent = startPeer('snmpsimd', [
		`--data-dir=${join(dir, 'data')}`,
		`--cache-dir=${join(dir, 'cache')}`,
		`--agent-udpv4-endpoint=127.0.0.1:${port}`,
		'--process-user=nobody',
		'--process-group=nogroup',
		`--v3-user=${V3.user}`,
		`--v3-auth-key=${V3.auth}`,
		'--v3-auth-proto=SHA',
		`--v3-priv-key=${V3.priv}`,
		'--v3-priv-proto=AES',
		'--logging-method=stderr',
	])
	await until(
		async () =>
			(
				await runAsync('snmpget', [
					'-v2c',
					'-c',
					'ups',
					'-t',
					'0.3',
					'-r',
					'0',
					`127.0.0.1:${port}`,
					UPS_OID.upsOutputSource,
				])
			).code === 0,
		20_000,
		() => `snmpsimd up (${agent?.output() ?? ''})`,
	)
}

async function snmpset(oid: string, value: number): Promise<void> {
	const r = await runAsync('snmpset', ['-v2c', '-c', 'ups', `127.0.0.1:${port}`, oid, 'i', String(value)])
	expect(r.code, r.out).toBe(0)
}

/** the sql variation keys rows by the OID with every sub-identifier right-aligned to 10 columns */
const sqlKey = (oid: string) =>
	oid
		.split('.')
		.map((x) => x.padStart(10, ' '))
		.join('.')

/**
 * An snmpsimd whose UPS-MIB objects are rows of a sqlite database (the sql variation, community "sqlups"): a row
 * changed, removed or given another type is the agent's next answer, with no restart. Starts on line power.
 */
async function startSqlAgent(name: string) {
	requireBinary('sqlite3', 'sqlite3')
	const db = join(dir, `${name}.db`)
	const exec = async (statement: string) => {
		const r = await runAsync('sqlite3', [db, statement])
		expect(r.code, r.out).toBe(0)
	}
	const rows: [string, number][] = [
		[UPS_OID.upsBatteryStatus, 2],
		[UPS_OID.upsEstimatedMinutesRemaining, 44],
		[UPS_OID.upsEstimatedChargeRemaining, 90],
		[UPS_OID.upsOutputSource, 3],
	]
	await exec(
		[
			'CREATE TABLE upsmib (oid text, tag text, value text, maxaccess text);',
			...rows.map(([oid, v]) => `INSERT INTO upsmib VALUES ('${sqlKey(oid)}', '2', '${v}', 'read-write');`),
		].join('\n'),
	)
	chmodSync(db, 0o666) // snmpsimd runs as nobody
	writeFileSync(join(dir, 'data', 'sqlups.snmprec'), '1.3.6.1.2.1.33.1|:sql|upsmib\n')
	chmodSync(join(dir, 'data', 'sqlups.snmprec'), 0o644)
	const sqlPort = await freeUdpPort('127.0.0.1')
	const sqlAgent = startPeer('snmpsimd', [
		`--data-dir=${join(dir, 'data')}`,
		`--cache-dir=${join(dir, 'cache')}`,
		`--agent-udpv4-endpoint=127.0.0.1:${sqlPort}`,
		'--process-user=nobody',
		'--process-group=nogroup',
		`--variation-module-options=sql:dbtype:sqlite3,database:${db}`,
		'--logging-method=stderr',
	])
	return {
		port: sqlPort,
		agent: sqlAgent,
		/** the object's row, with an SNMP type tag of the snmprec grammar (2 integer, 4 string, 5 NULL) */
		set: (oid: string, tag: string, value: string) =>
			// one transaction: a GET between the two statements would find no row
			exec(
				[
					'BEGIN;',
					`DELETE FROM upsmib WHERE oid='${sqlKey(oid)}';`,
					`INSERT INTO upsmib VALUES ('${sqlKey(oid)}', '${tag}', '${value}', 'read-write');`,
					'COMMIT;',
				].join('\n'),
			),
		/** no row: the agent answers noSuchInstance */
		remove: (oid: string) => exec(`DELETE FROM upsmib WHERE oid='${sqlKey(oid)}';`),
	}
}

function device(
	extra: Partial<SnmpUpsDriver> = {},
	{ env, ...opts }: { staleAfterMs?: number; commLostAfterMs?: number; env?: NodeJS.ProcessEnv } = {},
) {
	const d = new SnmpUpsDevice({
		id: 'ups-a',
		config: resolveSecrets(
			SnmpUpsDriver.parse({
				type: 'snmp-ups',
				host: '127.0.0.1',
				port,
				community: 'ups',
				pollMs: 200,
				timeoutMs: 300,
				retries: 0,
				...extra,
			}),
			env,
		),
		log: silentLogger,
		...opts,
	})
	devices.push(d)
	return d
}

beforeAll(async () => {
	requireBinary('snmpsimd', 'snmpsim')
	requireBinary('snmpset', 'snmp')
	;({ dir, remove: removeDir } = scratch('snmpsim'))
	chmodSync(dir, 0o755) // snmpsimd drops to nobody: it must read its data and write its cache
	mkdirSync(join(dir, 'data'))
	mkdirSync(join(dir, 'cache'))
	chmodSync(join(dir, 'cache'), 0o777)
	// the community (v2c) or the context name (v3) selects the file: "ups"
	copyFileSync(FIXTURE, join(dir, 'data', 'ups.snmprec'))
	chmodSync(join(dir, 'data', 'ups.snmprec'), 0o644)
	port = await freeUdpPort('127.0.0.1')
	await startAgent()
}, 60_000)

afterAll(async () => {
	for (const d of devices) await d.stop()
	await agent?.stop()
	removeDir?.()
})

describe('snmp-ups against snmpsimd', () => {
	it('maps UPS-MIB values changed with snmpset to the power states of docs/contract.md §1', async () => {
		const d = device()
		const seen: UpsPower[] = []
		d.on('power', (s) => {
			if (s.reading) seen.push(s.reading.power)
		})
		d.start()
		await until(() => d.synced, 5000, 'first read')
		expect(d.status.reading).toMatchObject({ power: 'online', minutesRemaining: 37, chargePercent: 100 })
		expect(d.status.reading?.extra).toMatchObject({
			model: 'Smart-UPS 3000',
			outputSource: 'normal',
			batteryStatus: 'normal',
		})
		const step = async (oid: string, v: number, want: UpsPower, depleted = false) => {
			await snmpset(oid, v)
			await until(() => d.status.reading?.power === want && d.status.reading.depleted === depleted, 5000, `${want}`)
		}
		await step(UPS_OID.upsOutputSource, 5, 'on-battery')
		await step(UPS_OID.upsBatteryStatus, 3, 'low-battery')
		await step(UPS_OID.upsBatteryStatus, 4, 'low-battery', true)
		await step(UPS_OID.upsBatteryStatus, 2, 'on-battery')
		await step(UPS_OID.upsOutputSource, 4, 'bypass')
		await step(UPS_OID.upsOutputSource, 2, 'off') // none(2): "other off"
		await step(UPS_OID.upsOutputSource, 1, 'off') // other(1)
		await snmpset(UPS_OID.upsEstimatedMinutesRemaining, 12)
		await step(UPS_OID.upsOutputSource, 3, 'online')
		await until(() => d.status.reading?.minutesRemaining === 12, 5000, 'minutes 12')
		expect(seen).toEqual(['online', 'on-battery', 'low-battery', 'on-battery', 'bypass', 'off', 'online'])
		await d.stop()
	})

	it('reads the alarm table with GETBULK when upsAlarmsPresent says there are alarms', async () => {
		const d = device()
		d.start()
		await until(() => d.synced, 5000, 'first read')
		expect(d.status.reading?.extra['alarms']).toEqual([])
		await snmpset(UPS_OID.upsAlarmsPresent, 2)
		await until(() => (d.status.reading?.extra['alarms'] as string[] | undefined)?.length === 2, 5000, 'alarms')
		expect(d.status.reading?.extra['alarms']).toEqual(['onBattery', 'fanFailure'])
		await snmpset(UPS_OID.upsAlarmsPresent, 0)
		await until(() => (d.status.reading?.extra['alarms'] as string[] | undefined)?.length === 0, 5000, 'cleared')
		await d.stop()
	})

	it('reads over SNMPv3 authPriv with SHA and AES (keys from the environment)', async () => {
		// the caller resolves the keys from the environment (src/domain/secrets.ts), the session takes them resolved
		const env = { T_AUTH: V3.auth, T_PRIV: V3.priv }
		const s = new SnmpSession(
			resolveSecrets(
				{
					host: '127.0.0.1',
					port,
					timeoutMs: 1000,
					retries: 1,
					v3: {
						user: V3.user,
						authProtocol: 'sha',
						authKey: { env: 'T_AUTH' },
						privProtocol: 'aes',
						privKey: { env: 'T_PRIV' },
						// snmpsimd selects its data file by the v3 context name
						context: 'ups',
					},
				},
				env,
			),
		)
		try {
			const v = await s.get([UPS_OID.upsOutputSource])
			expect(v.get(UPS_OID.upsOutputSource)).toMatchObject({ type: 'integer', value: 3 })
		} finally {
			s.close()
		}
		const bad = new SnmpSession({
			host: '127.0.0.1',
			port,
			timeoutMs: 300,
			retries: 0,
			v3: {
				user: V3.user,
				authProtocol: 'sha',
				authKey: 'wrong-key-123',
				privProtocol: 'aes',
				privKey: V3.priv,
				context: 'ups',
			},
		})
		try {
			await expect(bad.get([UPS_OID.upsOutputSource])).rejects.toMatchObject({ name: 'SnmpError' })
		} finally {
			bad.close()
		}
	})

	it('a wrong community gets no answer: a fault, never a reading', async () => {
		const d = device({ community: 'nope' })
		const faults: string[] = []
		d.on('fault', (e) => faults.push(e.message))
		d.start()
		await until(() => faults.length > 0, 5000, 'a failed poll')
		expect(faults[0]).toMatch(/timed out|Timeout/i)
		expect(d.status.reading).toBeNull()
		expect(d.status.freshness.connected).toBe(false)
		await d.stop()
	})

	it('an agent that dies: stale, then comm-lost with the last state kept; back after its restart', async () => {
		const d = device({}, { staleAfterMs: 800, commLostAfterMs: 1600 })
		d.start()
		await until(() => d.synced, 5000, 'first read')
		await agent!.stop()
		await until(() => d.status.freshness.stale, 5000, 'stale')
		expect(d.status.commLost).toBe(false)
		await until(() => d.status.commLost, 5000, 'comm-lost')
		expect(d.status.reading?.power).toBe('online')
		await startAgent()
		await until(() => !d.status.commLost && d.status.freshness.connected, 15_000, 'back')
		await d.stop()
	})

	it('the sql variation: a row updated in sqlite is the next GET (snmpsimd + sqlite3)', async () => {
		const sql = await startSqlAgent('ups')
		try {
			const d = device({ port: sql.port, community: 'sqlups' })
			d.start()
			await until(
				() => d.synced,
				20_000,
				() => `first read (${sql.agent.output()})`,
			)
			expect(d.status.reading).toMatchObject({ power: 'online', minutesRemaining: 44, chargePercent: 90 })
			await sql.set(UPS_OID.upsOutputSource, '2', '5')
			await until(() => d.status.reading?.power === 'on-battery', 5000, 'on-battery')
			await sql.set(UPS_OID.upsBatteryStatus, '2', '4')
			await sql.set(UPS_OID.upsEstimatedMinutesRemaining, '2', '2')
			await until(() => d.status.reading?.power === 'low-battery' && d.status.reading.depleted, 5000, 'depleted')
			await until(() => d.status.reading?.minutesRemaining === 2, 5000, 'minutes 2')
			await d.stop()
		} finally {
			await sql.agent.stop()
		}
	})

	it('an agent that answers without a usable upsOutputSource is no good answer: stale, then comm-lost, never a current reading; fresh again when it is back', async () => {
		// a UPS network card that lost its serial link to the UPS: the agent answers every GET, upsBatteryStatus and
		// the rest included, but upsOutputSource is gone (noSuchInstance), NULL, text, or no RFC 1628 value
		const sql = await startSqlAgent('ups-nosource')
		try {
			const d = device({ port: sql.port, community: 'sqlups' }, { staleAfterMs: 800, commLostAfterMs: 1600 })
			const refused: Error[] = []
			d.on('fault', (e) => {
				if (e.message.includes('upsOutputSource')) refused.push(e)
			})
			let readings = 0
			d.on('reading', () => readings++)
			d.start()
			await until(
				() => d.synced,
				20_000,
				() => `first read (${sql.agent.output()})`,
			)
			expect(d.status.reading?.power).toBe('online')

			await sql.remove(UPS_OID.upsOutputSource)
			await until(() => refused.length > 0, 5000, 'an answer refused')
			const readingsWhenRefused = readings
			await until(() => !d.status.freshness.connected, 5000, 'not connected')
			await until(() => d.status.freshness.stale, 5000, 'stale')
			await until(() => d.status.commLost, 5000, 'comm-lost')
			// the agent still answers: the last reading is kept (the power model's last known state) but not current
			const r = await runAsync('snmpget', ['-v2c', '-c', 'sqlups', `127.0.0.1:${sql.port}`, UPS_OID.upsBatteryStatus])
			expect(r.stdout).toMatch(/INTEGER: 2/)
			expect(upsProbeResult('ups-a', d.status)).toMatchObject({
				connected: false,
				health: 'unknown',
				detail: { power: 'online', commLost: true },
			})
			expect(readings).toBe(readingsWhenRefused)
			expect(refused.every((e) => e instanceof SnmpError && e.kind === 'unusable')).toBe(true)

			// it comes back with a new value: fresh again, with that reading
			await sql.set(UPS_OID.upsOutputSource, '2', '5')
			await until(
				() => d.status.freshness.connected && !d.status.commLost && d.status.reading?.power === 'on-battery',
				5000,
				'fresh again, on battery',
			)
			expect(d.status.freshness.stale).toBe(false)

			// NULL, a string that is no number, and a number outside RFC 1628's 1-7 are no good answer either
			for (const [tag, value] of [
				['5', ''],
				['4', 'no link'],
				['2', '8'],
			] as const) {
				const refusedBefore = refused.length
				await sql.set(UPS_OID.upsOutputSource, tag, value)
				await until(() => refused.length > refusedBefore, 5000, `refused: tag ${tag} "${value}"`)
				await until(() => !d.status.freshness.connected, 5000, `not connected: tag ${tag} "${value}"`)
				await sql.set(UPS_OID.upsOutputSource, '2', '3')
				await until(
					() => d.status.freshness.connected && d.status.reading?.power === 'online',
					5000,
					`back online after tag ${tag} "${value}"`,
				)
			}
			await d.stop()
		} finally {
			await sql.agent.stop()
		}
	})

	it('sigpath probe prints the docs/contract.md §1 detail and exits 0', async () => {
		const cfg = join(dir, 'probe.yaml')
		writeFileSync(
			cfg,
			`site: { id: t }\ndevices:\n  - id: ups-a\n    role: ups\n    driver: { type: snmp-ups, host: 127.0.0.1, port: ${port}, community: { env: T_COMMUNITY } }\n`,
		)
		const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
			const child = spawn(
				process.execPath,
				['--import', 'tsx', 'src/cli/main.ts', 'probe', cfg, 'ups-a', '--seconds', '3'],
				{
					env: { ...process.env, T_COMMUNITY: 'ups' },
				},
			)
			let out = ''
			child.stdout.on('data', (b: Buffer) => (out += b.toString()))
			child.on('exit', (c) => resolve({ code: c, stdout: out }))
		})
		expect(code).toBe(0)
		const r = JSON.parse(stdout) as {
			device: string
			connected: boolean
			health: string
			detail: Record<string, unknown>
		}
		expect(r).toMatchObject({ device: 'ups-a', connected: true, health: 'ok' })
		// the agent restarted in the test before: writecache values are back to the .snmprec ones
		expect(r.detail).toMatchObject({ power: 'online', minutesRemaining: 37, chargePercent: 100 })
		expect(stdout).not.toContain('"ups"') // the community is never printed
	})
})
