// `sigpath probe FILE DEVICE [--seconds N]`: connect to one device, print its state as JSON, disconnect.
// 0 reachable; 1 not (the state is still printed, connected: false); 2 bad arguments (docs/contract.md §1).
//
// Each driver folder provides `probe.ts` exporting `probe(device, options): Promise<ProbeResult>`.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Device } from '../domain/config.ts'
import type { DriverType } from '../domain/drivers.ts'
import { loadConfigFile } from '../domain/load.ts'
import type { Resolved } from '../domain/primitives.ts'
import { resolveSecrets, SecretError } from '../domain/secrets.ts'
import { silentLogger } from '../log.ts'
import { DriverUnavailableError, type ProbeOptions, type ProbeResult } from '../../drivers/types.ts'
import { EXIT, parse, UsageError, type Command } from './io.ts'

const USAGE = 'sigpath probe FILE DEVICE [--seconds N]'

/** driver type -> the driver folder that probes it */
const PROBE_FOLDER: Record<DriverType, string> = {
	videohub: 'videohub',
	swp08: 'swp08',
	'snmp-ups': 'ups',
	nut: 'nut',
	megatec: 'megatec',
	snmp: 'snmp',
	srt: 'srt',
}

type ProbeModule = { probe: (device: Resolved<Device>, options: ProbeOptions) => Promise<ProbeResult> }

export const command: Command = async (argv, io) => {
	const { values, positionals } = parse(argv, { seconds: { type: 'string' } }, USAGE)
	if (positionals.length !== 2) throw new UsageError(`expected FILE and DEVICE\nusage: ${USAGE}`)
	const seconds = values.seconds === undefined ? 3 : Number(values.seconds)
	if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600)
		throw new UsageError(`--seconds must be a number of seconds between 0 and 3600, got "${values.seconds}"`)
	const config = loadConfigFile(positionals[0]!)
	const id = positionals[1]!
	const device = config.devices.find((d) => d.id === id)
	if (!device) throw new UsageError(`unknown device "${id}" (devices: ${config.devices.map((d) => d.id).join(', ')})`)
	if (!device.driver) throw new UsageError(`device "${id}" has no driver (inventory only): nothing to probe`)
	const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js'
	const url = new URL(`../../drivers/${PROBE_FOLDER[device.driver.type]}/probe${ext}`, import.meta.url)
	if (!existsSync(fileURLToPath(url)))
		throw new UsageError(`probing ${device.driver.type} devices is not available yet`)
	let resolved: Resolved<Device>
	try {
		resolved = resolveSecrets(device, process.env)
	} catch (err) {
		if (!(err instanceof SecretError)) throw err
		// a secret the config names is not in the environment: as wrong as a bad config (what `sigpath run` says too)
		io.err(`${positionals[0]!}: ${err.message}\n`)
		return EXIT.config
	}
	const mod = (await import(url.href)) as ProbeModule
	let result: ProbeResult
	try {
		result = await mod.probe(resolved, { seconds, ctx: { log: silentLogger } })
	} catch (err) {
		if (!(err instanceof DriverUnavailableError)) throw err
		// the driver cannot run on this machine (the SRT binding missing): one line with the fix, not a device state
		io.err(`sigpath probe: ${id}: ${err.message}\n`)
		return EXIT.fail
	}
	io.out(`${JSON.stringify(result, null, 2)}\n`)
	return result.connected ? 0 : 1
}
