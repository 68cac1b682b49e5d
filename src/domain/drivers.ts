// The driver keys of docs/contract.md §2, one strict schema per `driver.type`. Drivers receive these parsed objects
// (defaults applied, secrets still unresolved) and know nothing of feeds or events.
import { z } from 'zod'
import { Host, Millis, Oid, Secret, TcpPort, type Resolved } from './primitives.ts'

const SerialParity = z.enum(['none', 'even', 'odd', 'mark', 'space'])

export const SnmpV3 = z
	.strictObject({
		user: z.string().min(1).describe('USM user name'),
		authProtocol: z
			.enum(['sha', 'sha224', 'sha256', 'sha384', 'sha512', 'md5'])
			.default('sha')
			.describe('authentication protocol'),
		authKey: Secret.describe('authentication pass phrase (at least 8 characters)'),
		// DES is refused: Node 20's OpenSSL 3 no longer provides it (docs/operations.md).
		privProtocol: z
			.enum(['aes', 'aes256b', 'aes256r'])
			.default('aes')
			.describe('privacy protocol (AES; DES is not supported on Node 20)'),
		privKey: Secret.optional().describe('privacy pass phrase; absent means authNoPriv'),
		context: z
			.string()
			.max(64)
			.default('')
			.describe('SNMPv3 context name (empty by default; agents serving several instances select one by context)'),
	})
	.describe('SNMPv3 USM credentials (authPriv with SHA/AES by default)')
export type SnmpV3 = z.infer<typeof SnmpV3>

/**
 * `staleMs`: no answer for this long is a `device-stale` alarm (docs/contract.md §7), cleared on the next answer.
 * Absent: the top-level `drivers.staleMs` [5000], and for a poller never under three polls.
 */
const staleMs = (what: string, min = { ms: 500, why: '' }) =>
	z
		.number()
		.int()
		.min(min.ms, min.why ? `staleMs must be at least ${min.ms}: ${min.why}` : undefined)
		.max(3_600_000)
		.optional()
		.describe(`no answer for this long (ms) is a device-stale alarm; default drivers.staleMs [5000]${what}`)

/** A poller's staleMs must give it time to answer one poll; one clear line when it does not. */
const staleAfterPoll = <T extends { staleMs?: number | undefined; pollMs: number }>(d: T) =>
	d.staleMs === undefined || d.staleMs > d.pollMs

const STALE_POLL_MESSAGE = {
	message: 'staleMs must be longer than pollMs: a device asked every pollMs cannot answer sooner',
	path: ['staleMs'],
}

/** Routers are asked every 2 s (Videohub PING, SW-P-08 interrogate): staleMs under that would be stale between asks. */
const ROUTER_STALE_MIN = 2500
const routerStaleMs = staleMs('', { ms: ROUTER_STALE_MIN, why: 'a router is asked every 2 s and cannot answer sooner' })

const snmpCommon = {
	host: Host.describe('agent address'),
	port: TcpPort.default(161).describe('agent UDP port'),
	community: Secret.optional().describe('SNMPv2c community (default "public" when neither community nor v3 is given)'),
	v3: SnmpV3.optional(),
	timeoutMs: z.number().int().min(50).max(30_000).default(800).describe('per-request timeout'),
	retries: z.number().int().min(0).max(5).default(1).describe('retries per request before the poll counts as failed'),
}

export const VideohubDriver = z
	.strictObject({
		type: z.literal('videohub').describe('Blackmagic Videohub Ethernet protocol over TCP'),
		host: Host.describe('router address'),
		port: TcpPort.default(9990).describe('router TCP port'),
		staleMs: routerStaleMs,
	})
	.describe('Blackmagic Videohub router')

export const Swp08Serial = z
	.strictObject({
		path: z.string().min(1).describe('serial device, e.g. /dev/ttyS0 or /dev/serial/by-id/...'),
		baudRate: z.number().int().positive().default(38400).describe('baud rate'),
		parity: SerialParity.default('even').describe('parity (SW-P-08 is 8E1 on RS-422)'),
		dataBits: z
			.union([z.literal(7), z.literal(8)])
			.default(8)
			.describe('data bits'),
		stopBits: z
			.union([z.literal(1), z.literal(2)])
			.default(1)
			.describe('stop bits'),
	})
	.describe('RS-422 serial port')

