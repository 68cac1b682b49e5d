// What stops the lab or a rehearsal from starting, in one line for the operator (no stack trace): a peer that is
// not installed, a port another process holds.
export class LabError extends Error {
	override name = 'LabError'
}
