// The logger: pino, JSON lines to stdout (journald keeps them), secrets redacted by key wherever they appear.
import { pino, type Logger, type LevelWithSilent } from 'pino'
import { PINO_REDACT_PATHS, REDACTED } from './domain/secrets.ts'

export type { Logger }

export function createLogger(level: LevelWithSilent = 'info', destination?: pino.DestinationStream): Logger {
	return pino(
		{
			level,
			base: { service: 'sigpath' },
			redact: { paths: PINO_REDACT_PATHS, censor: REDACTED },
			timestamp: pino.stdTimeFunctions.isoTime,
		},
		destination,
	)
}

/** A logger that writes nothing: for tests and for CLI commands whose stdout belongs to their output. */
export const silentLogger: Logger = pino({ level: 'silent' })