export const Swp08Driver = z
	.strictObject({
		type: z.literal('swp08').describe('Probel SW-P-08 over TCP or RS-422 serial'),
		host: Host.optional().describe('router address (TCP); give host or serial'),
		port: TcpPort.default(8910).describe('router TCP port (not standardised: 8910 and 2000 are both seen)'),
		serial: Swp08Serial.optional(),
		matrix: z.number().int().min(0).max(15).default(0).describe('matrix number on the wire (0-based)'),
		level: z.number().int().min(0).max(15).default(0).describe('level number on the wire (0-based)'),
		staleMs: routerStaleMs,
	})
	.refine((d) => (d.host === undefined) !== (d.serial === undefined), {
		message: 'give either host (TCP) or serial, not both and not neither',
	})
	.describe('Probel / Grass Valley SW-P-08 router')

export const SnmpUpsDriver = z
	.strictObject({
		type: z.literal('snmp-ups').describe('UPS over SNMP, UPS-MIB (RFC 1628)'),
		...snmpCommon,
		pollMs: z.number().int().min(100).max(600_000).default(2000).describe('poll interval'),
		traps: z.boolean().default(false).describe("act on this UPS's traps (needs the top-level traps receiver)"),
		staleMs: staleMs(', at least 3 polls'),
	})
	.refine(staleAfterPoll, STALE_POLL_MESSAGE)
	.describe('UPS over SNMP')

export const NutDriver = z
	.strictObject({
		type: z.literal('nut').describe('UPS through Network UPS Tools upsd'),
		host: Host.describe('upsd address'),
		port: TcpPort.default(3493).describe('upsd TCP port'),
		ups: z.string().min(1).describe('the UPS name in upsd'),
		username: z.string().min(1).optional().describe('upsd user (not needed for reading)'),
		password: Secret.optional().describe('upsd password'),
		pollMs: z.number().int().min(100).max(600_000).default(2000).describe('poll interval'),
		staleMs: staleMs(', at least 3 polls'),
	})
	.refine(staleAfterPoll, STALE_POLL_MESSAGE)
	.describe('UPS through a Network UPS Tools upsd (TCP 3493)')

export const MegatecDriver = z
	.strictObject({
		type: z.literal('megatec').describe('UPS speaking Megatec/Q1 on a serial port'),
		serial: z
			.strictObject({
				path: z.string().min(1).describe('serial device'),
				baudRate: z.number().int().positive().default(2400).describe('baud rate (Megatec is 2400 8N1)'),
			})
			.describe('serial port'),
		pollMs: z.number().int().min(100).max(600_000).default(2000).describe('poll interval'),
		staleMs: staleMs(', at least 3 polls'),
	})
	.refine(staleAfterPoll, STALE_POLL_MESSAGE)
	.describe('UPS speaking the Megatec/Q1 serial protocol')

export const SnmpRule = z
	.strictObject({
		oid: Oid.describe('numeric OID, leading dot optional'),
		op: z.enum(['eq', 'ne', 'lt', 'le', 'gt', 'ge']).describe('comparison'),
		value: z.union([z.number(), z.string()]).describe('value compared with'),
		means: z.enum(['up', 'down', 'degraded']).describe('the signal when the comparison holds'),
	})
	.describe(
		'a health rule: the first rule that matches gives the signal; none matching means up; a rule that cannot be evaluated (its value missing, NULL or not a number where one is expected) means unknown',
	)
export type SnmpRule = z.infer<typeof SnmpRule>

/** The objects of the built-in SNMP profiles, by name; drivers/snmp/profiles.ts documents them and their OIDs. */
export const SNMP_PROFILE_OBJECTS = {
	'gateway-2022-7': ['leg1Up', 'leg1Lost', 'leg1Late', 'leg2Up', 'leg2Lost', 'leg2Late', 'outputLost'],
	ird: ['lock', 'marginDb'],
} as const

