#!/usr/bin/env node
// The project's own machine setup. Runs as `preinstall` (npm ci) and `pretest` (npm test), and from .ci/run.
// It must stay dependency-free: at preinstall time node_modules does not exist yet.
//
//   --runtime  what `npm ci` needs to build and run the daemon (the libsrt binding's headers, pkg-config)
//   --test     what the test suite needs: the real peers listed in docs/operations.md, and Chromium
//
// As root, missing Debian packages are installed (apt-get update first, once). As anyone else, the exact
// missing packages and the command that installs them are printed, and the script fails.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'

// node-gyp builds the libsrt binding (drivers/srt/native) during `npm ci`: a C++ compiler, make and python3 (gyp);
// socat: the lab's serial devices (SW-P-08 over RS-422, Megatec UPS) run over a pty pair;
// mosquitto: the lab's MQTT broker (MQTT v5, passwords, the production ACL), mosquitto-clients: the panel lines the
// README and the lab print (mosquitto_pub); ffmpeg: the content checks (black, freeze, silence) and FACS decode the
// relayed streams with it
const RUNTIME = [
	'pkg-config',
	'libsrt-openssl-dev',
	'g++',
	'make',
	'python3',
	'socat',
	'mosquitto',
	'mosquitto-clients',
	'ffmpeg',
]
/** tools that count as present when their command is on the PATH, whoever installed them (pyenv, a toolchain) */
const COMMANDS = { 'g++': 'g++', make: 'make', python3: 'python3', 'pkg-config': 'pkg-config', ffmpeg: 'ffmpeg' }
const TEST = [
	...RUNTIME,
	'srt-tools',
	'ffmpeg',
	'multicat',
	'snmpsim',
	'snmp',
	'snmpd',
	'nut-server',
	'nut-client',
	'mosquitto',
	'mosquitto-clients',
	// controller redundancy (docs/contract.md §9): the tests and `sigpath lab --pair` run their own etcd on loopback
	'etcd-server',
	'socat',
	'rist-tools',
	'sqlite3',
	'chromium',
	'systemd',
]

const args = new Set(process.argv.slice(2))
const wanted = [...new Set(args.has('--test') ? TEST : RUNTIME)]

if (process.env.SIGPATH_SKIP_SETUP === '1') process.exit(0)
if (process.platform !== 'linux' || !existsSync('/usr/bin/dpkg-query')) {
	console.error(`sigpath setup: not a Debian machine; make sure these are installed: ${wanted.join(' ')}`)
	process.exit(0)
}

function installed(pkg) {
	const cmd = COMMANDS[pkg]
	if (cmd !== undefined && spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0) return true
	const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' })
	return r.status === 0 && r.stdout.includes('install ok installed')
}

const missing = wanted.filter((p) => !installed(p))
if (missing.length === 0) process.exit(0)

const cmd = `apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing.join(' ')}`
if (typeof process.getuid === 'function' && process.getuid() !== 0) {
	console.error(`sigpath setup: missing Debian packages: ${missing.join(' ')}`)
	console.error(`install them with:\n  sudo sh -c '${cmd}'`)
	process.exit(1)
}
console.error(`sigpath setup: installing ${missing.join(' ')}`)
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
try {
	execFileSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'], env })
	execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
		stdio: ['ignore', 'ignore', 'inherit'],
		env,
	})
} catch (err) {
	console.error(`sigpath setup: apt-get failed (${err.message}); run: ${cmd}`)
	process.exit(1)
}
