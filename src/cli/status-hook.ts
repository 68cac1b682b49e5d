// Starts the status endpoint next to a daemon (contract §6), returning its base URL, or undefined while the status
// server is not part of this build.
import type { Logger } from 'pino'
import type { Config } from '../domain/config.ts'
import type { Daemon } from '../runtime/daemon.ts'

export async function startStatus(_daemon: Daemon, _config: Config, _log: Logger): Promise<string | undefined> {
	return undefined
}