export const SnmpDriver = z
	.strictObject({
		type: z.literal('snmp').describe('signal device over SNMP: 2022-7 gateway, IRD, fiber receiver'),
		...snmpCommon,
		profile: z.enum(['gateway-2022-7', 'ird']).optional().describe('built-in health profile'),
		profileOids: z
			.record(z.string(), Oid)
			.optional()
			.describe("a vendor's OIDs for the profile's objects, by object name (drivers/snmp documents the names)"),
		rules: z.array(SnmpRule).min(1).optional().describe('health rules, tried in order'),
		pollMs: z.number().int().min(100).max(600_000).default(1000).describe('poll interval'),
		traps: z.boolean().default(false).describe("act on this device's traps (needs the top-level traps receiver)"),
		staleMs: staleMs(', at least 3 polls'),
	})
	.refine(staleAfterPoll, STALE_POLL_MESSAGE)
	.refine((d) => (d.profile === undefined) !== (d.rules === undefined), {
		message: 'give either profile or rules',
	})
	.refine((d) => d.profileOids === undefined || d.profile !== undefined, {
		message: 'profileOids needs a profile',
		path: ['profileOids'],
	})
	.superRefine((d, ctx) => {
		if (d.profile === undefined || d.profileOids === undefined) return
		const known: readonly string[] = SNMP_PROFILE_OBJECTS[d.profile]
		for (const name of Object.keys(d.profileOids))
			if (!known.includes(name))
				ctx.addIssue({
					code: 'custom',
					path: ['profileOids', name],
					message: `not an object of profile ${d.profile} (objects: ${known.join(', ')})`,
				})
	})
	.describe('signal device over SNMP')

const Seconds = (dflt: number, what: string) => z.number().int().min(100).max(600_000).default(dflt).describe(what)

/**
 * Content checks of a received TS (docs/contract.md §10). tsErrors is judged in the native receive path; black,
 * freeze and silence by an ffmpeg child process that decodes the relayed stream (drivers/content), never the receive
 * path, with ffmpeg's own detectors (blackdetect, freezedetect, silencedetect).
 */
export const Content = z
	.strictObject({
		tsErrors: z
			.strictObject({
				rate: z
					.number()
					.min(0)
					.max(1)
					.default(0.001)
					.describe(
						'above this rate of (sync + continuity errors) / TS packets over one stats interval the signal is degraded',
					),
			})
			.optional()
			.describe(
				'judge the transport stream as received (ETSI TR 101 290 priority 1): sync and continuity errors above `rate`, or PAT or PMT missing for 0.5 s, make the signal degraded for that stats interval',
			),
		black: z
			.strictObject({
				ms: Seconds(2000, 'a black picture standing this long (stream time) makes the signal degraded'),
				pictureRatio: z
					.number()
					.min(0.5)
					.max(1)
					.default(0.98)
					.describe("share of the picture's pixels that must be black (blackdetect pic_th)"),
				pixelThreshold: z
					.number()
					.min(0)
					.max(1)
					.default(0.1)
					.describe('luminance up to which a pixel is black, 0-1 of the nominal range (blackdetect pix_th)'),
			})
			.optional()
			.describe('a black picture (ffmpeg blackdetect)'),
		freeze: z
			.strictObject({
				ms: Seconds(2000, 'a still picture standing this long makes the signal degraded'),
				noiseDb: z
					.number()
					.min(-90)
					.max(0)
					.default(-60)
					.describe('difference between frames below which the picture is still, dB (freezedetect n)'),
			})
			.optional()
			.describe('a frozen picture (ffmpeg freezedetect)'),
		silence: z
			.strictObject({
				ms: Seconds(2000, 'sound below dbfs standing this long makes the signal degraded'),
				dbfs: z.number().min(-120).max(0).default(-50).describe('level below which the sound is silence, dBFS'),
			})
			.optional()
			.describe('silent sound on the first audio stream (ffmpeg silencedetect)'),
		stallMs: z
			.number()
			.int()
			.min(1000)
			.max(600_000)
			.optional()
			.describe(
				'an analyser that decodes nothing for this long while the stream is relayed is restarted and alarmed (content-analyser-failed), never taken for a content fault; default 5000',
			),
	})
	.describe('content checks of the received stream')
export type Content = z.infer<typeof Content>

/** true when the content checks need the stream decoded (black, freeze or silence) */
export function analysed(c: Content | undefined): boolean {
	return c?.black !== undefined || c?.freeze !== undefined || c?.silence !== undefined
}

