// The FACS tests' rig: a temporary directory, an 8x8 Videohub simulator whose QC output already shows something, and
// the daemon with its status server (the CLI asks for a tour over HTTP), started from a config file the test writes.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { VideohubSim } from '../../drivers/videohub/sim.ts'
import type { CliIo } from '../../src/cli/io.ts'
import { loadConfigFile } from '../../src/domain/load.ts'
import { silentLogger } from '../../src/log.ts'
import { Daemon } from '../../src/runtime/daemon.ts'
import { StatusServer } from '../../src/status/server.ts'
import { waitFor } from '../drivers/srt/helpers.ts'

export interface FacsRig {
	/** for the test's config files and the journal; removed by `close` */
	readonly dir: string
	/** output 1 (the program) on input 1; output 8 (the QC output) on input 7, what the QC monitor showed before */
	readonly router: VideohubSim
	/** what `close` stops; a test that stops either itself clears it */
	daemon: Daemon | undefined
	server: StatusServer | undefined
	/** Starts the daemon on the config FILE and, once it is ready, the status server its http section names. */
	serve(file: string, firstSyncTimeoutMs: number): Promise<{ daemon: Daemon; url: string }>
	close(): Promise<void>
}

export async function openFacsRig(): Promise<FacsRig> {
	const dir = mkdtempSync(join(tmpdir(), 'sigpath-facs-'))
	const router = new VideohubSim({ inputs: 8, outputs: 8, routing: [0, 1, 2, 3, 4, 5, 6, 6] })
	await router.start({ host: '127.0.0.1', port: 0 })
	const rig: FacsRig = {
		dir,
		router,
		daemon: undefined,
		server: undefined,
		async serve(file, firstSyncTimeoutMs) {
			const config = loadConfigFile(file)
			// kept on the rig before it starts: a daemon that never syncs is still stopped by `close`
			const daemon = (rig.daemon = new Daemon({ config, log: silentLogger, firstSyncTimeoutMs }))
			await daemon.start()
			await waitFor('the first sync', () => daemon.isReady(), 8000)
			const { listen, token } = config.http!
			const server = (rig.server = new StatusServer({ daemon, listen, token, log: silentLogger }))
			await server.start()
			return { daemon, url: server.address!.url }
		},
		async close() {
			await rig.server?.stop()
			rig.server = undefined
			await rig.daemon?.stop()
			rig.daemon = undefined
			await router.stop()
			rmSync(dir, { recursive: true, force: true })
		},
	}
	return rig
}

/** A CLI's streams, kept to look at after the command returns. */
export function captureIo(): { io: CliIo; out: () => string; err: () => string } {
	let out = ''
	let err = ''
	return {
		io: { out: (t: string) => void (out += t), err: (t: string) => void (err += t) },
		out: () => out,
		err: () => err,
	}
}
