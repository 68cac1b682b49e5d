// The loader's one rule (the binding beside its module, in the sources and in dist/) and its one-line errors: in the
// source tree the fix is to build the binding, in a release it is to install the release again.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { BINDING_PATH, loadSrtBindingAt, SrtBindingError } from '../../drivers/srt/native.ts'
import { DriverUnavailableError } from '../../drivers/types.ts'

function messageOf(fn: () => unknown): string {
	try {
		fn()
	} catch (err) {
		expect(err).toBeInstanceOf(SrtBindingError)
		expect(err).toBeInstanceOf(DriverUnavailableError)
		return (err as Error).message
	}
	throw new Error('expected the loader to throw')
}

describe('where the SRT binding is looked for', () => {
	it('is native/build/Release/sigpath_srt.node beside the loader, where node-gyp builds it in the sources', () => {
		expect(BINDING_PATH).toBe(
			fileURLToPath(new URL('../../drivers/srt/native/build/Release/sigpath_srt.node', import.meta.url)),
		)
	})

	it('a missing binding in the sources: one line naming the path and the build command', () => {
		const m = messageOf(() => loadSrtBindingAt('/nonexistent/sigpath_srt.node', false))
		expect(m).not.toContain('\n')
		expect(m).toMatch(/^the SRT binding is not built \(\/nonexistent\/sigpath_srt\.node is missing\): build it with/)
		expect(m).toMatch(/node-gyp rebuild -C drivers\/srt\/native.*libsrt-openssl-dev/)
	})

	it('a missing binding in a release: one line naming the path and the reinstall', () => {
		const m = messageOf(() => loadSrtBindingAt('/opt/sigpath/current/dist/x/sigpath_srt.node', true))
		expect(m).not.toContain('\n')
		expect(m).toMatch(/sigpath_srt\.node is missing\): this release was built without it: .*systemd\/install\.sh/)
	})

	it('a file that is not a binding: one line with the loader’s reason', () => {
		const dir = mkdtempSync(join(tmpdir(), 'sigpath-binding-'))
		try {
			const path = join(dir, 'sigpath_srt.node')
			writeFileSync(path, Buffer.alloc(4096, 'x')) // not an ELF object
			const m = messageOf(() => loadSrtBindingAt(path, false))
			expect(m).not.toContain('\n')
			expect(m).toMatch(/^the SRT binding .*sigpath_srt\.node does not load \(.*invalid ELF header.*\): build it with/)
		} finally {
			rmSync(dir, { recursive: true, force: true })
		}
	})
})
