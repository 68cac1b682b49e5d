// sigpath's version, read from package.json: the one place it is written. Found by walking up from this file, so it
// holds from the sources (src/) and from the built release (dist/src/) alike.
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

function readVersion(): string {
	let dir = dirname(fileURLToPath(import.meta.url))
	for (;;) {
		const file = join(dir, 'package.json')
		if (existsSync(file)) {
			const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown }
			if (pkg.name === 'sigpath' && typeof pkg.version === 'string') return pkg.version
		}
		const up = dirname(dir)
		if (up === dir) return '0.0.0-unknown'
		dir = up
	}
}

export const VERSION = readVersion()
