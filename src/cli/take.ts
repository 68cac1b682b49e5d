// `sigpath take FILE ROUTER OUTPUT INPUT`: route one crosspoint and wait for the router's own tally (docs/contract.md §1).
// 0 confirmed; 1 refused or unconfirmed; 2 bad arguments (unknown device, port out of range: nothing is sent).
// OUTPUT and INPUT are 1-based, as labelled on the router.
import { createRouter, isRouterDevice, protocolPortLimit } from '../../drivers/router/index.ts'
import { RouterError } from '../../drivers/router/types.ts'
import { loadConfigFile } from '../domain/load.ts'
import { silentLogger } from '../log.ts'
import { parse, UsageError, type Command } from './io.ts'

const USAGE = 'sigpath take FILE ROUTER OUTPUT INPUT [--timeout SECONDS] [--json]'

function port(text: string, what: string): number {
	// any number of digits: a port past the router or its protocol is refused below, naming the limit
	if (!/^\d{1,15}$/.test(text) || Number(text) < 1)
		throw new UsageError(`${what} must be a router port number from 1 (as labelled on the router), got "${text}"`)
	return Number(text)
}

export const command: Command = async (argv, io) => {
	const { values, positionals } = parse(argv, { timeout: { type: 'string' }, json: { type: 'boolean' } }, USAGE)
	if (positionals.length !== 4) throw new UsageError(`expected FILE ROUTER OUTPUT INPUT\nusage: ${USAGE}`)
	const [file, id, outText, inText] = positionals as [string, string, string, string]
	const seconds = values.timeout === undefined ? 5 : Number(values.timeout)
	if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 600)
		throw new UsageError(`--timeout must be a number of seconds between 0 and 600, got "${values.timeout}"`)
	const output = port(outText, 'OUTPUT')
	const input = port(inText, 'INPUT')
	const config = loadConfigFile(file)
	const device = config.devices.find((d) => d.id === id)
	if (!device) throw new UsageError(`unknown device "${id}" (devices: ${config.devices.map((d) => d.id).join(', ')})`)
	if (!isRouterDevice(device))
		throw new UsageError(`device "${id}" is not a router with a driver (videohub or swp08): nothing to take`)
	// what the protocol cannot carry is refused before connecting: nothing is sent (docs/contract.md §1)
	const limit = protocolPortLimit(device)
	for (const [what, n] of [
		['output', output],
		['input', input],
	] as const)
		if (limit && n > limit.ports)
			throw new UsageError(
				`${what} ${n} is beyond what ${limit.protocol} can carry (ports 1-${limit.ports}): nothing was sent`,
			)
	if (device.size && output > device.size.outputs)
		throw new UsageError(
			`output ${output} is outside router "${id}" (outputs 1-${device.size.outputs}): nothing was sent`,
		)
	if (device.size && input > device.size.inputs)
		throw new UsageError(`input ${input} is outside router "${id}" (inputs 1-${device.size.inputs}): nothing was sent`)

	const router = createRouter(
		device,
		{ log: silentLogger },
		{
			takeTimeoutMs: Math.min(seconds * 1000, 5000),
			connectTimeoutMs: seconds * 1000,
		},
	)
	router.start()
	try {
		await router.whenSynced(seconds * 1000)
		const r = await router.take(output, input)
		const ms = (r.confirmedAt - r.sentAt).toFixed(1)
		if (values.json) io.out(`${JSON.stringify({ device: id, ok: true, ...r }, null, 2)}\n`)
		else
			io.out(
				r.already
					? `${id}: output ${output} already on input ${input} (router tally); nothing sent\n`
					: `${id}: output ${output} on input ${input}, confirmed by the router's tally in ${ms} ms\n`,
			)
		return 0
	} catch (err) {
		if (!(err instanceof RouterError)) throw err
		// the router reported its size and the port is past it: the take was refused before anything was sent
		if (err.code === 'out-of-range') throw new UsageError(err.message)
		if (values.json)
			io.out(
				`${JSON.stringify({ device: id, ok: false, output, input, code: err.code, error: err.message }, null, 2)}\n`,
			)
		io.err(`sigpath take: ${err.message}\n`)
		return 1
	} finally {
		await router.stop()
	}
}