export const SrtDriver = z
	.strictObject({
		type: z.literal('srt').describe('SRT receiver (listener or caller) with relay to UDP'),
		mode: z.enum(['listener', 'caller']).describe('listener: the venue calls us; caller: we call the venue'),
		host: Host.optional().describe('remote address (caller)'),
		bind: Host.default('0.0.0.0').describe('local address to listen on (listener)'),
		port: TcpPort.describe('UDP port: ours (listener) or the remote one (caller)'),
		latencyMs: z.number().int().min(20).max(60_000).default(120).describe('SRT receive latency'),
		streamId: z.string().max(512).optional().describe('a listener accepts only this stream id; a caller sends it'),
		passphrase: Secret.optional().describe('AES passphrase (10-79 characters)'),
		pbkeylen: z
			.union([z.literal(16), z.literal(24), z.literal(32)])
			.default(16)
			.describe('AES key length in bytes'),
		payloadSize: z
			.number()
			.int()
			.min(188)
			.max(1456)
			.default(1316)
			.describe('payload bytes per packet (7 x 188 for TS)'),
		connectTimeoutMs: z.number().int().min(100).max(60_000).default(3000).describe('caller connect timeout'),
		relayTo: z
			.string()
			.regex(/^udp:\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be udp://HOST:PORT')
			.optional()
			.describe('where received packets go on, toward the gateway or IRD (unicast or multicast)'),
		lossRate: z
			.number()
			.min(0)
			.max(1)
			.default(0.02)
			.describe('above this loss/drop rate over one stats interval the signal is degraded'),
		silenceMs: Millis.min(1)
			.default(50)
			.describe('no packet for this long is a stopped stream (reported as of its last packet)'),
		statsIntervalMs: z.number().int().min(100).max(60_000).default(1000).describe('stats interval'),
		content: Content.optional(),
	})
	.refine((d) => d.mode !== 'caller' || d.host !== undefined, { message: 'a caller needs host', path: ['host'] })
	.refine((d) => !analysed(d.content) || d.relayTo !== undefined, {
		message:
			'black, freeze and silence are judged on the relayed stream: give relayTo (a multicast group, or a port on this host)',
		path: ['content'],
	})
	.refine(
		(d) =>
			d.passphrase === undefined ||
			typeof d.passphrase !== 'string' ||
			(d.passphrase.length >= 10 && d.passphrase.length <= 79),
		{
			message: 'an SRT passphrase is 10 to 79 characters',
			path: ['passphrase'],
		},
	)
	.describe('SRT receiver (our own libsrt binding)')

export const Driver = z.discriminatedUnion('type', [
	VideohubDriver,
	Swp08Driver,
	SnmpUpsDriver,
	NutDriver,
	MegatecDriver,
	SnmpDriver,
	SrtDriver,
])
export type Driver = z.infer<typeof Driver>
export type DriverType = Driver['type']
export type VideohubDriver = z.infer<typeof VideohubDriver>
export type Swp08Driver = z.infer<typeof Swp08Driver>
export type SnmpUpsDriver = z.infer<typeof SnmpUpsDriver>
export type NutDriver = z.infer<typeof NutDriver>
export type MegatecDriver = z.infer<typeof MegatecDriver>
export type SnmpDriver = z.infer<typeof SnmpDriver>
export type SrtDriver = z.infer<typeof SrtDriver>

export const DEFAULT_STALE_MS = 5000

/**
 * How long a device may go unanswered before it is `device-stale`: its driver's `staleMs`, else `defaultMs` (the
 * top-level `drivers.staleMs`, 5000 when absent), and for a poller never under three polls (a device polled every
 * 10 s must not be stale between two polls). undefined: a driver without a control link of its own (SRT: a
 * listener is judged by its bind at the first sync, and a lost stream is the signal's business, not the link's).
 */
export function staleMsOf(driver: Driver, defaultMs = DEFAULT_STALE_MS): number | undefined {
	if (driver.type === 'srt') return undefined
	if (driver.staleMs !== undefined) return driver.staleMs
	return 'pollMs' in driver ? Math.max(defaultMs, 3 * driver.pollMs) : Math.max(defaultMs, ROUTER_STALE_MIN)
}

export const ROUTER_DRIVERS: ReadonlySet<DriverType> = new Set(['videohub', 'swp08'])
export const UPS_DRIVERS: ReadonlySet<DriverType> = new Set(['snmp-ups', 'nut', 'megatec'])

/** A driver config with its secrets resolved to plain strings (src/domain/secrets.ts resolveSecrets): what drivers take. */
export type ResolvedDriver = Resolved<Driver>
export type ResolvedSnmpDriver = Resolved<SnmpDriver>
export type ResolvedSnmpUpsDriver = Resolved<SnmpUpsDriver>
export type ResolvedNutDriver = Resolved<NutDriver>
export type ResolvedSrtDriver = Resolved<SrtDriver>
export type ResolvedSnmpV3 = Resolved<SnmpV3>
